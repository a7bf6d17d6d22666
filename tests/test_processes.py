"""A build killed by SIGKILL leaves no process behind, and nothing of it changes an output
afterwards (issue 15): every process a build starts (the chart process and the resource
tracker of its pool, the forked GeoPackage writer, the workers of ``--scheduler local``)
ends with it.

Each test runs a real ``luodian-map build`` of the shipped report in a scratch project, in
a session of its own and with a marker in its environment that every process it starts
inherits; it kills the build with SIGKILL at one moment of the build, seen from outside.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest

from luodian_map._process import usable_cpus
from luodian_map.extract import PARALLEL_FROM

ROOT = Path(__file__).resolve().parents[1]
MARKER = "LUODIAN_MAP_TEST_BUILD"
# how long the processes of a killed build may take to end, on a busy machine
GRACE_S = 10.0
# how long a test waits for its moment before saying the build never reached it
MOMENT_TIMEOUT_S = 300.0

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="children are tied to the build on Linux only"
)


class Build:
    """A ``luodian-map build`` running in ``project``, in a session of its own."""

    def __init__(self, project: Path, *options: str) -> None:
        self.project = project
        self.marker = uuid.uuid4().hex
        self.stderr_path = project / "stderr.txt"
        with self.stderr_path.open("w") as stderr:  # a file: survivors may hold it open
            self.process = subprocess.Popen(
                [sys.executable, "-m", "luodian_map.cli", "build", *options],
                cwd=project,
                env={**os.environ, MARKER: self.marker},
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
                start_new_session=True,
            )

    def stderr(self) -> str:
        return self.stderr_path.read_text("utf-8", errors="replace")

    def descendants(self) -> list[psutil.Process]:
        try:
            return psutil.Process(self.process.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return []

    def survivors(self) -> list[psutil.Process]:
        """Every live process started by this build: it carries the marker in its
        environment or belongs to the build's session."""
        found = []
        for process in psutil.process_iter():
            try:
                if process.status() == psutil.STATUS_ZOMBIE:
                    continue
                if (
                    os.getsid(process.pid) == self.process.pid
                    or process.environ().get(MARKER) == self.marker
                ):
                    found.append(process)
            except (psutil.Error, ProcessLookupError, PermissionError):
                continue  # ended meanwhile, or another user's
        return found

    def kill_when(self, moment: Callable[[Build], bool]) -> None:
        """SIGKILL the build as soon as ``moment`` holds; fail if it ends first."""
        deadline = time.monotonic() + MOMENT_TIMEOUT_S
        while not moment(self):
            if self.process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(
                    f"the build ended before the moment (exit {self.process.poll()}):\n"
                    + self.stderr()
                )
            time.sleep(0.002)
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait()


def outputs(project: Path) -> dict[str, tuple[int, int, int]]:
    """Every file the build may write, with what tells a replaced or rewritten file."""
    found = {}
    for path in project.rglob("*"):
        if path.is_file() and path.name != "stderr.txt":
            stat = path.stat()
            found[str(path.relative_to(project))] = (stat.st_ino, stat.st_size, stat.st_mtime_ns)
    return found


@pytest.fixture
def project(tmp_path: Path):
    shutil.copytree(
        ROOT / "geodata", tmp_path / "geodata", ignore=shutil.ignore_patterns("overrides.*")
    )
    return tmp_path


def _has_chart_process(build: Build) -> bool:
    """The chart process has started and loaded matplotlib (before, a worker still reading
    its start-up data from the build would end by itself)."""
    return any(
        "spawn_main" in _cmdline(child) and "matplotlib" in _maps(child)
        for child in build.descendants()
    )


def _maps(process: psutil.Process) -> str:
    """The files mapped into ``process`` (its shared libraries)."""
    try:
        return Path(f"/proc/{process.pid}/maps").read_text()
    except OSError:
        return ""


def _writes_gpkg_in_fork(build: Build) -> bool:
    """A forked copy of the build is running and a GeoPackage is being written."""
    own = _cmdline(psutil.Process(build.process.pid))
    forked = any(_cmdline(child) == own for child in build.descendants())
    return forked and any(build.project.rglob(".luodian.gpkg.*"))


def _has_extracted_one_of_many(build: Build) -> bool:
    """The extraction workers are running: one report of many is extracted and cached."""
    return any(build.project.glob(".cache/items/*.json"))


def _has_written_a_map(build: Build) -> bool:
    """Near the end: a map page is written, the charts and coverage come next."""
    return any(build.project.rglob("luodian.html"))


def _has_extracted_on_dask(build: Build) -> bool:
    """The Dask workers of ``--scheduler local`` are up and have extracted the report."""
    return "extracted" in build.stderr()


def _cmdline(process: psutil.Process) -> str:
    try:
        return " ".join(process.cmdline())
    except psutil.Error:
        return ""


MOMENTS = {
    "chart process started": ((), _has_chart_process),
    "GeoPackage written by the forked writer": ((), _writes_gpkg_in_fork),
    "extraction workers running": (("many",), _has_extracted_one_of_many),
    "a map written": ((), _has_written_a_map),
    "Dask workers running": (("--scheduler", "local"), _has_extracted_on_dask),
}


@pytest.mark.parametrize("moment", MOMENTS)
def test_a_killed_build_leaves_no_process_and_changes_nothing_after(
    project: Path, moment: str
) -> None:
    if moment == "chart process started" and usable_cpus() < 2:
        pytest.skip("the charts are drawn in the build's own process on one CPU")
    options, reached = MOMENTS[moment]
    if "many" in options:  # enough reports to be extracted by a pool of processes
        report = next((project / "geodata" / "reports").iterdir())
        (project / "many").mkdir()
        for i in range(PARALLEL_FROM + 4):
            shutil.copy(report, project / "many" / f"{i:02d}_{report.name}")
    build = Build(project, *options)
    try:
        build.kill_when(reached)
        after_kill = outputs(project)
        deadline = time.monotonic() + GRACE_S
        while (survivors := build.survivors()) and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(1.0)  # a writer that escaped the search would still be writing
        changed = sorted({name for name, _ in outputs(project).items() ^ after_kill.items()})
        assert not survivors and not changed, (
            "left behind:\n"
            + "".join(f"  {p.pid} {_cmdline(p)[:120]}\n" for p in survivors)
            + f"changed after the kill: {changed}"
        )
    finally:
        for process in build.survivors():  # a failed test leaves nothing running
            process.kill()


ORPHAN = """
import os, sys, time
from pathlib import Path
from luodian_map._process import die_with_parent

parent = os.getpid()
if os.fork() == 0:
    if sys.argv[2] == "orphan":
        while os.getppid() == parent:  # until the parent below has ended
            time.sleep(0.01)
    Path(sys.argv[1], "pid").write_text(str(os.getpid()))
    die_with_parent(parent)
    Path(sys.argv[1], "ran").write_text("")
    os._exit(0)
if sys.argv[2] == "parent alive":
    os.wait()
"""


@pytest.mark.parametrize("case", ["orphan", "parent alive"])
def test_a_child_whose_parent_ended_before_it_was_tied_does_nothing(
    tmp_path: Path, case: str
) -> None:
    """The race of ``PR_SET_PDEATHSIG``: a parent that ends before its child sets it."""
    subprocess.run([sys.executable, "-c", ORPHAN, str(tmp_path), case], check=True, timeout=60)
    deadline = time.monotonic() + GRACE_S
    while not (tmp_path / "pid").exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    with contextlib.suppress(psutil.NoSuchProcess, ValueError):
        child = psutil.Process(int((tmp_path / "pid").read_text()))
        with contextlib.suppress(psutil.TimeoutExpired):
            child.wait(GRACE_S)
    assert (tmp_path / "ran").exists() == (case == "parent alive")
