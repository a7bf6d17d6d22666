"""What tying the build's child processes to it costs (issue 15).

    python benchmarks/processes.py [--runs 7] [--reports 12]

Each run is a fresh Python process (cold imports, as in a build), which times one section:

1. the chart process: from entering ``ChartProcess`` to its warm-up task done (the spawn,
   the imports, matplotlib), with a plain pool (before: its worker outlives a killed
   build) and with the pool of ``_process.tied_pool`` (now: ``PR_SET_PDEATHSIG``);
2. the extraction of ``--reports`` copies of the shipped report by a tied pool of 2
   workers (``extract.extract_reports``, a fresh cache), started by fork (now, as before)
   and by spawn (the alternative that forks nothing).

Wall time of the section, and CPU time (user + system) of the whole process with the
children it reaped, medians of ``--runs`` runs; variants round-robin, so that a burst of
load from other jobs hits them all alike.
"""

from __future__ import annotations

import argparse
import multiprocessing
import shutil
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import REPORT, ROOT, machine, median, run_child, table

VARIANTS = {
    "chart-plain": "chart process ready, plain pool (before)",
    "chart-tied": "chart process ready, tied pool (now)",
    "extract-fork": "extract {n} reports, tied fork pool (now)",
    "extract-spawn": "extract {n} reports, tied spawn pool",
}


def child(variant: str, corpus: Path) -> float:
    """Run one variant here; its wall time in seconds."""
    from luodian_map import _process
    from luodian_map.checks import process as chart_process

    if variant.startswith("chart"):
        if variant == "chart-plain":

            def plain(workers: int, method: str) -> ProcessPoolExecutor:
                return ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context(method))

            chart_process.tied_pool = plain  # type: ignore[assignment]
        start = time.perf_counter()
        with chart_process.ChartProcess(parallel=True) as charts:
            assert charts._pool is not None
            charts._pool.submit(_process.call, "luodian_map.charts", "warm_up").result()
            wall = time.perf_counter() - start
            charts._pool.shutdown(wait=True)  # reaped: its CPU time counts
        return wall

    from luodian_map.extract import extract_reports
    from luodian_map.gazetteer import GEODATA_DIR

    tied_pool = _process.tied_pool
    method = variant.removeprefix("extract-")
    _process.tied_pool = lambda workers, _: tied_pool(workers, method)  # type: ignore[assignment]
    paths = sorted(corpus.glob("*.txt"))
    with tempfile.TemporaryDirectory() as cache:
        start = time.perf_counter()
        extract_reports(
            paths, {"罗店镇": GEODATA_DIR / "gazetteer.geojson"}, cache_dir=Path(cache), workers=2
        )
        return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="runs per variant (median)")
    parser.add_argument("--reports", type=int, default=12, help="reports to extract")
    parser.add_argument("--child", choices=VARIANTS, help=argparse.SUPPRESS)
    parser.add_argument("--corpus", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(child(args.child, args.corpus))
        return
    corpus = Path(tempfile.mkdtemp(prefix="luodian-bench-reports-"))
    for i in range(args.reports):
        shutil.copy(REPORT, corpus / f"{i:03d}_{REPORT.name}")
    runs: dict[str, list[tuple[float, float]]] = {name: [] for name in VARIANTS}
    try:
        for _ in range(args.runs):
            for name in VARIANTS:
                command = [__file__, "--child", name, "--corpus", str(corpus)]
                run = run_child([sys.executable, *command], cwd=ROOT)
                if run.returncode != 0:
                    raise SystemExit(f"{name} failed:\n{run.stderr}")
                runs[name].append((float(run.stdout.split()[-1]), run.cpu_s))
    finally:
        shutil.rmtree(corpus)
    print(machine())
    rows = [
        [
            VARIANTS[name].format(n=args.reports),
            f"{median([wall for wall, _ in times]):.3f}",
            f"{min(wall for wall, _ in times):.3f}",
            f"{median([cpu for _, cpu in times]):.3f}",
        ]
        for name, times in runs.items()
    ]
    print(table(["section", "median wall s", "min wall s", "median CPU s (process)"], rows))


if __name__ == "__main__":
    main()
