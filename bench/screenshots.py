"""`make screenshots`: what a person sees in the Prefect UI, taken from the code as it is.

A Prefect server of its own (its UI told which port its API is on: PREFECT_UI_API_URL), the
bundled sample run as the follow-up flow, then headless Chromium (Debian's `chromium`) on
the run's page (its graph and artifacts), on the table of emails, and on its task
runs. Writes docs/ui-*.png.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from tests.prefect_stack import BIN, ROOT, prefect_server

DOCS = ROOT / "docs"
CHROMIUM = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    # The UI is a single-page app: give it virtual time to fetch and render before the shot.
    "--virtual-time-budget=20000",
    "--window-size=1400,1000",
]


def shoot(url: str, target: Path) -> None:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        raise SystemExit("headless Chromium is missing: sudo apt-get install -y chromium")
    subprocess.run(
        [browser, *CHROMIUM, f"--screenshot={target}", url],
        check=True,
        capture_output=True,
        timeout=180,
    )
    print(f"wrote {target.relative_to(ROOT)} from {url}")


def main() -> int:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterParentTaskRunId
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with (
        tempfile.TemporaryDirectory(prefix="breadcrumbs-shots-") as tmp,
        prefect_server(Path(tmp) / "prefect") as env,
    ):
        ws = Path(tmp) / "jordan"
        run_env = {**env, "PREFECT_LOGGING_LEVEL": "INFO"}
        for args in (["sync", "--sample"], ["follow-up", "--prefect"]):
            subprocess.run(
                [str(BIN / "breadcrumbs"), *args, "--workspace", str(ws)],
                env=run_env,
                check=True,
                capture_output=True,
            )
        ui = env["PREFECT_API_URL"].removesuffix("/api")
        with (
            temporary_settings(updates={PREFECT_API_URL: env["PREFECT_API_URL"]}),
            get_client(sync_client=True) as client,
        ):
            top = FlowRunFilter(parent_task_run_id=FlowRunFilterParentTaskRunId(is_null_=True))
            runs = client.read_flow_runs(flow_run_filter=top)
            (run,) = [r for r in runs if r.name.startswith("follow-up")]
            emails = next(
                a
                for a in client.read_artifacts()
                if a.flow_run_id == run.id and (a.key or "").startswith("follow-up-emails")
            )
        # The V2 UI (under /v2) honours ?tab= on first load; the V1 UI falls back to Logs.
        page = f"{ui}/v2/runs/flow-run/{run.id}"
        shoot(f"{page}?tab=Artifacts", DOCS / "ui-follow-up-run.png")
        shoot(f"{ui}/v2/artifacts/artifact/{emails.id}", DOCS / "ui-follow-up-emails.png")
        shoot(f"{page}?tab=TaskRuns", DOCS / "ui-follow-up-graph.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
