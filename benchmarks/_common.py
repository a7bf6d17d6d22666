"""Helpers shared by the benchmark scripts: scratch projects, cold child processes, tables.

Peak memory is the ``ru_maxrss`` of exactly one child, read with ``os.wait4`` (on Linux in
KiB), so one run's peak is never mixed with an earlier, larger one; CPU time (user + system)
comes from the same ``rusage`` and moves much less than wall time when other jobs share
the cores.
"""

from __future__ import annotations

import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GEODATA = ROOT / "geodata"
REPORT = GEODATA / "reports" / "luodian_2024_work_report.txt"


@dataclass
class Run:
    wall_s: float
    cpu_s: float  # user + system time of the process: less sensitive to a busy machine
    peak_mib: float
    returncode: int
    stdout: str
    stderr: str
    timed_out: bool = False


def cli_command() -> list[str]:
    """``luodian-map`` as installed, else the module (same code, slightly slower start)."""
    exe = shutil.which("luodian-map")
    return [exe] if exe else [sys.executable, "-m", "luodian_map.cli"]


def scratch_project(prefix: str = "luodian-bench-") -> Path:
    """A temporary project folder holding a copy of ``geodata/`` (inputs only)."""
    scratch = Path(tempfile.mkdtemp(prefix=prefix))
    shutil.copytree(GEODATA, scratch / "geodata")
    return scratch


def clean_outputs(project: Path) -> None:
    """Remove every output and cache, so the next build starts cold."""
    for name in (".cache", "layers", "maps"):
        shutil.rmtree(project / name, ignore_errors=True)


def run_child(
    cmd: list[str], cwd: Path, *, timeout: float | None = None, env: dict | None = None
) -> Run:
    """Run ``cmd`` in a fresh process; wall time and that process's own peak RSS."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(
            cmd, cwd=cwd, stdout=out, stderr=err, env=env, start_new_session=True
        )
        deadline = None if timeout is None else start + timeout
        timed_out = False
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if deadline is not None and time.perf_counter() > deadline:
                os.killpg(proc.pid, signal.SIGKILL)
                pid, status, usage = os.wait4(proc.pid, 0)
                timed_out = True
                break
            time.sleep(0.005)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return Run(
            wall_s=wall,
            cpu_s=usage.ru_utime + usage.ru_stime,
            peak_mib=usage.ru_maxrss / 1024,
            returncode=proc.returncode,
            stdout=out.read().decode("utf-8", "replace"),
            stderr=err.read().decode("utf-8", "replace"),
            timed_out=timed_out,
        )


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def machine() -> str:
    """nproc, CPU model, memory, Python and the load at the time of the run."""
    cpu = platform.processor() or "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = "?"
    try:
        kib = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f"{kib / 1024**2:.1f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    load = "/".join(f"{x:.2f}" for x in os.getloadavg())
    return (
        f"{os.cpu_count()} CPUs ({cpu}), {mem} RAM, Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}, load average {load}"
    )


def table(headers: list[str], rows: list[list[object]]) -> str:
    """A plain-text table, right-aligned numbers, GitHub-markdown compatible."""
    cells = [[str(h) for h in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = []
    for n, row in enumerate(cells):
        lines.append(
            "| "
            + " | ".join(
                c.ljust(w) if i == 0 else c.rjust(w)
                for i, (c, w) in enumerate(zip(row, widths, strict=True))
            )
            + " |"
        )
        if n == 0:
            lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)
