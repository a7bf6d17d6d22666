"""Helpers for the stages that use a second core."""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Sequence
from typing import Any

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
