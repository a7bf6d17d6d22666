"""A run's outputs as one transaction: staged beside their folders, switched in at the end.

Every output of a run (``layers/``, ``maps/``) is written into a staging folder beside its
target (same parent, so the same file system), and the folders are switched in only when
all of them are complete: one atomic ``renameat2(RENAME_EXCHANGE)`` per folder on Linux
(two renames elsewhere). A journal beside the targets names the staged folders before the
first switch, so that a run killed between two switches is rolled forward by the next
command that takes the lock. A lock file beside the targets makes a second run wait.

Each output folder holds a manifest (``manifest.json``): the files the runs wrote, with
their SHA-256, and one digest of the whole build shared by every folder the build wrote.
Files a run did not write and no earlier run wrote (a planner's own files, print maps) are
carried over into the new generation by hard links; outputs of earlier runs that this run
replaces but no longer writes (a year gone from the reports) are left out of it.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import hashlib
import json
import os
import shutil
import stat
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import ExitStack, contextmanager, suppress
from pathlib import Path, PurePosixPath
from typing import IO, Any

from ._io import write_atomic
from .errors import LuodianMapError

MANIFEST_NAME = "manifest.json"
LOCK_NAME = ".luodian-map.lock"
JOURNAL_NAME = ".luodian-map.journal"
# a folder ``layers`` is staged as ``.layers.staging-<pid>``; the two-rename fallback
# moves the old generation to ``.layers.old-<pid>``
_STAGING, _OLD = "staging", "old"


class Staging:
    """Where a run writes: each target folder's staging folder, and back."""

    def __init__(self, folders: Mapping[Path, Path]) -> None:
        # given target path → staging folder
        self.folders = dict(folders)

    def path(self, path: Path) -> Path:
        """Where to write ``path``, a path inside (or of) one of the target folders."""
        for target, staged in self.folders.items():
            if path == target or target in path.parents:
                return staged / path.relative_to(target)
        raise ValueError(f"{path} is in no output folder of this run")

    def shown(self, path: Path) -> Path:
        """The path a staged ``path`` will have once switched in (to show the user)."""
        for target, staged in self.folders.items():
            if path == staged or staged in path.parents:
                return target / path.relative_to(staged)
        return path


@contextmanager
def transaction(
    targets: Mapping[str, Path],
    *,
    replaces: Callable[[PurePosixPath], bool] | None = None,
    build: str | None = None,
    waiting: Callable[[str], None] | None = None,
) -> Iterator[Staging]:
    """Stage the output folders ``targets`` (role → folder) and switch them in on success.

    Parameters
    ----------
    targets : mapping
        The run's output folders by role (``{"layers": ..., "maps": ...}``). The first
        is the build's source of truth: the build digest is that of its files (names and
        SHA-256), the others (maps made from the layers) share it.
    replaces : callable, optional
        Which earlier outputs (path relative to its folder) this run replaces: those it
        no longer writes are removed. Default: all of them.
    build : str, optional
        The build digest to record instead (``check`` writes no layers: its coverage
        files take the digest of the layers it checked).
    waiting : callable, optional
        Called with the pid of the run holding the lock, once, before waiting for it.

    On an error the staging folders are removed and the targets stay as they were; paths
    in the error name the target, not the staging folder.
    """
    given = {role: Path(path) for role, path in targets.items()}
    real = {role: Path(os.path.realpath(path)) for role, path in given.items()}
    for role, path in real.items():
        for other, inner in real.items():
            if other != role and (inner == path or path in inner.parents):
                raise LuodianMapError(
                    f"{given[role]}, {given[other]}: the {role} and the {other} need two "
                    "folders, neither inside the other"
                )
    with _locked({path.parent for path in real.values()}, waiting):
        for path in given.values():
            _check_replaceable(path)
        staging = Staging({given[role]: _sibling(real[role], _STAGING) for role in given})
        try:
            for staged in staging.folders.values():
                staged.mkdir()
            yield staging
            manifests = _seal(
                {role: (real[role], staging.path(given[role])) for role in given}, replaces, build
            )
        except BaseException as error:
            for staged in staging.folders.values():
                shutil.rmtree(staged, ignore_errors=True)
            raise _shown_error(error, staging) from None
        entries = [
            {"target": str(real[role]), "staged": str(staging.path(given[role])), "manifest": sha}
            for role, sha in manifests.items()
        ]
        _switch(entries)


def build_digest(folder: Path) -> str | None:
    """The build digest of ``folder``'s manifest, None without a readable one."""
    return _manifest(folder).get("build")


def read_manifest(folder: Path) -> dict[str, str]:
    """File (relative path) → SHA-256 of the outputs listed in ``folder``'s manifest."""
    files = _manifest(folder).get("files", {})
    return dict(files) if isinstance(files, dict) else {}


def _manifest(folder: Path) -> dict[str, Any]:
    try:
        data = json.loads((folder / MANIFEST_NAME).read_text("utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _sibling(folder: Path, kind: str) -> Path:
    return folder.parent / f".{folder.name}.{kind}-{os.getpid()}"


def _check_replaceable(folder: Path) -> None:
    """An existing output folder this process may replace as a whole, or an error
    naming it (checked before the run writes anything)."""
    if not os.path.lexists(folder):
        return
    real, here = Path(os.path.realpath(folder)), Path.cwd()
    if real == here or real in here.parents:  # it would be replaced, inputs and all
        raise LuodianMapError(f"{folder}: holds the working folder; give outputs their own")
    if not folder.is_dir():
        raise LuodianMapError(f"{folder}: not a folder")
    if os.statvfs(folder).f_flag & os.ST_RDONLY:
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(folder))
    if not os.access(folder, os.W_OK):
        raise OSError(errno.EACCES, os.strerror(errno.EACCES), str(folder))
    if os.path.ismount(folder):
        raise LuodianMapError(f"{folder}: a mount point cannot be replaced; write beside it")


@contextmanager
def locked_for(path: Path, waiting: Callable[[str], None] | None = None) -> Iterator[None]:
    """Hold the lock of the output folder ``path`` is written into, if it is one (it has a
    manifest): a file added while a build switches that folder would be lost with the old
    generation. See :func:`transaction`."""
    folder = Path(os.path.realpath(Path(path).parent))
    if not (folder / MANIFEST_NAME).is_file():
        yield
        return
    with _locked({folder.parent}, waiting):
        yield


@contextmanager
def _locked(parents: set[Path], waiting: Callable[[str], None] | None) -> Iterator[None]:
    """Hold the lock file of every folder in ``parents`` (in name order, so that two runs
    cannot each wait for the other), finish a switch a killed run left half done, and
    remove what killed runs left staged."""
    while True:
        with ExitStack() as held:
            for parent in sorted(parents):
                held.enter_context(_lock_file(parent, waiting))
            entries = [entry for parent in parents for entry in _journal(parent)]
            needed = parents | {Path(e["target"]).parent for e in entries}
            if needed == parents:  # else a journal names folders elsewhere: lock them too
                _roll_forward(entries)
                _drop_journals(p for p in parents if (p / JOURNAL_NAME).exists())
                for parent in parents:
                    _remove_leftovers(parent)
                yield
                return
        parents = needed


@contextmanager
def _lock_file(parent: Path, waiting: Callable[[str], None] | None) -> Iterator[None]:
    parent.mkdir(parents=True, exist_ok=True)
    with open(parent / LOCK_NAME, "a+", encoding="ascii") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if waiting is not None:
                handle.seek(0)
                waiting(handle.read().strip() or "unknown")
            fcntl.flock(handle, fcntl.LOCK_EX)
        _write_pid(handle)
        yield  # closing the file releases the lock


def _write_pid(handle: IO[str]) -> None:
    handle.truncate(0)
    handle.write(f"{os.getpid()}\n")
    handle.flush()


def _journal(parent: Path) -> list[dict[str, str]]:
    try:
        return list(json.loads((parent / JOURNAL_NAME).read_text("utf-8")))
    except FileNotFoundError:
        return []


def _roll_forward(entries: list[dict[str, str]]) -> None:
    """Switch in every staged folder of a journal that is not switched in yet: one whose
    staging folder still holds the staged manifest."""
    for entry in entries:
        staged = Path(entry["staged"])
        if _file_sha(staged / MANIFEST_NAME) == entry["manifest"]:
            _switch_in(Path(entry["target"]), staged)


def _drop_journals(parents: Iterable[Path]) -> None:
    """Remove the journals in ``parents`` once the switches they record are on disk: the
    folder is flushed first, so a power cut cannot lose a switch and its journal both."""
    for parent in parents:
        _fsync(parent)
        (parent / JOURNAL_NAME).unlink(missing_ok=True)


def _remove_leftovers(parent: Path) -> None:
    for kind in (_STAGING, _OLD):
        for path in parent.glob(f".*.{kind}-*"):
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)


def _files(folder: Path) -> Iterator[PurePosixPath]:
    """Every file (and link) under ``folder``, as paths relative to it, in name order."""
    found = []
    for root, dirs, names in os.walk(folder):
        base = Path(root)
        links = [d for d in dirs if (base / d).is_symlink()]
        dirs[:] = [d for d in dirs if d not in links]
        found += [PurePosixPath((base / n).relative_to(folder).as_posix()) for n in names + links]
    return iter(sorted(found))


def _seal(
    folders: Mapping[str, tuple[Path, Path]],
    replaces: Callable[[PurePosixPath], bool] | None,
    build: str | None,
) -> dict[str, str]:
    """Complete each staged folder: carry over the files to keep from its target and
    write its manifest. Returns role → SHA-256 of the manifest written."""
    listed: dict[str, dict[str, str]] = {}
    for role, (target, staged) in folders.items():
        written = {str(p) for p in _files(staged)}
        earlier = read_manifest(target) if target.is_dir() else {}
        kept_outputs = []
        for relative in _files(target) if target.is_dir() else ():
            name = str(relative)
            if name in written or name == MANIFEST_NAME:
                continue
            if name in earlier and (replaces is None or replaces(relative)):
                continue  # an output of an earlier run that this one replaces
            _carry_over(target / relative, staged / relative)
            if name in earlier:
                kept_outputs.append(name)
        listed[role] = {
            n: _sha((staged / n).read_bytes()) for n in sorted([*written, *kept_outputs])
        }
        if target.is_dir():
            os.chmod(staged, os.stat(target).st_mode & 0o7777)
    first = next(iter(listed.values()))
    digest = build or _sha(json.dumps(first, sort_keys=True, ensure_ascii=False).encode())
    shas = {}
    for role, (_target, staged) in folders.items():
        text = json.dumps(
            {"build": digest, "files": listed[role]}, ensure_ascii=False, indent=1, sort_keys=True
        )
        shas[role] = _sha(write_atomic(staged / MANIFEST_NAME, text + "\n").read_bytes())
    return shas


def _carry_over(source: Path, destination: Path) -> None:
    """A hard link of ``source`` at ``destination`` (a copy where links are refused)."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, destination, follow_symlinks=False)
    except OSError:
        shutil.copy2(source, destination, follow_symlinks=False)


def _switch(entries: list[dict[str, str]]) -> None:
    """Journal the staged folders, switch each in, then drop the journal and the old
    generations."""
    parents = sorted({Path(e["target"]).parent for e in entries})
    for entry in entries:  # on disk before the journal says they are complete
        _sync_tree(Path(entry["staged"]))
    text = json.dumps(entries, ensure_ascii=False, indent=1) + "\n"
    for parent in parents:
        _write_synced(parent / JOURNAL_NAME, text)
    for entry in entries:
        _switch_in(Path(entry["target"]), Path(entry["staged"]))
    _drop_journals(parents)
    for entry in entries:
        for kind in (_STAGING, _OLD):
            shutil.rmtree(_sibling(Path(entry["target"]), kind), ignore_errors=True)


def _write_synced(path: Path, text: str) -> None:
    """``write_atomic``, then flushed to disk with its folder: the commit record."""
    write_atomic(path, text)
    _fsync(path)
    _fsync(path.parent)


def _sync_tree(folder: Path) -> None:
    """Flush every file and folder under ``folder`` to disk, so that a power cut after
    the journal is written finds complete outputs to roll forward, not empty files."""
    for root, _dirs, names in os.walk(folder):  # a link to a folder is not walked
        base = Path(root)
        for name in names:
            # a planner's file carried over (a link, a pipe, one we may not read) is
            # already on disk, and opening a pipe would block
            if stat.S_ISREG(os.lstat(base / name).st_mode):
                with suppress(PermissionError):
                    _fsync(base / name)
        _fsync(base)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _switch_in(target: Path, staged: Path) -> None:
    """Put the folder ``staged`` at ``target``; the old ``target`` ends at ``staged``
    (exchanged in one step) or at its ``old`` sibling (two renames)."""
    if not os.path.lexists(target):
        os.rename(staged, target)
    elif not _exchange(target, staged):
        old = _sibling(target, _OLD)
        os.rename(target, old)
        os.rename(staged, old.parent / target.name)


_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


def _exchange(first: Path, second: Path) -> bool:
    """Swap two paths atomically (Linux ``renameat2``); False where it is unsupported."""
    renameat2 = getattr(_libc(), "renameat2", None) if sys.platform == "linux" else None
    if renameat2 is None:
        return False
    first_b, second_b = os.fsencode(first), os.fsencode(second)
    if renameat2(_AT_FDCWD, first_b, _AT_FDCWD, second_b, _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):  # kernel or file system
        return False
    raise OSError(code, os.strerror(code), str(first))


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def _file_sha(path: Path) -> str | None:
    try:
        return _sha(path.read_bytes())
    except OSError:
        return None


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _shown_error(error: BaseException, staging: Staging) -> BaseException:
    """``error`` with the staging folders in its paths and text named as their targets."""
    if isinstance(error, OSError) and error.filename is not None:
        shown = staging.shown(Path(os.fsdecode(error.filename)))
        return type(error)(error.errno, error.strerror, str(shown))
    if isinstance(error, LuodianMapError):
        text = str(error)
        for target, staged in staging.folders.items():
            text = text.replace(str(staged), str(target))
        return type(error)(text)
    return error
