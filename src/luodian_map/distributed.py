"""Scale-out on Dask: the independent tasks of a build run on a cluster.

``luodian-map build DIR --scheduler tcp://host:8786`` sends the extraction of each report
and the placing of each town's entities to an existing ``dask.distributed`` cluster;
``--scheduler local`` starts a ``LocalCluster`` of one single-threaded worker process per
CPU on this machine. Linking (which spans reports) and writing the layers stay on the
client, so the result is byte-identical to a build without a scheduler.

The workers run this package on the same files as the client: it must be installed in
the same version on every worker, and the reports, gazetteers and the extraction cache
must lie at the same paths (a shared file system), as for any Dask cluster reading files.
A worker that dies takes its tasks with it; the scheduler runs them again elsewhere (up to
its ``allowed-failures``, 3 by default).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import math
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from ._process import Mapper, usable_cpus
from .errors import LuodianMapError

LOCAL = "local"
# Jobs are sent in batches, about this many per worker: enough to balance reports of
# different lengths and to lose little when a worker dies, few enough that the
# scheduler's cost per task does not show.
TASKS_PER_WORKER = 8
# How long to wait for a scheduler to answer and for its first worker to join.
CONNECT_TIMEOUT_S = 10.0


@contextlib.contextmanager
def cluster_mapper(scheduler: str | None) -> Iterator[Mapper | None]:
    """A :data:`~luodian_map._process.Mapper` running tasks on the Dask cluster at
    ``scheduler`` (an address, or ``"local"`` for a new ``LocalCluster``), or None
    without a scheduler. The cluster a ``"local"`` starts is closed on leaving.

    Raises
    ------
    LuodianMapError
        No scheduler answers, it has no worker, or the workers run other code.
    """
    if scheduler is None:
        yield None
        return
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise LuodianMapError(
            "--scheduler needs dask.distributed: pip install 'dask[distributed]'"
        ) from None
    with contextlib.ExitStack() as stack:
        address: Any = scheduler
        if scheduler == LOCAL:
            address = stack.enter_context(
                LocalCluster(
                    n_workers=usable_cpus(),
                    threads_per_worker=1,
                    processes=True,
                    host="127.0.0.1",
                    dashboard_address=":0",  # a free port: 8787 may be taken
                    silence_logs=logging.ERROR,
                )
            )
        try:
            client = stack.enter_context(Client(address, timeout=CONNECT_TIMEOUT_S))
            client.wait_for_workers(1, timeout=CONNECT_TIMEOUT_S)
        except (OSError, TimeoutError, ValueError) as error:
            raise LuodianMapError(
                f"{scheduler}: no Dask scheduler with a worker answered within "
                f"{CONNECT_TIMEOUT_S:g} s ({_first_line(error)})"
            ) from None
        _check_workers(client, scheduler)
        yield _ClientMapper(client)


def _first_line(error: BaseException) -> str:
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return lines[0] if lines else type(error).__name__


def package_digest() -> str:
    """One digest of this package's code and data: equal on client and workers when they
    run the same version."""
    root = Path(__file__).parent
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file() and p.suffix != ".pyc"):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def _check_workers(client: Any, scheduler: str) -> None:
    """Every worker must import this package, in the same version as the client."""
    try:
        digests = client.run(package_digest)
    except Exception as error:  # whatever the worker raised on importing or running it
        raise LuodianMapError(
            f"{scheduler}: the workers cannot run luodian-map ({_first_line(error)}); "
            "install it on every worker"
        ) from None
    own = package_digest()
    others = sorted(worker for worker, digest in digests.items() if digest != own)
    if others:
        raise LuodianMapError(
            f"{scheduler}: {', '.join(others)} run(s) another version of luodian-map "
            "than this client; install the same one on every worker"
        )


def run_batch(batch: tuple[Callable[[Any], Any], Sequence[Any]]) -> list[Any]:
    """``function`` applied to each job of a batch: one Dask task."""
    function, jobs = batch
    return [function(job) for job in jobs]


class _ClientMapper:
    """Maps a function over arguments as one Dask task each, results in order."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def __call__(self, function: Callable[[Any], Any], jobs: Sequence[Any]) -> list[Any]:
        from distributed import KilledWorker

        workers = max(1, len(self.client.scheduler_info()["workers"]))
        size = max(1, math.ceil(len(jobs) / (TASKS_PER_WORKER * workers)))
        batches = [(function, jobs[i : i + size]) for i in range(0, len(jobs), size)]
        run = uuid.uuid4().hex  # tasks named after the function, as the dashboard shows them
        keys = [f"{function.__name__.lstrip('_')}-{run}-{i}" for i in range(len(batches))]
        futures = self.client.map(run_batch, batches, key=keys)
        try:
            return [result for batch in self.client.gather(futures) for result in batch]
        except KilledWorker as error:
            raise LuodianMapError(
                f"Dask workers kept dying while running {function.__name__} ({_first_line(error)})"
            ) from None
        finally:
            self.client.cancel(futures)
