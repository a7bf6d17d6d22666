"""``places fetch --source osm`` on a town-sized Overpass answer, from a local server.

    python benchmarks/osm_fetch.py [--ways 3000] [--runs 3] [--seed 0]

A seeded synthetic answer about the size OSM has for a town of ~45 km² such as 罗店镇:
``--ways`` highway ways (half named, ~5 ways per name, 6 nodes each, on a grid inside the
town), a tenth as many waterway ways, and a tenth as many named points and areas (schools,
parks, villages, estates, industrial land), plus the nodes they need. It is served by the
tests' fake Overpass server (``tests/fakeoverpass.py``) on 127.0.0.1, so the figures are
osmnx's request, JSON parsing and geometry building plus our mapping, merging and
writing; a real server adds its query time and the transfer.

Printed: the answer's size, the wall and CPU time of ``fetch_osm`` (median of ``--runs``),
of writing the place file, the features per kind, the file's size, and the size of the
``--basemap local`` payload built from it.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from _common import ROOT, machine, table

from fakeoverpass import FakeOverpass, elements
from luodian_map.local_base import base_collection
from luodian_map.places.osm import fetch_osm
from luodian_map.places.sources import read_place_files, write_place_file
from luodian_map.places.town import find_town

WEST, SOUTH, EAST, NORTH = 121.315, 31.372, 121.375, 31.448  # inside the town outline
POINT_TAGS = (
    {"amenity": "school"}, {"amenity": "kindergarten"}, {"amenity": "hospital"},
    {"amenity": "social_facility"}, {"leisure": "park"}, {"place": "village"},
    {"landuse": "residential"}, {"landuse": "industrial"}, {"railway": "station"},
)  # fmt: skip


def synthetic_answer(ways: int, seed: int) -> list[dict]:
    """Overpass elements of a town: roads, rivers, points and areas (see module)."""
    rng = random.Random(f"osm:{seed}")
    nodes: list[dict] = []
    out: list[dict] = []

    def node(lon: float, lat: float, tags: dict | None = None) -> int:
        osm_id = 10_000_000 + len(nodes)
        nodes.append({"type": "node", "id": osm_id, "lon": round(lon, 7), "lat": round(lat, 7),
                      **({"tags": tags} if tags else {})})  # fmt: skip
        return osm_id

    def polyline(n: int) -> list[int]:
        lon, lat = rng.uniform(WEST, EAST), rng.uniform(SOUTH, NORTH)
        dx, dy = rng.choice(((0.0012, 0.00005), (0.00005, 0.0012)))
        return [node(lon + i * dx, lat + i * dy) for i in range(n)]

    way_id = 1
    for i in range(ways):
        tags = {"highway": rng.choice(("residential", "tertiary", "secondary", "service"))}
        if i % 2 == 0:
            tags["name"] = f"测试{i // 10}路"
        out.append({"type": "way", "id": way_id, "nodes": polyline(6), "tags": tags})
        way_id += 1
    for i in range(ways // 10):
        tags = {"waterway": rng.choice(("river", "canal", "stream", "drain")),
                "name": f"测试{i // 4}河"}  # fmt: skip
        out.append({"type": "way", "id": way_id, "nodes": polyline(10), "tags": tags})
        way_id += 1
    for i in range(ways // 10):
        tags = {**POINT_TAGS[i % len(POINT_TAGS)], "name": f"测试地点{i}"}
        if i % 2:  # a tagged node is a feature by itself
            node(rng.uniform(WEST, EAST), rng.uniform(SOUTH, NORTH), tags)
        else:
            lon, lat = rng.uniform(WEST, EAST - 0.003), rng.uniform(SOUTH, NORTH - 0.003)
            ring = [node(lon, lat), node(lon + 0.003, lat), node(lon + 0.003, lat + 0.002),
                    node(lon, lat + 0.002)]  # fmt: skip
            out.append({"type": "way", "id": way_id, "nodes": [*ring, ring[0]], "tags": tags})
            way_id += 1
    return nodes + out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ways", type=int, default=3000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    area = find_town(ROOT / "geodata")
    answer = synthetic_answer(args.ways, args.seed)
    size = len(json.dumps({"elements": answer}, ensure_ascii=False).encode())
    walls, cpus = [], []
    with FakeOverpass(elements(answer)) as fake:
        for _ in range(args.runs):
            wall, cpu = time.perf_counter(), time.process_time()
            places, metadata = fetch_osm(area, overpass_url=fake.url, retries=0)
            walls.append(time.perf_counter() - wall)
            cpus.append(time.process_time() - cpu)
    with tempfile.TemporaryDirectory() as tmp:
        wall = time.perf_counter()
        path = write_place_file(Path(tmp) / "sources" / "osm.geojson", places, metadata)
        write_s = time.perf_counter() - wall
        file_kib = path.stat().st_size / 1024
        wall = time.perf_counter()
        base = base_collection(read_place_files(tmp))
        base_s = time.perf_counter() - wall
    base_kib = len(json.dumps(base, ensure_ascii=False, separators=(",", ":")).encode()) / 1024
    print(machine())
    print(f"answer: {len(answer):,} elements, {size / 1024:,.0f} KiB of Overpass JSON")
    print(table(
        ["step", "wall s", "CPU s"],
        [["fetch_osm (median)", f"{statistics.median(walls):.2f}",
          f"{statistics.median(cpus):.2f}"],
         ["write place file", f"{write_s:.2f}", ""],
         ["read + --basemap local payload", f"{base_s:.2f}", ""]],
    ))  # fmt: skip
    kinds = Counter(places["kind"])
    print(table(["kind", "features"], [[k, n] for k, n in sorted(kinds.items())]))
    print(f"place file {file_kib:,.0f} KiB; --basemap local payload {base_kib:,.0f} KiB")


if __name__ == "__main__":
    main()
