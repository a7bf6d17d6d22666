"""Wall time and peak memory of ``luodian-map build`` on the shipped report, and per stage.

    python benchmarks/pipeline.py [--runs 5] [--profile OUT.html]

In a scratch copy of the project (``geodata/`` only), with outputs and caches removed
before every run so each one is cold:

1. ``luodian-map --help`` (target < 0.3 s);
2. ``luodian-map build`` and ``luodian-map build --no-maps`` as separate processes
   (target < 2 s end to end), plus a rebuild with the extraction cache left warm;
3. the same build in one fresh child process, with the stage functions wrapped by
   ``time.perf_counter``/``time.process_time`` timers:

   - import: every module the build loads at top level (lazy imports inside a stage, such
     as folium in render or fiona in write, count for that stage);
   - ingest: ``report.load_report``;
   - extract: ``extract.known_places``, ``extract.extract_items``;
   - link: ``link.link_items`` (called by geocode_items);
   - geocode: ``gazetteer.load_gazetteer``, ``Gazetteer()``, ``geocode.geocode_items``;
   - write: ``layers.write_layers``;
   - render: ``render.render_map`` (every map build writes);
   - check: ``layers.read_layers``, ``checks.run_checks``, ``checks.write_coverage``;
   - other: the rest (argument parsing, extraction cache, glue).

   Time inside a nested timed function counts for the inner stage only; a function missing
   from the installed version is listed as not timed. The coverage charts are drawn in a
   second process (``checks.ChartProcess``) while the maps render: "check" holds only what
   the build waits for, and the CPU time of the cold runs includes that process.

Every figure is the median of ``--runs`` runs (default 5), since the machine is shared.
``--profile OUT`` also profiles one in-process build with pyinstrument (optional package:
``pip install pyinstrument``) and writes OUT (.html, or text for any other suffix).
The scratch projects are deleted at the end unless ``--keep`` is given.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
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

TARGET_BUILD_S = 2.0
TARGET_HELP_S = 0.3
STAGES = ("import", "ingest", "extract", "link", "geocode", "write", "render", "check", "other")
# stage → (module, attribute) of the functions timed for it; missing ones are skipped, so
# the script keeps working while the modules change.
TIMED = {
    "ingest": [("luodian_map.report", "load_report")],
    "extract": [("luodian_map.extract", "known_places"), ("luodian_map.extract", "extract_items")],
    "link": [("luodian_map.link", "link_items")],
    "geocode": [
        ("luodian_map.gazetteer", "load_gazetteer"),
        ("luodian_map.gazetteer", "Gazetteer.__init__"),
        ("luodian_map.geocode", "geocode_items"),
    ],
    "write": [("luodian_map.layers", "write_layers")],
    "render": [("luodian_map.web", "render_map")],
    "check": [
        ("luodian_map.layers", "read_layers"),
        ("luodian_map.checks", "run_checks"),
        ("luodian_map.checks", "write_coverage"),
    ],
}
MODULES = (
    "luodian_map.cli", "luodian_map.report", "luodian_map.extract", "luodian_map.gazetteer",
    "luodian_map.link", "luodian_map.geocode", "luodian_map.layers", "luodian_map.web",
    "luodian_map.checks",
)  # fmt: skip


# --- the child: one build in this process, timed per stage ----------------------------------


class _StageClock:
    """Exclusive time per stage: time in a nested timed call goes to the inner stage only.

    Wall time (``perf_counter``) and CPU time (``process_time``) are kept side by side.
    """

    def __init__(self) -> None:
        self.wall = dict.fromkeys(STAGES, 0.0)
        self.cpu = dict.fromkeys(STAGES, 0.0)
        # [stage, wall at start, cpu at start, wall of nested calls, cpu of nested calls]
        self._stack: list[list] = []

    def wrap(self, stage: str, fn):
        @functools.wraps(fn)
        def timed(*args, **kwargs):
            frame = [stage, time.perf_counter(), time.process_time(), 0.0, 0.0]
            self._stack.append(frame)
            try:
                result = fn(*args, **kwargs)
            finally:
                self._stack.pop()
                wall = time.perf_counter() - frame[1]
                cpu = time.process_time() - frame[2]
                self.wall[stage] += wall - frame[3]
                self.cpu[stage] += cpu - frame[4]
                if self._stack:
                    self._stack[-1][3] += wall
                    self._stack[-1][4] += cpu
            return result

        return timed


def _patch(clock: _StageClock) -> list[str]:
    """Wrap every stage function wherever a luodian_map module holds a reference to it."""
    import importlib

    missing = []
    for stage, targets in TIMED.items():
        for module_name, attr in targets:
            try:
                module = importlib.import_module(module_name)
            except ImportError:
                missing.append(f"{module_name}.{attr}")
                continue
            if "." in attr:  # a method
                cls_name, meth = attr.split(".")
                cls = getattr(module, cls_name, None)
                if cls is None or meth not in vars(cls):
                    missing.append(f"{module_name}.{attr}")
                    continue
                setattr(cls, meth, clock.wrap(stage, vars(cls)[meth]))
                continue
            original = getattr(module, attr, None)
            if original is None:
                missing.append(f"{module_name}.{attr}")
                continue
            wrapped = clock.wrap(stage, original)
            for name, mod in list(sys.modules.items()):
                if name.startswith("luodian_map") and mod is not None:
                    for key, value in list(vars(mod).items()):
                        if value is original:
                            setattr(mod, key, wrapped)
    return missing


def child(project: Path, build_args: list[str], profile: str | None) -> None:
    """Run one build in-process (cwd = project) and print the stage times as JSON."""
    import contextlib
    import io
    import resource

    os.chdir(project)
    start, cpu_start = time.perf_counter(), time.process_time()
    import importlib

    for name in MODULES:
        with contextlib.suppress(ImportError):
            importlib.import_module(name)
    import_s = time.perf_counter() - start
    import_cpu = time.process_time() - cpu_start
    from luodian_map import cli

    clock = _StageClock()
    missing = _patch(clock)
    profiler = None
    if profile:
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.001)
        profiler.start()
    work_start, work_cpu_start = time.perf_counter(), time.process_time()
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr):
        status = cli.main(["build", *build_args])
    work_s = time.perf_counter() - work_start
    work_cpu = time.process_time() - work_cpu_start
    if profiler is not None:
        profiler.stop()
        out = Path(profile)
        if out.suffix == ".html":
            out.write_text(profiler.output_html(), "utf-8")
        else:
            out.write_text(profiler.output_text(unicode=True, show_all=False), "utf-8")
    wall, cpu = dict(clock.wall), dict(clock.cpu)
    wall["import"], cpu["import"] = import_s, import_cpu
    wall["other"] = work_s - sum(v for k, v in clock.wall.items() if k != "import")
    cpu["other"] = work_cpu - sum(v for k, v in clock.cpu.items() if k != "import")
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        json.dumps(
            {
                "status": status,
                "stages": wall,
                "cpu": cpu,
                "total": import_s + work_s,
                "total_cpu": import_cpu + work_cpu,
                "peak_mib": peak_mib,
                "missing": missing,
                "stderr": stderr.getvalue()[-2000:],
            }
        )
    )


# --- the parent -----------------------------------------------------------------------------


def _fmt(seconds: float) -> str:
    return f"{seconds:.3f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="runs per figure (median)")
    parser.add_argument("--profile", help="also write a pyinstrument profile here (.html/.txt)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch projects")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--child-args", default="", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child, args.child_args.split(), args.profile)
        return 0
    if args.profile:
        try:
            import pyinstrument  # noqa: F401
        except ImportError:
            print("--profile needs pyinstrument: pip install pyinstrument", file=sys.stderr)
            return 1

    project = scratch_project(prefix="luodian-pipeline-")
    warm_project = scratch_project(prefix="luodian-pipeline-")
    try:
        return _measure(args, project, warm_project)
    finally:
        if not args.keep:
            shutil.rmtree(project, ignore_errors=True)
            shutil.rmtree(warm_project, ignore_errors=True)


def _measure(args: argparse.Namespace, project: Path, warm_project: Path) -> int:
    cli = cli_command()
    print(f"machine: {machine()}")
    print(f"scratch project: {project}   command: {' '.join(cli)}   runs: {args.runs}")
    print("(variants run round-robin, so a burst of load from other jobs hits them all)\n")

    variants = [
        ("luodian-map --help", [*cli, "--help"], project, TARGET_HELP_S),
        ("luodian-map build", [*cli, "build"], project, TARGET_BUILD_S),
        ("luodian-map build --no-maps", [*cli, "build", "--no-maps"], project, TARGET_BUILD_S),
        ("build --no-maps, extraction cache warm", [*cli, "build", "--no-maps"], warm_project,
         None),
    ]  # fmt: skip
    _check(run_child(variants[-1][1], warm_project, timeout=300), variants[-1][1])  # prime
    child_cmd = [sys.executable, __file__, "--child", str(project), "--child-args", ""]
    runs: dict[str, list] = {label: [] for label, *_ in variants}
    results = []
    for _ in range(args.runs):
        for label, cmd, where, _target in variants:
            if where is project:
                clean_outputs(project)
            runs[label].append(_check(run_child(cmd, where, timeout=300), cmd))
        clean_outputs(project)
        results.append(_child_result(run_child(child_cmd, project, timeout=300)))

    rows = []
    for label, _cmd, _where, target in variants:
        walls = [r.wall_s for r in runs[label]]
        mid = median(walls)
        verdict = "" if target is None else ("ok" if mid < target else f"over {target} s")
        rows.append([label, _fmt(mid), _fmt(min(walls)), _fmt(max(walls)),
                     _fmt(median([r.cpu_s for r in runs[label]])),
                     f"{median([r.peak_mib for r in runs[label]]):.0f}", verdict])  # fmt: skip
    print("Cold processes (wall and CPU time in s, peak RSS of the process):")
    print(table(["command", "median s", "min s", "max s", "CPU s", "peak MiB", "target"], rows))

    total = median([r["total"] for r in results])
    total_cpu = median([r["total_cpu"] for r in results])
    stage_rows = []
    for stage in STAGES:
        mid = median([r["stages"][stage] for r in results])
        cpu = median([r["cpu"][stage] for r in results])
        stage_rows.append([stage, _fmt(mid), f"{100 * mid / total:.0f} %", _fmt(cpu)])
    stage_rows.append(["total (in-process)", _fmt(total), "100 %", _fmt(total_cpu)])
    peak = median([r["peak_mib"] for r in results])
    print(f"\nStages of one build in a fresh process (median of {len(results)}; "
          f"peak {peak:.0f} MiB):")  # fmt: skip
    print(table(["stage", "median s", "share", "CPU s"], stage_rows))
    if results[0]["missing"]:
        print("not timed (not found in this version):", ", ".join(results[0]["missing"]))
    top = max(STAGES, key=lambda s: median([r["stages"][s] for r in results]))
    print(f"\ndominant stage: {top}")

    if args.profile:
        clean_outputs(project)
        out = str(Path(args.profile).resolve())
        _child_result(run_child([*child_cmd, "--profile", out], project, timeout=300))
        print(f"pyinstrument profile of one in-process build written to {out}")
    return 0


def _check(run, cmd: list[str]):
    if run.returncode != 0 or run.timed_out:
        raise SystemExit(f"{' '.join(cmd)} failed ({run.returncode}):\n{run.stderr[-3000:]}")
    return run


def _child_result(run) -> dict:
    if run.returncode != 0 or not run.stdout.strip():
        raise SystemExit(f"in-process build failed:\n{run.stderr[-3000:]}")
    data = json.loads(run.stdout.strip().splitlines()[-1])
    if data["status"] != 0:
        raise SystemExit(f"in-process build failed:\n{data['stderr']}")
    return data


if __name__ == "__main__":
    sys.exit(main())
