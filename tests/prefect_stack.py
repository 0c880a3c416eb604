"""A real Prefect stack as separate processes: a server on a free loopback port, work pools,
workers, `breadcrumbs serve`. Used by the end-to-end tests and by `make scale-check`.

Every process starts in its own session (process group) and is stopped with its whole
group in a `finally`, so a failing test never leaves a server or a worker running. Loop
intervals are tuned down so a scheduled run is made and picked up within seconds, not the
default minute.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO, Any
from uuid import UUID

import requests

BIN = Path(sys.executable).parent
PREFECT = str(BIN / "prefect")
ROOT = Path(__file__).resolve().parent.parent

# Prefect 3.9's names (`prefect config view --show-defaults`): the scheduler looks at
# deployments every 5 s instead of 60 (a changed deployment is looked at within 5 s anyway),
# and a worker or `serve` asks for runs every 2 s instead of 10.
FAST_LOOPS = {
    "PREFECT_SERVER_SERVICES_SCHEDULER_LOOP_SECONDS": "5",
    "PREFECT_SERVER_SERVICES_SCHEDULER_RECENT_DEPLOYMENTS_LOOP_SECONDS": "2",
    "PREFECT_WORKER_QUERY_SECONDS": "2",
    "PREFECT_WORKER_PREFETCH_SECONDS": "10",
    "PREFECT_RUNNER_POLL_FREQUENCY": "2",
}
FINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def base_env(home: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """An environment of our own: Prefect's home in `home`, offline, fast loops."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(
        PREFECT_HOME=str(home),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        PREFECT_LOGGING_LEVEL="WARNING",
        PREFECT_SERVER_EPHEMERAL_ENABLED="false",
        **FAST_LOOPS,
    )
    env.update(extra or {})
    return env


@contextmanager
def process(args: list[str], env: Mapping[str, str], log: Path, cwd: Path = ROOT) -> Iterator[Any]:
    """Start a process in its own group; stop the whole group (TERM, then KILL) at exit."""
    log.parent.mkdir(parents=True, exist_ok=True)
    handle: IO[bytes] = log.open("ab")
    proc = subprocess.Popen(
        args,
        env=dict(env),
        cwd=cwd,
        stdout=handle,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        yield proc
    finally:
        stop_group(proc)
        handle.close()


def stop_group(proc: subprocess.Popen[bytes], grace: float = 20) -> None:
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        with suppress(subprocess.TimeoutExpired):
            proc.wait(grace)
    # Children of a process that exited on TERM (a flow run) may still be alive.
    with suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def wait_until(check: Any, timeout: float, what: str, every: float = 0.5) -> Any:
    """Poll `check()` until it returns something true; fail with `what` after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up after {timeout:.0f} s waiting for {what}")
        time.sleep(every)


@contextmanager
def prefect_server(
    home: Path, extra_env: Mapping[str, str] | None = None, timeout: float = 240
) -> Iterator[dict[str, str]]:
    """`prefect server start` on a free loopback port; yields the env that talks to it.

    PREFECT_UI_API_URL matches the port: otherwise the UI calls the API on 4200."""
    port = free_port()
    api = f"http://127.0.0.1:{port}/api"
    env = base_env(home, {"PREFECT_API_URL": api, "PREFECT_UI_API_URL": api, **(extra_env or {})})
    args = [PREFECT, "server", "start", "--host", "127.0.0.1", "--port", str(port)]
    with process(args, env, home / "server.log") as proc:

        def healthy() -> bool:
            if proc.poll() is not None:
                log = (home / "server.log").read_text(errors="replace")[-3000:]
                raise AssertionError(f"the Prefect server exited:\n{log}")
            try:
                return requests.get(f"{api}/health", timeout=2).ok
            except requests.RequestException:
                return False

        wait_until(healthy, timeout, "the Prefect server to answer")
        yield env


def prefect(env: Mapping[str, str], *args: str, timeout: float = 240) -> str:
    """Run one `prefect` command against the server; fail with its output if it fails."""
    done = subprocess.run(
        [PREFECT, "--no-prompt", *args],
        cwd=ROOT,
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert done.returncode == 0, f"prefect {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@contextmanager
def worker(
    env: Mapping[str, str], pool: str, log: Path, name: str, queue: str | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """A real `prefect worker start` on the pool (and only its queue, when given)."""
    args = [PREFECT, "worker", "start", "--pool", pool, "--name", name, "--type", "process"]
    if queue:
        args += ["--work-queue", queue]
    with process(args, env, log) as proc:
        yield proc


def wait_for_run(client: Any, run_id: UUID, timeout: float = 150) -> Any:
    """The flow run once it has reached a final state."""

    def final() -> Any:
        run = client.read_flow_run(run_id)
        return run if run.state and run.state.type.value in FINAL else None

    return wait_until(final, timeout, f"flow run {run_id} to finish", every=1)
