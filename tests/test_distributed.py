"""``luodian-map build --scheduler``: real ``dask scheduler`` / ``dask worker`` processes on
127.0.0.1, compared byte for byte with a build without a scheduler."""

from __future__ import annotations

import filecmp
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from luodian_map import distributed
from luodian_map.cli import main

ROOT = Path(__file__).resolve().parents[1]
GEODATA = ROOT / "geodata"
sys.path.insert(0, str(ROOT / "benchmarks"))

from corpus import generate  # noqa: E402

from postgres import free_port  # noqa: E402

DASK = shutil.which("dask")
START_TIMEOUT_S = 60


def _dask_env() -> dict[str, str]:
    """Workers import this checkout's package, as the tests do."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT / "src"), env.get("PYTHONPATH")]))
    return env


def _start_worker(address: str) -> subprocess.Popen:
    # no nanny: a killed worker stays dead, as a lost machine would
    return subprocess.Popen(
        [DASK, "worker", address, "--nthreads", "1", "--no-nanny", "--host", "127.0.0.1",
         "--no-dashboard"],
        env=_dask_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


def _workers(address: str) -> set[str]:
    from distributed import Client

    with Client(address, timeout=START_TIMEOUT_S) as client:
        return set(client.scheduler_info()["workers"])


def _wait_for_workers(address: str, n: int) -> None:
    from distributed import Client

    with Client(address, timeout=START_TIMEOUT_S) as client:
        client.wait_for_workers(n, timeout=START_TIMEOUT_S)


@pytest.fixture(scope="module")
def cluster():
    """A scheduler and two single-threaded workers; yields the scheduler's address."""
    if DASK is None:
        pytest.fail("the 'dask' command is missing: pip install 'dask[distributed]'")
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    processes = [
        subprocess.Popen(
            [DASK, "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
            env=_dask_env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    ]
    try:
        processes += [_start_worker(address) for _ in range(2)]
        _wait_for_workers(address, 2)
        yield address
    finally:
        for process in processes:
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return generate(16, tmp_path_factory.mktemp("corpus"))


def _build(corpus: Path, out: Path, *extra: str) -> Path:
    """``luodian-map build --no-maps`` into ``out``; returns the layers folder."""
    layers = out / "layers"
    status = main(
        ["build", str(corpus), "--no-maps", "--geodata", str(GEODATA), "--layers", str(layers),
         "--cache", str(out / "cache" / "geocode.sqlite"), *extra]
    )  # fmt: skip
    assert status == 0
    return layers


@pytest.fixture(scope="module")
def local_layers(corpus, tmp_path_factory):
    return _build(corpus, tmp_path_factory.mktemp("local"))


def _assert_identical(left: Path, right: Path) -> None:
    names = sorted(p.name for p in left.iterdir())
    assert names == sorted(p.name for p in right.iterdir())
    assert "luodian.gpkg" in names and "road.geojson" in names
    _, mismatch, errors = filecmp.cmpfiles(left, right, names, shallow=False)
    assert mismatch == errors == []


def _tasks(address: str) -> dict[str, tuple[int, int]]:
    """Per task function: how many tasks of it finished, how many were on a worker that
    died (the scheduler's counts since it started)."""
    from distributed import Client

    def counts(dask_scheduler):
        return {
            name: (prefix.state_counts["memory"], prefix.suspicious)
            for name, prefix in dask_scheduler.task_prefixes.items()
        }

    with Client(address, timeout=START_TIMEOUT_S) as client:
        return client.run_on_scheduler(counts)


def test_cluster_build_equals_local_build(cluster, corpus, local_layers, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    layers = _build(corpus, tmp_path, "--scheduler", cluster)
    _assert_identical(local_layers, layers)
    assert len(list((tmp_path / "cache" / "items").iterdir())) == 16  # the workers' cache
    finished, _ = _tasks(cluster)["extract_and_store"]
    assert finished >= 16  # one task per report ran on the cluster
    assert _tasks(cluster)["place_entities"][0] >= 2  # one per town: 罗店, 月浦


def test_cluster_build_survives_a_killed_worker(cluster, corpus, local_layers, tmp_path):
    from distributed import Client

    before = _workers(cluster)
    doomed = _start_worker(cluster)
    _wait_for_workers(cluster, len(before) + 1)
    (address,) = _workers(cluster) - before
    suspicious_before = _tasks(cluster).get("extract_and_store", (0, 0))[1]
    build = threading.Thread(target=_build, args=(corpus, tmp_path, "--scheduler", cluster))
    killed_with = []
    with Client(cluster, timeout=START_TIMEOUT_S) as client:
        build.start()
        while build.is_alive() and not killed_with:
            held = client.processing(workers=[address]).get(address, [])
            if held:  # it holds tasks of the build: it dies now, without a word
                doomed.send_signal(signal.SIGKILL)
                killed_with = held
            time.sleep(0.01)
        build.join(timeout=START_TIMEOUT_S)
    doomed.wait()
    assert killed_with, "the build ended before the worker held a task"
    assert not build.is_alive()
    assert address not in _workers(cluster)
    assert _tasks(cluster)["extract_and_store"][1] > suspicious_before  # tasks were lost…
    _assert_identical(local_layers, tmp_path / "layers")  # …and run again elsewhere


def test_local_cluster_build_equals_local_build(corpus, local_layers, tmp_path):
    _assert_identical(local_layers, _build(corpus, tmp_path, "--scheduler", "local"))


def test_no_scheduler_is_one_error_line(corpus, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(distributed, "CONNECT_TIMEOUT_S", 1.0)
    address = f"tcp://127.0.0.1:{free_port()}"
    status = main(
        ["build", str(corpus), "--no-maps", "--geodata", str(GEODATA),
         "--layers", str(tmp_path / "layers"), "--scheduler", address]
    )  # fmt: skip
    assert status == 2
    err = capsys.readouterr().err.splitlines()
    assert err[-1].startswith(f"luodian-map: error: {address}: no Dask scheduler")
    assert not (tmp_path / "layers").exists()
