"""What every bench case shares: timing a whole process, and the results table.

These machines are shared and noisy, so a figure is only ever reported beside a baseline
measured in the same command, and as a ratio; RESULTS.md records the load as well.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Run:
    seconds: float
    peak_mib: float  # this process's own peak resident memory, not its siblings'
    stdout: str
    cpu: float = 0.0  # user + system seconds: steadier than wall time on a busy machine


def run(command: list[str], cwd: Path, env: dict[str, str], check: bool = True) -> Run:
    """Run one whole process; wall seconds and its own peak RSS (os.wait4, per child)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(command, cwd=cwd, env=env, stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout = out.read().decode("utf-8", "replace")
        if check and proc.returncode != 0:
            raise RuntimeError(
                f"{' '.join(command)} exited {proc.returncode}:\n"
                f"{stdout[-2000:]}\n{err.read().decode('utf-8', 'replace')[-4000:]}"
            )
    return Run(seconds, usage.ru_maxrss / 1024, stdout, usage.ru_utime + usage.ru_stime)


def tree_cpu(pid: int) -> float:
    """CPU seconds used so far by a process and all its descendants (Linux /proc)."""
    ticks = os.sysconf("SC_CLK_TCK")
    parents: dict[int, int] = {}
    used: dict[int, float] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(entry)] = int(fields[1])
        used[int(entry)] = (int(fields[11]) + int(fields[12])) / ticks
    total, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        total += used.get(current, 0.0)
        todo += [child for child, parent in parents.items() if parent == current]
    return total


def last_json(stdout: str) -> Any:
    """The JSON a bench script prints last (a library may have printed a warning before)."""
    return json.loads(stdout.strip().splitlines()[-1])


def python(code: str, cwd: Path, env: dict[str, str]) -> Run:
    return run([sys.executable, "-c", code], cwd, env)


def load() -> str:
    """The 1, 5 and 15 minute load averages: how busy the shared machine was."""
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


@dataclass(frozen=True)
class Figure:
    case: str
    what: str
    value: float
    unit: str
    baseline: str = ""
    baseline_value: float | None = None
    goal: str = ""
    met: bool | None = None

    @property
    def ratio(self) -> float | None:
        if self.baseline_value is None or not self.baseline_value:
            return None
        return self.value / self.baseline_value


@dataclass
class Results:
    command: str
    started: datetime = field(default_factory=lambda: datetime.now(UTC))
    load_at_start: str = field(default_factory=load)
    figures: list[Figure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, figure: Figure) -> None:
        self.figures.append(figure)
        ratio = f"  = {figure.ratio:.2f}x {figure.baseline}" if figure.ratio is not None else ""
        verdict = {True: "  MET", False: "  NOT MET", None: ""}[figure.met]
        print(
            f"[{figure.case}] {figure.what}: {_number(figure.value)} {figure.unit}{ratio}"
            f"{'  goal ' + figure.goal if figure.goal else ''}{verdict}",
            flush=True,
        )

    def note(self, case: str, text: str) -> None:
        self.notes.append(f"**{case}**: {text}")
        print(f"[{case}] {text}", flush=True)

    def markdown(self) -> str:
        uname = platform.uname()
        lines = [
            "# Bench results",
            "",
            "Written by `make bench` (bench/run.py). Every figure is measured beside its",
            "baseline in the same command, on the same machine; read the ratios, not the",
            "seconds: this machine is shared and its load swings. CPU seconds are given beside",
            "wall seconds where load distorts the wall clock. Why an unmet goal is unmet, with",
            "profiles, and what would meet it: bench/ANALYSIS.md.",
            "",
            f"- date: {self.started:%Y-%m-%d %H:%M} UTC, took "
            f"{(datetime.now(UTC) - self.started).total_seconds():.0f} s",
            f"- command: `{self.command}`, code: {_commit()}",
            f"- machine: {uname.system} {uname.release} {uname.machine}, "
            f"{os.cpu_count()} CPUs, Python {platform.python_version()}",
            f"- load average (1/5/15 min): {self.load_at_start} at start, {load()} at end",
            "",
            "| case | figure | value | baseline (same command) | baseline value | ratio "
            "| goal | met |",
            "|---|---|---:|---|---:|---:|---|---|",
        ]
        for f in self.figures:
            base = _number(f.baseline_value) if f.baseline_value is not None else ""
            ratio = f"{f.ratio:.2f}×" if f.ratio is not None else ""
            met = {True: "yes", False: "**no**", None: ""}[f.met]
            lines.append(
                f"| {f.case} | {f.what} | {_number(f.value)} {f.unit} | {f.baseline} | {base} "
                f"| {ratio} | {f.goal} | {met} |"
            )
        if self.notes:
            lines += ["", "## Notes", ""] + [f"- {n}" for n in self.notes]
        return "\n".join(lines) + "\n"


def _number(value: float) -> str:
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def _commit() -> str:
    """The commit measured, and whether the checkout had changes: figures name their code."""
    here = Path(__file__).resolve().parent.parent
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=here, capture_output=True, text=True
        ).stdout.strip()
        dirty = subprocess.run(
            # RESULTS.md is this run's own output (written as cases finish), not the code.
            [
                "git",
                "status",
                "--porcelain",
                "--untracked-files=no",
                "--",
                ".",
                ":!bench/RESULTS.md",
            ],
            cwd=here,
            capture_output=True,
            text=True,
        ).stdout.strip()
    except OSError:
        return "unknown (no git)"
    return f"{head or 'unknown'}{' with uncommitted changes' if dirty else ''}"
