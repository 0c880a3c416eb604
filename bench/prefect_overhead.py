"""What a local Prefect server adds to the README's path and to the monthly digest, at 200
people and at 10,000.

The overhead is (the path run as Prefect flows against a running `prefect server start`)
minus (the same path with no server), each at both sizes, all in this command. The goal is
that it is flat: per-email work in Prefect (walking task arguments and results, big
artifacts) shows as overhead growing with the batch. Two interleaved rounds, and each figure
is the least of its two (load from others only ever adds). CPU seconds include the server's;
an idle server burns CPU too (its loop services), so its idle rate times the run's span is
reported and taken off in a third reading. The fixed costs (`import prefect`, one flow run,
one task run) are measured on their own.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from bench.measure import Figure, Results, last_json, run, tree_cpu
from bench.readme import TODAY, ReadmeRun, make_network, make_workspace, outbox_files, readme_path

SMALL = 200
TASKS = 20
ROUNDS = 2
IDLE_SECONDS = 20.0  # how long the idle server is watched for its own CPU rate

# In-process timings of Prefect's fixed costs against the running server, printed as JSON.
FIXED = f"""
import json, time
start = time.perf_counter()
import prefect
from prefect import flow, task
imported = time.perf_counter() - start

@task
def nothing(i: int) -> int:
    return i

@flow
def empty() -> None:
    return None

@flow
def tasks(n: int) -> float:
    start = time.perf_counter()  # inside the flow: the task runs alone, not the flow's cost
    for i in range(n):
        nothing(i)
    return (time.perf_counter() - start) / n

empty()  # the first run also sets up the client: not what a later run costs
start = time.perf_counter(); empty(); one_flow = time.perf_counter() - start
per_task = min(tasks({TASKS}) for _ in range(3))  # the least of three: load only ever adds
print(json.dumps({{"import": imported, "flow": one_flow, "task": per_task}}))
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(home: Path, env: dict[str, str], bin_dir: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    url = f"http://127.0.0.1:{port}/api"
    log = (home / "server.log").open("wb")
    server = subprocess.Popen(
        [str(bin_dir / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        env={**env, "PREFECT_HOME": str(home), "PREFECT_UI_API_URL": url},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"prefect server exited; see {home / 'server.log'}")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as reply:
                if reply.status == 200:
                    return server, url
        except OSError:
            time.sleep(1)
    server.terminate()
    raise RuntimeError("prefect server did not answer within 180 s")


def digest_network(folder: Path, people: int) -> Path:
    """`people` met a month ago, past the quiet period: every one gets this month's update."""
    network = make_network(folder, people)
    talks = network / "interactions.csv"
    talks.write_text(
        talks.read_text(encoding="utf-8").replace(
            (TODAY - timedelta(days=1)).isoformat(), (TODAY - timedelta(days=30)).isoformat()
        ),
        encoding="utf-8",
    )
    return network


def digest_path(
    crumbs: str, network: Path, ws: Path, env: dict[str, str], prefect: bool
) -> ReadmeRun:
    """`sync`, then `breadcrumbs digest` (its own sync skips the unchanged sheet)."""
    flag = "--prefect" if prefect else "--no-prefect"
    sync = run([crumbs, "sync", str(network), "-w", str(ws), flag], ws, env)
    digest = run([crumbs, "digest", "-w", str(ws), flag], ws, env)
    return ReadmeRun(sync, digest)


PATHS = {
    "follow-up": ("sync + follow-up", make_network, readme_path),
    "digest": ("sync + digest", digest_network, digest_path),
}


@dataclass
class Least:
    """The least of each figure over the rounds, for one path at one size."""

    plain_seconds: float = float("inf")
    plain_cpu: float = float("inf")
    flow_seconds: float = float("inf")
    flow_cpu: float = float("inf")  # the flow processes' own
    server_cpu: float = float("inf")  # the server's over the same span
    idle_cpu: float = float("inf")  # what the server burns idle over that span
    peak_mib: float = 0.0

    def keep(self, plain: ReadmeRun, flows: ReadmeRun, server_cpu: float, idle: float) -> None:
        self.plain_seconds = min(self.plain_seconds, plain.seconds)
        self.plain_cpu = min(self.plain_cpu, plain.cpu)
        self.flow_seconds = min(self.flow_seconds, flows.seconds)
        self.flow_cpu = min(self.flow_cpu, flows.cpu)
        self.server_cpu = min(self.server_cpu, server_cpu)
        self.idle_cpu = min(self.idle_cpu, idle * flows.seconds)
        self.peak_mib = max(self.peak_mib, flows.peak_mib)

    @property
    def overhead(self) -> dict[str, float]:
        cpu = self.flow_cpu + self.server_cpu - self.plain_cpu
        return {
            "wall": self.flow_seconds - self.plain_seconds,
            "CPU": cpu,
            "CPU less the idle server's": cpu - self.idle_cpu,
        }


def idle_rate(pid: int) -> float:
    """The idle server's own CPU seconds per wall second."""
    before, start = tree_cpu(pid), time.perf_counter()
    time.sleep(IDLE_SECONDS)
    return (tree_cpu(pid) - before) / (time.perf_counter() - start)


def case(results: Results, scratch: Path, people: int, bin_dir: Path, env: dict[str, str]) -> None:
    home = scratch / "prefect-home"
    home.mkdir()
    server, url = start_server(home, env, bin_dir)
    try:
        served = {**env, "PREFECT_HOME": str(home), "PREFECT_API_URL": url}
        crumbs = str(bin_dir / "breadcrumbs")
        fixed = last_json(run([sys.executable, "-c", FIXED], scratch, served).stdout)
        bare = run([sys.executable, "-c", "pass"], scratch, env).seconds
        results.add(
            Figure("prefect", "import prefect", fixed["import"], "s", "python -c pass", bare)
        )
        results.add(Figure("prefect", "one empty flow run", fixed["flow"], "s"))
        results.add(Figure("prefect", "one task run", fixed["task"] * 1000, "ms"))
        idle = idle_rate(server.pid)
        results.add(Figure("prefect", "the idle server's own CPU, per wall second", idle, "s"))
        least = {(path, size): Least() for path in PATHS for size in (SMALL, people)}
        networks = {
            (path, size): make(scratch / f"network-{path}-{size}", size)
            for path, (_, make, _) in PATHS.items()
            for size in (SMALL, people)
        }
        for round_ in range(ROUNDS):
            for size in (SMALL, people):
                for path, (_, _, walk) in PATHS.items():
                    # Plain and served interleaved, so load from others hits both alike.
                    network = networks[path, size]
                    where = scratch / f"{path}-{size}-{round_}"
                    plain = walk(crumbs, network, make_workspace(where / "plain"), env, False)
                    flow_ws = make_workspace(where / "flow")
                    server_cpu = tree_cpu(server.pid)
                    flows = walk(crumbs, network, flow_ws, served, True)
                    server_cpu = tree_cpu(server.pid) - server_cpu
                    assert outbox_files(flow_ws) == size, f"the {path} flow missed emails"
                    least[path, size].keep(plain, flows, server_cpu, idle)
        for path, (label, _, _) in PATHS.items():
            for size in (SMALL, people):
                it = least[path, size]
                results.add(
                    Figure(
                        "prefect",
                        f"{label} as flows, {size:,} people (peak {it.peak_mib:.0f} MiB), "
                        f"least of {ROUNDS}",
                        it.flow_seconds,
                        "s",
                        "the same with no server",
                        it.plain_seconds,
                    )
                )
                results.add(
                    Figure(
                        "prefect",
                        f"  CPU seconds of it, the server's {it.server_cpu:.1f} s included "
                        f"({it.idle_cpu:.1f} s of which an idle server burns)",
                        it.flow_cpu + it.server_cpu,
                        "s",
                        "CPU seconds with no server",
                        it.plain_cpu,
                    )
                )
            small, large = least[path, SMALL].overhead, least[path, people].overhead
            for unit in small:
                results.add(
                    Figure(
                        "prefect",
                        f"{label}: overhead ({unit}) {small[unit]:.2f} s at {SMALL}, "
                        f"{large[unit]:.2f} s at {people:,}; growth",
                        large[unit] - small[unit],
                        "s",
                        goal="≤ 1.5 s",
                        met=large[unit] - small[unit] <= 1.5,
                    )
                )
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
