"""A build without and with a Dask cluster, and the exports, on synthetic corpora.

    python benchmarks/cluster.py [--sizes 1000] [--seed 0] [--postgis URL] [--keep]

For each size N a synthetic corpus (``corpus.py``, seeded) is built cold, once each:

* ``luodian-map build corpus --no-maps`` (extraction in one process per CPU);
* ``luodian-map build corpus --no-maps --scheduler local``: a Dask ``LocalCluster`` of one
  single-threaded worker process per CPU (2 on the reference machine), started and
  stopped by the build, so its start-up is in the figure;

the two layer folders are compared byte for byte; then the layers are exported with
``luodian-map export --geoparquet`` and ``--postgis`` (to ``--postgis URL``, else to a
throw-away server started as the tests start theirs, when PostgreSQL + PostGIS are
installed).

Each row gives wall time, CPU time (``os.wait4``: the process and the children it reaped),
the peak RSS of the largest single process (``ru_maxrss``) and the peak of the summed RSS
of every process the command ran (sampled every 50 ms with psutil): with a cluster, the
workers' memory counts too.
"""

from __future__ import annotations

import argparse
import contextlib
import filecmp
import os
import shutil
import sys
import threading
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from _common import cli_command, machine, run_child, scratch_project, table
from corpus import generate

BUILDS = (("build", []), ("build --scheduler local", ["--scheduler", "local"]))


class TreeMemory:
    """Peak of the summed RSS of this process's descendants while in the block."""

    def __init__(self, interval_s: float = 0.05) -> None:
        self.interval_s = interval_s
        self.peak_bytes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        me = psutil.Process()
        while not self._stop.is_set():
            total = 0
            for child in me.children(recursive=True):
                with contextlib.suppress(psutil.Error):  # it ended meanwhile
                    total += child.memory_info().rss
            self.peak_bytes = max(self.peak_bytes, total)
            self._stop.wait(self.interval_s)

    def __enter__(self) -> TreeMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _measure(label: str, cmd: list[str], cwd: Path) -> list[object]:
    with TreeMemory() as tree:
        run = run_child(cmd, cwd)
    if run.returncode != 0:
        raise SystemExit(f"{label} failed:\n{run.stderr[-3000:]}")
    row = [label, f"{run.wall_s:.1f}", f"{run.cpu_s:.1f}", f"{run.peak_mib:.0f}",
           f"{tree.peak_bytes / 2**20:.0f}"]  # fmt: skip
    print("  " + " | ".join(map(str, row)), flush=True)
    return row


def _identical(left: Path, right: Path) -> bool:
    names = sorted(p.name for p in left.iterdir())
    if names != sorted(p.name for p in right.iterdir()):
        return False
    _, mismatch, errors = filecmp.cmpfiles(left, right, names, shallow=False)
    return not mismatch and not errors


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--postgis", metavar="URL", help="export to this database")
    parser.add_argument("--keep", action="store_true", help="keep the scratch projects")
    args = parser.parse_args(argv)
    cli = cli_command()
    print(f"machine: {machine()}")
    server = None
    url = args.postgis
    if url is None:
        import postgres

        if postgres.missing() is None:
            server = postgres.start()
            url = server.url()
    try:
        for n in args.sizes:
            project = scratch_project(prefix=f"luodian-cluster-{n}-")
            try:
                generate(n, project / "corpus", seed=args.seed)
                print(f"\n{n} reports:", flush=True)
                rows = []
                for label, extra in BUILDS:
                    shutil.rmtree(project / ".cache", ignore_errors=True)
                    layers = "layers_" + ("cluster" if extra else "local")
                    cmd = [*cli, "build", "corpus", "--no-maps", "--layers", layers, *extra]
                    rows.append(_measure(label, cmd, project))
                same = _identical(project / "layers_local", project / "layers_cluster")
                print(f"  layers byte-identical: {same}")
                export = [*cli, "export", "--layers", "layers_local"]
                rows.append(
                    _measure("export --geoparquet", [*export, "--geoparquet", "l.parquet"], project)
                )
                if url:
                    rows.append(_measure("export --postgis", [*export, "--postgis", url], project))
                sizes = {
                    "GeoJSON (all categories)": sum(
                        p.stat().st_size for p in (project / "layers_local").glob("*.geojson")
                    ),
                    "GeoPackage": (project / "layers_local" / "luodian.gpkg").stat().st_size,
                    "GeoParquet": (project / "l.parquet").stat().st_size,
                }
                print()
                headers = ["command", "wall s", "CPU s", "peak MiB (largest process)",
                           "peak MiB (all processes)"]  # fmt: skip
                print(table(headers, rows))
                print(
                    "\nfile sizes: "
                    + ", ".join(f"{k} {v / 2**20:.1f} MiB" for k, v in sizes.items())
                )
            finally:
                if not args.keep:
                    shutil.rmtree(project, ignore_errors=True)
    finally:
        if server is not None:
            server.stop()
    print(f"\nload average at the end: {'/'.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
