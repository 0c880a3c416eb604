"""A throwaway PostgreSQL for `make scale-check`: Debian's package, run as an unprivileged
user on a loopback port, its data in a temporary folder, stopped (and deleted) at the end."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.prefect_stack import free_port

DEBIAN_BINARIES = Path("/usr/lib/postgresql")


def postgres_bin() -> Path:
    """The newest installed server's bin folder; installs Debian's `postgresql` if none is."""
    found = sorted(DEBIAN_BINARIES.glob("*/bin/pg_ctl"), key=lambda p: int(p.parent.parent.name))
    if not found:
        if os.geteuid() != 0:
            raise SystemExit("PostgreSQL is missing: sudo apt-get install -y postgresql")
        print("installing PostgreSQL from Debian's packages...", flush=True)
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update"], check=True, env=env)
        subprocess.run(["apt-get", "install", "-y", "postgresql"], check=True, env=env)
        return postgres_bin()
    return found[-1].parent


def _as_user(args: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: as root, run it as Debian's `postgres` user."""
    return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else args


@contextmanager
def postgres(folder: Path) -> Iterator[str]:
    """A running server with a `prefect` database; yields its SQLAlchemy asyncpg URL."""
    bin_dir = postgres_bin()
    data = folder / "pgdata"
    data.mkdir(parents=True)
    if os.geteuid() == 0:
        # The `postgres` user must reach its folder through ours (mkdtemp makes them 0700).
        for parent in (folder, *folder.parents):
            if parent == Path(tempfile.gettempdir()):
                break
            parent.chmod(parent.stat().st_mode | 0o055)
        shutil.chown(data, "postgres", "postgres")
    port = free_port()
    subprocess.run(
        _as_user([str(bin_dir / "initdb"), "-D", str(data), "-U", "prefect", "--auth=trust"]),
        check=True,
        capture_output=True,
    )
    options = f"-p {port} -k {data} -c listen_addresses=127.0.0.1 -c max_connections=200"
    ctl = [str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(data / "server.log")]
    subprocess.run(_as_user([*ctl, "-o", options, "-w", "start"]), check=True, capture_output=True)
    try:
        createdb = [str(bin_dir / "createdb"), "-h", "127.0.0.1", "-p", str(port)]
        subprocess.run(
            _as_user([*createdb, "-U", "prefect", "prefect"]),
            check=True,
            capture_output=True,
        )
        yield f"postgresql+asyncpg://prefect@127.0.0.1:{port}/prefect"
    finally:
        subprocess.run(_as_user([*ctl, "-m", "fast", "-w", "stop"]), capture_output=True)
