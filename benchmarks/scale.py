"""Build time and peak memory against corpus size: ``luodian-map build DIR --no-maps``.

    python benchmarks/scale.py [--sizes 1 10 100 1000] [--runs 3] [--timeout 900]
                               [--seed 0] [--profile N OUT.html] [--with-maps]

For each size N a synthetic corpus of N reports is generated (``benchmarks/corpus.py``,
seeded, so every machine builds the same corpus) into a scratch copy of the project and
built cold (outputs and caches removed first) ``--runs`` times; sizes of 1,000 reports and
more are built once. A rebuild with the extraction cache left warm is measured once per
size below 1,000 (``--warm-all``: every size). A run longer than ``--timeout`` is killed,
larger sizes are skipped, and the table extrapolates them from the per-report cost of the
largest measured size (and says so).

The table shows the median wall time, CPU time, time per report, peak RSS and features per
report; below it, the marginal cost per report between consecutive sizes, which stays
constant when growth is linear. Targets: 1,000 reports under 60 s and 1 GiB.
``--profile N OUT`` also profiles one build of N reports with pyinstrument (optional
package: ``pip install pyinstrument``). Scratch projects are deleted afterwards unless
``--keep`` is given (1,000 reports take ~0.5 GB).
"""

from __future__ import annotations

import argparse
import itertools
import os
import re
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    clean_outputs,
    cli_command,
    machine,
    median,
    run_child,
    scratch_project,
    table,
)
from corpus import generate

TARGET_1000_S = 60.0
TARGET_1000_MIB = 1024.0
SINGLE_RUN_FROM = 1000


def _features(stderr: str) -> int | None:
    m = re.search(r"(\d+) features", stderr)
    return int(m.group(1)) if m else None


def _profile(n: int, project: Path, maps: str, out_file: Path, timeout: float) -> None:
    """Profile one build of ``n`` reports with pyinstrument into ``out_file``."""
    from pipeline import __file__ as pipeline_file

    clean_outputs(project)
    out = str(out_file.resolve())
    prof = run_child(
        [sys.executable, pipeline_file, "--child", str(project),
         "--child-args", f"corpus{maps}", "--profile", out],
        project, timeout=timeout,
    )  # fmt: skip
    status = "written to" if prof.returncode == 0 else "FAILED, see"
    print(f"  pyinstrument profile of N={n} {status} {out}")
    if prof.returncode:
        print(prof.stderr[-2000:])


def _rows(measured: list[dict], skipped: list[int]) -> list[list]:
    """Table rows: the measured sizes, then the skipped ones extrapolated from the last."""
    rows = []
    for r in measured:
        feats = r["features"]
        rows.append([
            r["n"], r["runs"], f"{r['wall']:.2f}", f"{r['cpu']:.2f}",
            f"{1000 * r['wall'] / r['n']:.0f}", f"{r['peak']:.0f}",
            f"{feats / r['n']:.0f}" if feats else "?",
            f"{r['warm']:.2f}" if r["warm"] is not None else "?", f"{r['gen_s']:.1f}",
        ])  # fmt: skip
    if measured and skipped:
        last = measured[-1]
        per_report = last["wall"] / last["n"]
        for n in skipped:
            rows.append([n, 0, f"~{per_report * n:.0f} (extrapolated)", "", "", "", "", "", ""])
    return rows


def _print_marginal(measured: list[dict]) -> None:
    """The cost of each extra report between consecutive sizes."""
    if len(measured) < 2:
        return
    print("\nMarginal cost per extra report (linear growth keeps it flat):")
    for a, b in itertools.pairwise(measured):
        wall = (b["wall"] - a["wall"]) / (b["n"] - a["n"])
        cpu = (b["cpu"] - a["cpu"]) / (b["n"] - a["n"])
        mem = (b["peak"] - a["peak"]) / (b["n"] - a["n"])
        print(
            f"  {a['n']:>5} → {b['n']:<5}: {1000 * wall:7.1f} ms wall, "
            f"{1000 * cpu:7.1f} ms CPU, {1024 * mem:7.1f} KiB per report"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 10, 100, 1000])
    parser.add_argument("--runs", type=int, default=3, help="cold runs per size (median)")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds per build")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--keep", action="store_true", help="keep the scratch projects")
    parser.add_argument(
        "--with-maps", action="store_true", help="build maps and coverage too (no --no-maps)"
    )
    parser.add_argument(
        "--warm-all", action="store_true", help="also time the warm rebuild of 1,000+ reports"
    )
    parser.add_argument("--profile", nargs=2, metavar=("N", "OUT"), help="profile N reports")
    args = parser.parse_args(argv)
    if args.profile:
        try:
            import pyinstrument  # noqa: F401
        except ImportError:
            print("--profile needs pyinstrument: pip install pyinstrument", file=sys.stderr)
            return 1

    cli = cli_command()
    print(f"machine: {machine()}")
    maps = "" if args.with_maps else " --no-maps"
    print(f"command: {' '.join(cli)} build corpus{maps}   seed: {args.seed}\n")
    measured: list[dict] = []
    skipped: list[int] = []
    for n in sorted(args.sizes):
        if skipped:
            skipped.append(n)
            continue
        project = scratch_project(prefix=f"luodian-scale-{n}-")
        try:
            t0 = time.perf_counter()
            generate(n, project / "corpus", seed=args.seed)
            gen_s = time.perf_counter() - t0
            cmd = [*cli, "build", "corpus", *([] if args.with_maps else ["--no-maps"])]
            runs = []
            for _ in range(1 if n >= SINGLE_RUN_FROM else args.runs):
                clean_outputs(project)
                run = run_child(cmd, project, timeout=args.timeout)
                if run.timed_out:
                    print(f"N={n}: killed after {args.timeout:.0f} s; larger sizes skipped")
                    skipped.append(n)
                    break
                if run.returncode != 0:
                    raise SystemExit(f"N={n}: build failed:\n{run.stderr[-3000:]}")
                runs.append(run)
            if not runs:
                continue
            row = {
                "n": n,
                "runs": len(runs),
                "gen_s": gen_s,
                "wall": median([r.wall_s for r in runs]),
                "cpu": median([r.cpu_s for r in runs]),
                "peak": median([r.peak_mib for r in runs]),
                "warm": None,
                "features": _features(runs[-1].stderr),
            }
            measured.append(row)
            print(
                f"N={n:5d}: {row['wall']:7.2f} s wall, {row['cpu']:7.2f} s CPU, "
                f"{row['peak']:6.0f} MiB, {row['features']} features (median of {len(runs)})",
                flush=True,
            )
            if n < SINGLE_RUN_FROM or args.warm_all:  # the extraction cache is filled now
                warm = run_child(cmd, project, timeout=args.timeout)
                if warm.returncode == 0 and not warm.timed_out:
                    row["warm"] = warm.wall_s
            if args.profile and int(args.profile[0]) == n:
                _profile(n, project, maps, Path(args.profile[1]), args.timeout * 3)
        finally:
            if not args.keep:
                shutil.rmtree(project, ignore_errors=True)

    rows = _rows(measured, skipped)
    print()
    headers = ["reports", "runs", "wall s", "CPU s", "ms/report", "peak MiB",
               "features/report", "warm rebuild s", "generate s"]  # fmt: skip
    print(table(headers, rows))
    _print_marginal(measured)
    big = next((r for r in measured if r["n"] == 1000), None)
    if big:
        ok = big["wall"] < TARGET_1000_S and big["peak"] < TARGET_1000_MIB
        print(
            f"\n1,000 reports: {big['wall']:.1f} s, {big['peak']:.0f} MiB — "
            f"target < {TARGET_1000_S:.0f} s and < {TARGET_1000_MIB:.0f} MiB: "
            f"{'met' if ok else 'NOT met'}"
        )
    # the load at the start is in the machine line: other jobs may have come and gone since
    print(f"\nload average at the end: {'/'.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
