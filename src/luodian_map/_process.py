"""Helpers for the stages that use a second core, and for tying the processes they start
to the process that started them."""

from __future__ import annotations

import importlib
import os
import signal
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # loaded by the functions that need them: this module is imported early
    from concurrent.futures import ProcessPoolExecutor

# Maps a module-level function over a list of arguments, results in the same order: how a
# stage hands its independent tasks to a cluster (``distributed.cluster_mapper``).
Mapper = Callable[[Callable[[Any], Any], Sequence[Any]], list[Any]]


def usable_cpus() -> int:
    """The CPUs this process may run on (its affinity on Linux, else all of them)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def call(module: str, function: str, *args: Any) -> Any:
    """``module.function(*args)``, importing ``module`` in the process that runs it: a task
    for a process pool that names its function instead of pickling a reference to it, so
    the process submitting it need not import the function's (heavy) module."""
    return getattr(importlib.import_module(module), function)(*args)


# Whether a child process can be made to end with its parent (PR_SET_PDEATHSIG of prctl(2)).
CAN_TIE = sys.platform.startswith("linux")
_PR_SET_PDEATHSIG = 1


def die_with_parent(parent: int) -> None:
    """Have the kernel kill this process (SIGKILL) when its parent ends, and end it now if
    its parent, the process ``parent``, has ended already (before this call: the race of
    ``PR_SET_PDEATHSIG``). Called first thing in a child process. Linux only (see
    :data:`CAN_TIE`); elsewhere it does nothing.

    "Parent" is the *thread* that started the child: a child started from a thread that
    ends before the child does is killed then too.
    """
    if not CAN_TIE:
        return
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        error = ctypes.get_errno()
        raise OSError(error, f"prctl(PR_SET_PDEATHSIG): {os.strerror(error)}")
    if os.getppid() != parent:
        os._exit(1)  # orphaned already: nobody waits for what this process would do


def tied_pool(workers: int, method: str) -> ProcessPoolExecutor:
    """A process pool of ``workers`` processes started by ``method`` ("fork" or "spawn":
    those whose workers are children of this process), which end when this process ends,
    however it ends (on Linux: :func:`die_with_parent`). Submit its first task from a
    thread that outlives the pool (the main thread)."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    return ProcessPoolExecutor(
        workers,
        mp_context=multiprocessing.get_context(method),
        initializer=die_with_parent,
        initargs=(os.getpid(),),
    )
