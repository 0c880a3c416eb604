"""An installed Breadcrumbs works outside the checkout: the wheel carries the flows, the
templates and the sample, and installs no top-level `flows` module (pyproject.toml)."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import venv
from collections.abc import Iterator
from pathlib import Path

import pytest

CHECKOUT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A fresh venv outside the checkout with the wheel built from it installed.

    The wheel is built and installed for real; its dependencies are borrowed from the
    suite's own venv (a path entry after the new venv's site-packages) so the test does not
    spend minutes reinstalling Prefect."""
    root = tmp_path_factory.mktemp("installed")
    wheels = root / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(wheels), "."],
        cwd=CHECKOUT,
        check=True,
    )
    env_dir = root / "venv"
    venv.create(env_dir, with_pip=False)
    python = env_dir / "bin" / "python"
    site = Path(
        subprocess.check_output(
            [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            text=True,
        ).strip()
    )
    (site / "borrowed-deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    wheel = next(wheels.glob("breadcrumbs-*.whl"))
    pip = [sys.executable, "-m", "pip", "--python", str(python)]
    subprocess.run([*pip, "install", "--no-deps", "--quiet", str(wheel)], check=True)
    yield env_dir


def run(env_dir: Path, *args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("BREADCRUMBS_")}
    clean.pop("PYTHONPATH", None)
    clean.update(env)
    return subprocess.run(
        [str(env_dir / "bin" / args[0]), *args[1:]],
        cwd=cwd,
        env=clean,
        capture_output=True,
        text=True,
        timeout=300,
    )


def site_packages(env_dir: Path) -> Path:
    return next((env_dir / "lib").glob("python3*/site-packages"))


def test_the_wheel_installs_the_package_and_no_top_level_flows(installed: Path) -> None:
    """site-packages holds breadcrumbs with its flows, templates and sample; no `flows`."""
    site = site_packages(installed)
    assert not (site / "flows").exists()
    assert not list(site.glob("flows*.py"))
    package = site / "breadcrumbs"
    assert (package / "flows" / "follow_up_flow.py").is_file()
    assert (package / "templates" / "thank-you.md.j2").is_file()
    assert (package / "sample" / "contacts.csv").is_file()
    assert (package / "profile_template.toml").is_file()


def test_the_installed_command_runs_the_sample_outside_the_checkout(
    installed: Path, tmp_path: Path
) -> None:
    """--help, sync --sample and follow-up work from any folder, into a workspace of its own."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    home = tmp_path / "home"
    ws = tmp_path / "ws"
    helped = run(installed, "breadcrumbs", "--help", cwd=elsewhere, HOME=str(home))
    assert helped.returncode == 0, helped.stderr
    assert "follow-up" in helped.stdout
    imported = run(
        installed,
        "python",
        "-c",
        "import breadcrumbs, breadcrumbs.settings as s; print(breadcrumbs.__file__);"
        " print(s.default_home()); print(s.TEMPLATES_DIR)",
        cwd=elsewhere,
        HOME=str(home),
    )
    assert imported.returncode == 0, imported.stderr
    module, default_home, templates = imported.stdout.split()
    assert Path(module).is_relative_to(installed)
    assert Path(default_home).is_relative_to(home)  # the platform's user data folder
    assert Path(templates).is_relative_to(installed)

    synced = run(installed, "breadcrumbs", "sync", "--sample", "-w", str(ws), cwd=elsewhere)
    assert synced.returncode == 0, synced.stdout + synced.stderr
    followed = run(installed, "breadcrumbs", "follow-up", "--no-sync", "-w", str(ws), cwd=elsewhere)
    assert followed.returncode == 0, followed.stdout + followed.stderr
    assert len(list((ws / "outbox").glob("*.eml"))) >= 5


@pytest.mark.prefect
@pytest.mark.usefixtures("prefect_server")
def test_the_installed_command_runs_a_flow_against_a_prefect_server(
    installed: Path, tmp_path: Path
) -> None:
    """With a server configured, the installed CLI runs follow-up as a flow from the wheel."""
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL

    api = str(PREFECT_API_URL.value())
    with get_client(sync_client=True) as client:
        before = {r.id for r in client.read_flow_runs()}
    ws = tmp_path / "ws"
    synced = run(installed, "breadcrumbs", "sync", "--sample", "-w", str(ws), cwd=tmp_path)
    assert synced.returncode == 0, synced.stdout + synced.stderr
    followed = run(
        installed,
        "breadcrumbs",
        "follow-up",
        "--prefect",
        "--no-sync",
        "-w",
        str(ws),
        cwd=tmp_path,
        PREFECT_API_URL=api,
    )
    assert followed.returncode == 0, followed.stdout + followed.stderr
    assert list((ws / "outbox").glob("*.eml"))

    with get_client(sync_client=True) as client:
        runs = [r for r in client.read_flow_runs() if r.id not in before]
    assert runs and all(r.state is not None and r.state.is_completed() for r in runs)
