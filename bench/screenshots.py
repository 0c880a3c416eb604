"""`make screenshots`: what a person sees in the Prefect UI, taken from the code as it is.

A Prefect server of its own (its UI told which port its API is on: PREFECT_UI_API_URL), the
bundled sample run as the follow-up and monthly-digest flows, then headless Chromium
(Debian's `chromium`) on each run's page (its graph and artifacts), and on the digest's
summary and recipients. Writes docs/ui-*.png.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from breadcrumbs.flows.artifacts import artifact_key

from breadcrumbs.settings import Workspace
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
        for args in (["sync", "--sample"], ["follow-up", "--prefect"], ["digest", "--prefect"]):
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
            runs = {r.name: r for r in client.read_flow_runs(flow_run_filter=top)}
            digest = runs["monthly-digest · jordan"]
            found = {a.key: a for a in client.read_artifacts() if a.flow_run_id == digest.id}
        ws_key = Workspace(ws.resolve())
        # The V2 UI (under /v2) honours ?tab= on first load; the V1 UI falls back to Logs.
        for name, run in (("digest", digest), ("follow-up", runs["follow-up · jordan"])):
            shoot(f"{ui}/v2/runs/flow-run/{run.id}?tab=Artifacts", DOCS / f"ui-{name}-run.png")
        for what in ("summary", "recipients"):
            artifact = found[artifact_key(ws_key, f"monthly-digest-{what}")]
            shoot(f"{ui}/v2/artifacts/artifact/{artifact.id}", DOCS / f"ui-digest-{what}.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
