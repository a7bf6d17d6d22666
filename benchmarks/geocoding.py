"""Look-ups per second: the gazetteer (exact, alias, fuzzy, unknown) and the answer cache.

    python benchmarks/geocoding.py [--n 100000] [--repeat 3] [--seed 0]

Gazetteer (``gazetteer.Gazetteer``, the Luodian gazetteer of ``geodata/``), N names per
kind of query:

* exact: feature names as the gazetteer writes them (drawn with replacement: the gazetteer
  has ~115 names, so after the first sight of a name the matcher's memo answers);
* alias: aliases, likewise;
* fuzzy: distinct misspellings (one character of a 9+ character name or alias replaced), so
  every one is new to the memo and goes through rapidfuzz;
* unknown: distinct invented names ("…村", "…路", …), which go through rapidfuzz and the
  "parent" prefix search and mostly find nothing.

Each kind is timed one name at a time through ``Gazetteer.match`` (what the geocoder chain
does per item) and in one ``Gazetteer.match_many`` call, each with a fresh ``Gazetteer`` so
the memo starts empty; the "found as" column checks the queries really took that path.

Cache (``cache.GeocodeCache``, a temporary SQLite file): N ``put`` (one transaction each),
N ``get`` that hit, N ``get`` that miss, and reopening the N-row file (the integrity check
on open reads every page).

Every rate is the median of ``--repeat`` runs.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import machine, table
from corpus import GAZETTEER

_ORDINALS = set("0123456789零一二三四五六七八九十百甲乙丙丁第")
_TAILS = ("村", "路", "公园", "中心", "居委会", "广场", "河", "站", "苑", "小区")


def queries(gdf, n: int, seed: int) -> dict[str, list[str]]:
    """N query names per kind, reproducible from the seed."""
    rng = random.Random(f"geocoding:{seed}")
    names = sorted(gdf["name"])
    aliases = sorted({a for row in gdf["aliases"] for a in row} - set(names))
    chars = sorted({c for s in names + aliases for c in s if "\u4e00" <= c <= "\u9fff"})
    long = [s for s in names + aliases if len(s) >= 9]
    fuzzy: set[str] = set()
    while len(fuzzy) < n:
        base = rng.choice(long)
        # replace a character in the middle: keep the generic tail and any ordinal
        positions = [i for i in range(2, len(base) - 3) if base[i] not in _ORDINALS]
        if not positions:
            continue
        i = rng.choice(positions)
        fuzzy.add(base[:i] + rng.choice(chars) + base[i + 1 :])
    unknown: set[str] = set()
    while len(unknown) < n:
        stem = "".join(rng.choice(chars) for _ in range(rng.randint(2, 4)))
        unknown.add(stem + rng.choice(_TAILS))
    fuzzy_list, unknown_list = sorted(fuzzy), sorted(unknown)
    rng.shuffle(fuzzy_list)
    rng.shuffle(unknown_list)
    return {
        "exact": [rng.choice(names) for _ in range(n)],
        "alias": [rng.choice(aliases) for _ in range(n)],
        "fuzzy": fuzzy_list,
        "unknown": unknown_list,
    }


def _median_rate(n: int, seconds: list[float]) -> tuple[float, float]:
    mid = statistics.median(seconds)
    return n / mid, mid


def bench_gazetteer(n: int, repeat: int, seed: int) -> list[list[object]]:
    from luodian_map.gazetteer import Gazetteer, load_gazetteer

    t0 = time.perf_counter()
    gdf = load_gazetteer(GAZETTEER)
    load_s = time.perf_counter() - t0
    builds = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        Gazetteer(gdf)
        builds.append(time.perf_counter() - t0)
    print(
        f"gazetteer: {len(gdf)} features; load_gazetteer {load_s * 1000:.0f} ms, "
        f"Gazetteer() {statistics.median(builds) * 1000:.1f} ms\n"
    )
    rows = []
    for kind, names in queries(gdf, n, seed).items():
        one, many = [], []
        found: Counter = Counter()
        distinct = len(set(names))
        for r in range(repeat):
            gaz = Gazetteer(gdf)
            t0 = time.perf_counter()
            results = [gaz.match(name) for name in names]
            one.append(time.perf_counter() - t0)
            if r == 0:
                found = Counter(m.method if m else "none" for m in results)
            gaz = Gazetteer(gdf)
            t0 = time.perf_counter()
            gaz.match_many(names)
            many.append(time.perf_counter() - t0)
        rate_one, s_one = _median_rate(len(names), one)
        rate_many, s_many = _median_rate(len(names), many)
        share = ", ".join(f"{k} {100 * v / len(names):.0f}%" for k, v in found.most_common())
        rows.append([kind, len(names), distinct, f"{rate_one:,.0f}", f"{s_one:.2f}",
                     f"{rate_many:,.0f}", f"{s_many:.2f}", share])  # fmt: skip
    return rows


def bench_cache(n: int, repeat: int, seed: int) -> list[list[object]]:
    from luodian_map.cache import CachedAnswer, GeocodeCache

    rng = random.Random(f"cache:{seed}")
    names = [f"上海市宝山区罗店镇测试地点{i:06d}号" for i in range(n)]
    missing = [f"上海市宝山区罗店镇未问地点{i:06d}号" for i in range(n)]
    answers = [
        CachedAnswer.hit(
            "baidu",
            q,
            lon=121.3 + rng.random() / 10,
            lat=31.4 + rng.random() / 10,
            label=q,
            crs="bd09",
            level="poi",
            uncertainty_m=50.0,
            raw={"q": q},
            region="310113",
        )
        for q in names
    ]
    puts, hits, misses, opens = [], [], [], []
    for _ in range(repeat):
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "geocode.sqlite"
            with GeocodeCache(path) as cache:
                t0 = time.perf_counter()
                for answer in answers:
                    cache.put(answer)
                puts.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            cache = GeocodeCache(path)
            opens.append(time.perf_counter() - t0)
            with cache:
                order = names[:]
                rng.shuffle(order)
                t0 = time.perf_counter()
                got = [cache.get("baidu", q, region="310113") for q in order]
                hits.append(time.perf_counter() - t0)
                assert all(a is not None for a in got)
                t0 = time.perf_counter()
                got = [cache.get("baidu", q, region="310113") for q in missing]
                misses.append(time.perf_counter() - t0)
                assert not any(got)
    rows = []
    for label, seconds in (("put (one transaction each)", puts), ("get, hit", hits),
                           ("get, miss", misses)):  # fmt: skip
        rate, mid = _median_rate(n, seconds)
        rows.append([label, n, f"{rate:,.0f}", f"{mid:.2f}"])
    rows.append([f"open a {n:,}-row cache", 1, "", f"{statistics.median(opens):.3f}"])
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=100_000, help="names per kind of query")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip-cache", action="store_true")
    args = parser.parse_args(argv)
    print(f"machine: {machine()}\n")
    rows = bench_gazetteer(args.n, args.repeat, args.seed)
    print(f"Gazetteer look-ups (median of {args.repeat}; fresh Gazetteer per run):")
    print(
        table(
            [
                "query",
                "names",
                "distinct",
                "match /s",
                "match s",
                "match_many /s",
                "match_many s",
                "found as",
            ],
            rows,
        )
    )
    if not args.skip_cache:
        rows = bench_cache(args.n, args.repeat, args.seed)
        print(f"\nGeocodeCache (SQLite, WAL; median of {args.repeat}):")
        print(table(["operation", "count", "per s", "s"], rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
