"""A build is one transaction: real ``luodian-map`` processes killed at random moments,
two at once in one folder, a read-only or full target; every output comes from one build.

Two builds whose every output differs: ``OLD`` (罗泾镇 2023, no gazetteer: no coverage, maps
of 2022 and 2023) and ``NEW`` (the shipped 罗店镇 report: coverage, maps of 2024 and 2025).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import NamedTuple

import pytest

from luodian_map.gazetteer import GEODATA_DIR
from luodian_map.outputs import JOURNAL_NAME, LOCK_NAME, MANIFEST_NAME

ROOT = Path(__file__).resolve().parents[1]
OLD = ROOT / "tests" / "data" / "reports" / "luojing_2023_work_report.txt"
NEW = ROOT / "geodata" / "reports" / "luodian_2024_work_report.txt"
FOLDERS = ("layers", "maps")
# what a planner keeps in the output folders: no build wrote them, every build keeps them
USER_FILES = {"maps/notes.txt": b"my notes\n", "maps/luodian_2022.pdf": b"%PDF-1.4 print\n"}


def command(*args: str) -> list[str]:
    return [sys.executable, "-m", "luodian_map.cli", *args]


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command(*args), cwd=cwd, capture_output=True, text=True, timeout=300)


def outputs(project: Path) -> dict[str, dict[str, str]]:
    """Folder → file (relative) → SHA-256 of every file under layers/ and maps/, except a
    planner's own."""
    found: dict[str, dict[str, str]] = {}
    for folder in FOLDERS:
        base = project / folder
        files = sorted(p for p in base.rglob("*") if p.is_file())
        found[folder] = {
            p.relative_to(base).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in files
            if f"{folder}/{p.relative_to(base).as_posix()}" not in USER_FILES
        }
    return found


def assert_manifests_hold(project: Path, state: dict[str, dict[str, str]]) -> None:
    """Each folder's manifest lists exactly its outputs with their re-hashed SHA-256, and
    both name the same build."""
    builds = set()
    for folder in FOLDERS:
        manifest = json.loads((project / folder / MANIFEST_NAME).read_text("utf-8"))
        listed = dict(state[folder])
        del listed[MANIFEST_NAME]
        assert manifest["files"] == listed, folder
        builds.add(manifest["build"])
    assert len(builds) == 1


def user_files_kept(project: Path) -> bool:
    return all((project / name).read_bytes() == data for name, data in USER_FILES.items())


def leftovers(project: Path) -> list[str]:
    """Staging folders, old generations or a journal left beside the outputs."""
    return sorted(p.name for p in project.iterdir() if p.name.startswith(".") and (
        ".staging-" in p.name or ".old-" in p.name or p.name == JOURNAL_NAME
    ))  # fmt: skip


class Built(NamedTuple):
    project: Path  # OLD built, with the planner's own files
    old: dict[str, dict[str, str]]
    new: dict[str, dict[str, str]]
    new_seconds: float  # how long building NEW took


def new_project(path: Path) -> Path:
    shutil.copytree(GEODATA_DIR, path / "geodata" / "luodian")
    return path


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    """OLD built in one project, NEW in another (timed)."""
    new = new_project(tmp_path_factory.mktemp("new"))
    start = time.monotonic()
    result = run("build", str(NEW), cwd=new)
    seconds = time.monotonic() - start
    assert result.returncode == 0, result.stderr
    old = new_project(tmp_path_factory.mktemp("old"))
    result = run("build", str(OLD), cwd=old)
    assert result.returncode == 0, result.stderr
    for name, data in USER_FILES.items():
        (old / name).write_bytes(data)
    built = Built(old, outputs(old), outputs(new), seconds)
    for folder in FOLDERS:  # every output differs, so a mix cannot pass for either build
        assert not set(built.old[folder].items()) & set(built.new[folder].items())
    return built


@pytest.fixture
def project(built: Built, tmp_path: Path) -> Path:
    """A copy of the project with OLD built (its extraction cache included)."""
    shutil.copytree(built.project, tmp_path / "p", symlinks=True)
    return tmp_path / "p"


def test_a_build_killed_at_any_moment_leaves_every_output_from_one_build(
    built: Built, project: Path
) -> None:
    chance = random.Random(15)
    delays = sorted(chance.uniform(0.2, built.new_seconds * 1.2) for _ in range(8))
    seen = []
    for delay in delays:
        process = subprocess.Popen(
            command("build", str(NEW)), cwd=project, stderr=subprocess.DEVNULL,
            start_new_session=True,
        )  # fmt: skip
        time.sleep(delay)
        process.send_signal(signal.SIGKILL)  # the build only; a child it forked lives on
        process.wait()
        state = outputs(project)
        layers = "old" if state["layers"] == built.old["layers"] else "new"
        maps = "old" if state["maps"] == built.old["maps"] else "new"
        for folder, which in (("layers", layers), ("maps", maps)):
            assert state[folder] == getattr(built, which)[folder], (delay, folder)
        # killed between the two folder switches: the journal makes the next run finish it
        assert layers == maps or (project / JOURNAL_NAME).exists(), delay
        assert user_files_kept(project)
        seen.append(layers)
        with contextlib.suppress(ProcessLookupError):  # what the killed build left running
            os.killpg(process.pid, signal.SIGKILL)  # (another part of issue 15)
    result = run("check", cwd=project)  # takes the lock: finishes any half-done switch
    assert result.returncode == 0, result.stderr
    state = outputs(project)
    assert state in (built.old, built.new)
    assert_manifests_hold(project, state)
    assert leftovers(project) == [] and user_files_kept(project)
    print(f"kills after {[round(d, 2) for d in delays]} s left {seen}")


@pytest.mark.parametrize("switch", ["exchange", "two renames"])
def test_a_build_killed_between_the_two_folder_switches_is_rolled_forward(
    built: Built, project: Path, switch: str
) -> None:
    """The worst moment: layers/ switched in, maps/ not yet. The next command that takes
    the lock (here ``check``) finishes the switch from the journal."""
    script = f"""
import os, signal, sys
from luodian_map import cli, outputs
switch_in = outputs._switch_in
def once_then_die(target, staged):
    switch_in(target, staged)
    os.kill(os.getpid(), signal.SIGKILL)
outputs._switch_in = once_then_die
if {switch == "two renames"}:
    outputs._exchange = lambda first, second: False
sys.exit(cli.main(["build", {str(NEW)!r}]))
"""
    process = subprocess.run(
        [sys.executable, "-c", script], cwd=project, capture_output=True, timeout=300
    )
    assert process.returncode == -signal.SIGKILL, process.stderr
    state = outputs(project)
    assert state["layers"] == built.new["layers"] and state["maps"] == built.old["maps"]
    assert (project / JOURNAL_NAME).exists()
    result = run("check", cwd=project)
    assert result.returncode == 0, result.stderr
    assert outputs(project) == built.new
    assert_manifests_hold(project, built.new)
    assert leftovers(project) == [] and user_files_kept(project)


def test_two_builds_at_once_in_one_folder_end_with_the_outputs_of_one(
    built: Built, project: Path
) -> None:
    processes = {
        which: subprocess.Popen(
            command("build", str(report)), cwd=project, stderr=subprocess.PIPE, text=True
        )
        for which, report in (("old", OLD), ("new", NEW))
    }
    stderr = {which: p.communicate(timeout=300)[1] for which, p in processes.items()}
    assert all(p.returncode == 0 for p in processes.values()), stderr
    other = {"old": processes["new"].pid, "new": processes["old"].pid}
    waited = [
        which
        for which, text in stderr.items()
        if f"luodian-map: waiting for the build in progress (pid {other[which]})…"
        in text.splitlines()
    ]
    assert len(waited) == 1, stderr  # one waited for the other, then ran: its outputs win
    assert outputs(project) == getattr(built, waited[0])
    assert_manifests_hold(project, getattr(built, waited[0]))
    assert leftovers(project) == [] and user_files_kept(project)
    assert (project / LOCK_NAME).exists()


def test_a_rebuild_removes_stale_outputs_and_keeps_a_planners_files(
    built: Built, project: Path
) -> None:
    """NEW has no 2022 or 2023: those maps go; OLD has no coverage: NEW's goes again."""
    assert (project / "maps" / "luodian_2022.html").exists()
    result = run("build", str(NEW), cwd=project)
    assert result.returncode == 0, result.stderr
    assert outputs(project) == built.new
    assert not (project / "maps" / "luodian_2022.html").exists()
    assert user_files_kept(project)
    result = run("build", str(OLD), cwd=project)
    assert result.returncode == 0, result.stderr
    assert outputs(project) == built.old
    assert not list((project / "maps").glob("coverage*"))
    assert_manifests_hold(project, built.old)
    assert leftovers(project) == [] and user_files_kept(project)


def test_an_error_after_the_layers_are_staged_leaves_every_output(
    built: Built, project: Path
) -> None:
    """A broken ``checks.toml`` is read only for the coverage, after the layers are written:
    they are not switched in."""
    (project / "checks.toml").write_text("min_located_share = 'high'\n", encoding="utf-8")
    result = run("build", str(NEW), cwd=project)
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert result.stderr.splitlines()[-1].startswith("luodian-map: error: checks.toml")
    assert outputs(project) == built.old
    assert leftovers(project) == [] and user_files_kept(project)


def assert_failed_untouched(
    built: Built, project: Path, status: int, stderr: str, line: str
) -> None:
    assert status == 2 and "Traceback" not in stderr, stderr
    errors = [text for text in stderr.splitlines() if "error" in text]
    assert errors == [line], stderr
    assert outputs(project) == built.old
    assert leftovers(project) == [] and user_files_kept(project)


def in_mount_namespace(shell: str, cwd: Path) -> subprocess.CompletedProcess[str] | None:
    """Run ``shell`` in a mount namespace of its own (root, or a user namespace), None
    where this machine permits neither."""
    for unshare in (["unshare", "-m"], ["unshare", "-rm"]):
        if shutil.which("unshare") is None:
            return None
        probe = subprocess.run([*unshare, "true"], capture_output=True)
        if probe.returncode == 0:
            return subprocess.run(
                [*unshare, "sh", "-ec", shell], cwd=cwd, capture_output=True, text=True,
                timeout=300,
            )  # fmt: skip
    return None


def test_a_read_only_maps_folder_fails_in_one_line_before_any_work(
    built: Built, project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    build = " ".join(command("build", str(NEW)))
    result = in_mount_namespace(f"mount --bind -o ro maps maps; exec {build}", project)
    if result is None:  # no mount namespace: the file system's answer, injected
        from luodian_map import outputs as module

        monkeypatch.chdir(project)
        rdonly = os.statvfs(project).f_flag | os.ST_RDONLY
        real = module.os.statvfs
        monkeypatch.setattr(
            module.os, "statvfs",
            lambda p: os.statvfs_result((*real(p)[:8], rdonly, *real(p)[9:]))
            if Path(p).name == "maps" else real(p),
        )  # fmt: skip
        from luodian_map import cli

        status, stderr = cli.main(["build", str(NEW)]), capsys.readouterr().err
    else:
        status, stderr = result.returncode, result.stderr
    line = "luodian-map: error: maps: Read-only file system"
    assert_failed_untouched(built, project, status, stderr, line)
    assert stderr.splitlines() == [line]  # found before extracting anything


def test_a_full_disk_fails_in_one_line_naming_the_file(built: Built, tmp_path: Path) -> None:
    """A real full file system: a tmpfs with room for OLD's outputs and a little more."""
    shutil.copytree(built.project, tmp_path / "p", symlinks=True)
    used = sum(
        p.stat().st_size
        for p in (tmp_path / "p").rglob("*")
        if p.is_file() and ".cache" not in p.parts
    )
    build = " ".join(command("build", str(NEW), "--cache", str(tmp_path / "cache.sqlite")))
    shell = (
        f"mkdir mnt; mount -t tmpfs -o size={used // 1024 + 900}k tmpfs mnt; "
        f"cp -a p mnt/; cd mnt/p; rm -rf .cache; {build} || echo status=$?; "
        "find layers maps -type f -exec sha256sum {} + | sort -k2; ls -a"
    )
    result = in_mount_namespace(shell, tmp_path)
    if result is None:
        pytest.skip("no mount namespace here: the injected ENOSPC tests below stand in")
    lines = result.stdout.splitlines()
    assert "status=2" in lines and "Traceback" not in result.stderr, result.stderr
    errors = [text for text in result.stderr.splitlines() if "error" in text]
    assert len(errors) == 1 and errors[0].startswith("luodian-map: error: "), result.stderr
    named = errors[0].removeprefix("luodian-map: error: ").split(":")[0]
    assert named.split("/")[0] in FOLDERS and named.split("/")[1], errors
    hashes = {path: sha for sha, path in (line.split() for line in lines if "/" in line)}
    expected = {f"{f}/{name}": sha for f in FOLDERS for name, sha in built.old[f].items()}
    assert {k: v for k, v in hashes.items() if k not in USER_FILES} == expected
    assert not [name for name in lines if ".staging-" in name or ".old-" in name]


@pytest.mark.parametrize("writer", ["geopackage", "map"])
def test_no_space_left_while_writing_fails_in_one_line_naming_the_file(
    built: Built,
    project: Path,
    writer: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture,
) -> None:
    """ENOSPC as each writer meets it: GDAL's error from pyogrio (in the forked process
    writing the GeoPackage), an ``OSError`` without a file name from a map page's write."""
    from pyogrio.errors import DataSourceError

    from luodian_map import _io, cli

    monkeypatch.chdir(project)
    if writer == "geopackage":
        import pyogrio

        def full(*args: object, **kwargs: object) -> None:
            raise DataSourceError("Failed to commit transaction")

        monkeypatch.setattr(pyogrio, "write_dataframe", full)
        line = "luodian-map: error: layers/luodian.gpkg: cannot be written: "
        line += "Failed to commit transaction"
    else:
        fdopen = os.fdopen

        class Full:
            def __init__(self, handle):
                self.handle = handle

            def __enter__(self):
                return self

            def __exit__(self, *exc_info):
                self.handle.close()

            def write(self, data):
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

        def open_full(fd: int, *args: object, **kwargs: object):
            handle = fdopen(fd, *args, **kwargs)
            target = os.readlink(f"/proc/self/fd/{fd}")
            return Full(handle) if ".luodian_2024.html." in target else handle

        monkeypatch.setattr(_io.os, "fdopen", open_full)
        line = "luodian-map: error: maps/luodian_2024.html: No space left on device"
    status = cli.main(["build", str(NEW)])
    assert_failed_untouched(built, project, status, capsys.readouterr().err, line)


def test_staged_outputs_are_on_disk_before_the_journal_commits_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A power cut after the journal is written must find whole files to roll forward:
    every staged file and folder is flushed before the journal, the switch before the
    journal goes. The flushes are seen at the real ``os.fsync``, by the path of each fd."""
    from luodian_map import outputs

    synced: list[str] = []
    fsync = os.fsync

    def recorded(fd: int) -> None:
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        fsync(fd)

    monkeypatch.setattr(os, "fsync", recorded)
    targets = {"layers": tmp_path / "layers", "maps": tmp_path / "maps"}
    targets["maps"].mkdir()
    os.mkfifo(targets["maps"] / "planner.pipe")  # carried over; opening it would block

    def blocked(*_: object) -> None:
        raise TimeoutError("the transaction blocked for 30 s")

    previous = signal.signal(signal.SIGALRM, blocked)  # a blocked flush fails, not hangs
    signal.alarm(30)
    try:
        with outputs.transaction(targets) as staging:
            for role, name in (("layers", "a/one.geojson"), ("maps", "two.html")):
                path = staging.path(targets[role] / name)
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(name, encoding="utf-8")
            staged = {role: str(staging.path(folder)) for role, folder in targets.items()}
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    journal = synced.index(str(tmp_path / JOURNAL_NAME))
    before = set(synced[:journal])
    for role, names in (("layers", ["a/one.geojson", "a", MANIFEST_NAME]), ("maps", ["two.html"])):
        assert staged[role] in before
        for name in names:
            assert f"{staged[role]}/{name}" in before, name
    # the folder holding both: flushed for the journal's name, then for the switch
    assert synced[journal + 1 :].count(str(tmp_path)) == 2
    assert (tmp_path / "layers/a/one.geojson").read_text(encoding="utf-8") == "a/one.geojson"
    assert (targets["maps"] / "planner.pipe").is_fifo()
