"""What a local Prefect server adds to the README's path, at 200 people and at 10,000.

The overhead is (the path run as Prefect flows against a running `prefect server start`)
minus (the same path with no server), each at both sizes, all in this command. The goal is
that it is flat: per-email work in Prefect (walking task arguments, big artifacts) shows as
overhead growing with the batch. The fixed costs (`import prefect`, one flow run, one task
run) are measured on their own.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from bench.measure import Figure, Results, last_json, run, tree_cpu
from bench.readme import make_network, make_workspace, outbox_files, readme_path

SMALL = 200
TASKS = 20

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
        overhead: dict[int, tuple[float, float]] = {}
        for size in (SMALL, people):
            network = make_network(scratch / f"network-{size}", size)
            # Plain and served interleaved, so load from others hits both alike.
            plain = readme_path(
                crumbs, network, make_workspace(scratch / f"plain-{size}"), env, prefect=False
            )
            flow_ws = make_workspace(scratch / f"flow-{size}")
            server_cpu = tree_cpu(server.pid)
            flows = readme_path(crumbs, network, flow_ws, served, prefect=True)
            server_cpu = tree_cpu(server.pid) - server_cpu
            assert outbox_files(flow_ws) == size, "the Prefect run did not write every email"
            overhead[size] = (flows.seconds - plain.seconds, flows.cpu + server_cpu - plain.cpu)
            results.add(
                Figure(
                    "prefect",
                    f"sync + follow-up as flows, {size:,} people (peak {flows.peak_mib:.0f} MiB)",
                    flows.seconds,
                    "s",
                    "the same with no server",
                    plain.seconds,
                )
            )
            results.add(
                Figure(
                    "prefect",
                    f"  CPU seconds of it, the server's {server_cpu:.1f} s included",
                    flows.cpu + server_cpu,
                    "s",
                    "CPU seconds with no server",
                    plain.cpu,
                )
            )
        for index, unit in ((0, "wall"), (1, "CPU")):
            small, large = overhead[SMALL][index], overhead[people][index]
            results.add(Figure("prefect", f"overhead at {SMALL} ({unit})", small, "s"))
            results.add(Figure("prefect", f"overhead at {people:,} ({unit})", large, "s"))
            results.add(
                Figure(
                    "prefect",
                    f"overhead growth, {SMALL} -> {people:,} people ({unit} seconds)",
                    large - small,
                    "s",
                    goal="≤ 1.5 s",
                    met=large - small <= 1.5,
                )
            )
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
