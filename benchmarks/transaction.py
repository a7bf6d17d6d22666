"""What making a build one transaction costs: ``luodian-map build`` of the shipped report
with this tree's code and with an earlier tree's (``--before SRC``, e.g. a checkout of main
without ``outputs.py``), and the parts of the transaction timed inside the build.

Each build is a rebuild (outputs and the extraction cache present), as a planner runs it
again and again; the first, cold one is not counted.

    python benchmarks/transaction.py [--runs 5] [--before /path/to/other/src]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from pathlib import Path

from _common import REPORT, machine, median, run_child, scratch_project, table

SRC = Path(__file__).resolve().parents[1] / "src"

# times the transaction's steps inside one build, printed as JSON on stdout
TIMED_BUILD = """
import json, sys, time
from luodian_map import cli, outputs
spent = {}
def timed(name, function):
    def wrapper(*args, **kwargs):
        start = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            spent[name] = spent.get(name, 0.0) + time.perf_counter() - start
    return wrapper
outputs._check_replaceable = timed("checks", outputs._check_replaceable)
outputs._seal = timed("carry over + manifests", outputs._seal)
outputs._switch = timed("journal + switch + old removed", outputs._switch)
status = cli.main(["build", sys.argv[1]])
print(json.dumps(spent))
sys.exit(status)
"""


def builds(trees: dict[str, Path], runs: int) -> dict[str, tuple[list[float], list[float]]]:
    """Wall and CPU seconds of ``runs`` rebuilds with each tree's code, each in its own
    scratch project, the trees taking turns (so that a change of load hits both)."""
    projects = {label: scratch_project() for label in trees}
    command = [sys.executable, "-m", "luodian_map.cli", "build", str(REPORT)]
    times: dict[str, tuple[list[float], list[float]]] = {label: ([], []) for label in trees}
    try:
        for n in range(runs + 1):
            for label, src in trees.items():
                env = {**os.environ, "PYTHONPATH": str(src)}
                run = run_child(command, projects[label], env=env)
                assert run.returncode == 0, run.stderr
                if n:
                    times[label][0].append(run.wall_s)
                    times[label][1].append(run.cpu_s)
    finally:
        for project in projects.values():
            shutil.rmtree(project)
    return times


def steps(runs: int) -> dict[str, list[float]]:
    """Seconds of each step of the transaction, over ``runs`` rebuilds."""
    project = scratch_project()
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    found: dict[str, list[float]] = {}
    try:
        for n in range(runs + 1):
            run = run_child([sys.executable, "-c", TIMED_BUILD, str(REPORT)], project, env=env)
            assert run.returncode == 0, run.stderr
            for name, seconds in json.loads(run.stdout).items():
                if n:
                    found.setdefault(name, []).append(seconds)
    finally:
        shutil.rmtree(project)
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--before", type=Path, help="the src/ folder of the code to compare")
    args = parser.parse_args()
    print(machine())
    trees = {"this tree": SRC, **({"before": args.before} if args.before else {})}
    rows = [
        [label, f"{median(walls):.2f}", f"{median(cpus):.2f}"]
        for label, (walls, cpus) in builds(trees, args.runs).items()
    ]
    print(table([f"build, median of {args.runs}", "wall s", "CPU s"], rows))
    timed = steps(args.runs)
    rows = [[name, f"{median(values) * 1000:.1f}"] for name, values in timed.items()]
    print(table(["transaction step (inside build)", "median ms"], rows))


if __name__ == "__main__":
    main()
