"""Extraction time on the pathological sentences of issue 15: does it grow linearly?

    python benchmarks/pathological.py [--src DIR] [--timeout 120] [--sizes 4000 16000 ...]

Three sentences that once took time quadratic (or worse) in their length, each in the
2024 review of an otherwise minimal report, parsed and extracted in a fresh process:

* ``roads``: "新建" followed by N × "路" (every character a suffix, no name anywhere);
* ``digits``: "完成" followed by N digits (one run of figures without a unit);
* ``list``: N distinct roads ("甲乙路、丙丁路、…") in one sentence, then "建成".

``--src`` is the source folder put first on ``PYTHONPATH`` (default: this tree's ``src``;
``--src /path/to/an/older/checkout/src`` measures the code before). A run that passes
``--timeout`` seconds is killed and shown as such. Wall and CPU time are of the whole
child (interpreter start and imports included, about 0.1 s); "extract s" is
``parse_report`` + ``extract_items`` alone, as the child measured it.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import ROOT, machine, run_child, table

CHILD = """
import sys, time
from luodian_map.extract import extract_items
from luodian_map.report import parse_report

kind, n = sys.argv[1], int(sys.argv[2])
chars = "甲乙丙丁戊己庚辛壬癸子丑寅卯辰巳午未申酉戌亥松柏杨柳桃李梅兰竹菊春夏秋冬金银铜铁"
if kind == "roads":
    body = "新建" + "路" * n + "。"
elif kind == "digits":
    body = "完成" + "1" * n + "。"
else:
    k = len(chars)
    names = (chars[i % k] + chars[i // k % k] + chars[i // k // k] for i in range(n))
    body = "、".join(name + "路" for name in names) + "建成。"
text = (
    "某镇政府工作报告\\n\\n——2024年12月20日在某区某镇人民代表大会上\\n\\n"
    f"一、2024年工作回顾\\n\\n{body}\\n\\n二、2025年目标任务和重点工作\\n\\n加快建设示范路。\\n"
)
start = time.process_time()
items = extract_items(parse_report(text, "t"))
print(len(items), round(time.process_time() - start, 3))
"""

SIZES = {"roads": [4000, 16000, 200000], "digits": [20000, 200000], "list": [2000, 20000]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--src", type=Path, default=ROOT / "src")
    parser.add_argument("--timeout", type=float, default=120.0)
    parser.add_argument("--sizes", type=int, nargs="*", help="the same sizes for every case")
    args = parser.parse_args()
    env = {**os.environ, "PYTHONPATH": str(args.src.resolve())}
    print(machine())
    print(f"code: {args.src.resolve()}, timeout {args.timeout:g} s")
    rows = []
    for kind, sizes in SIZES.items():
        for n in args.sizes or sizes:
            run = run_child(
                [sys.executable, "-c", CHILD, kind, str(n)], ROOT, timeout=args.timeout, env=env
            )
            if run.timed_out:
                rows.append(
                    [kind, f"{n:,}", f"> {args.timeout:g}", f"{run.cpu_s:.2f}", "killed", ""]
                )
            elif run.returncode:
                sys.exit(f"{kind} {n}: exit {run.returncode}\n{run.stderr}")
            else:
                items, extract_s = run.stdout.split()
                rows.append(
                    [kind, f"{n:,}", f"{run.wall_s:.2f}", f"{run.cpu_s:.2f}", extract_s, items]
                )
            print(f"  {kind} {n:,}: {rows[-1][2]} s wall", file=sys.stderr)
    print(table(["input", "N", "wall s", "CPU s", "extract s", "items"], rows))


if __name__ == "__main__":
    main()
