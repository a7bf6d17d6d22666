"""``luodian-map places fetch --source amap|tianditu``: POIs for the report's names.

A local server on 127.0.0.1 (tests/fakegeo.py) answers AMap place/text and Tianditu v2
search in their documented JSON; the command runs as a user runs it, through the real
geopy-style clients, rate limiter and SQLite cache.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyproj
import pytest
import shapely
from shapely.geometry import Point

from fakegeo import FakeGeo, Place, answer, bad_key
from luodian_map import crs
from luodian_map.gazetteer import GEODATA_DIR, same_place_name
from luodian_map.places.sources import place_file_path, read_place_files, write_place_file

ROOT = Path(__file__).resolve().parents[1]
KEYS = {"AMAP_KEY": "test-amap-key", "TIANDITU_KEY": "test-tianditu-key"}
GEOD = pyproj.Geod(ellps="WGS84")
HOSPITAL = (121.344137, 31.413072)  # WGS-84 truth of 罗店医院 in these tests
BEIJING = (116.3913, 39.9075)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "geodata", tmp_path / "geodata")
    shutil.copytree(GEODATA_DIR, tmp_path / "geodata" / "luodian")
    return tmp_path


@pytest.fixture
def fake():
    with FakeGeo() as server:
        yield server


def fetch(project: Path, source: str, url: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    environment.update(KEYS, SOURCE_DATE_EPOCH="1767225600", **env)
    return subprocess.run(
        [sys.executable, "-m", "luodian_map.cli", "places", "fetch", "--source", source,
         "--geodata", "geodata", "--service-url", url, "--delay", "0", "--timeout", "5",
         "--retries", "1", "geodata/reports"],
        cwd=project, env=environment, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def gcj(lon: float, lat: float, label: str, kind: str | None = None) -> Place:
    x, y = crs.wgs84_to_gcj02(np.array([lon]), np.array([lat]))
    return Place(float(x[0]), float(y[0]), label, kind)


def metres(geom: shapely.Geometry, lon: float, lat: float) -> float:
    return float(GEOD.inv(geom.x, geom.y, lon, lat)[2])


def places_of(project: Path, source: str) -> tuple[dict[str, dict], dict]:
    path = place_file_path(project / "geodata" / "luodian", source)
    data = json.loads(path.read_text("utf-8"))
    rows = {r["name"]: r for r in read_place_files(path.parent.parent).to_dict("records")
            if r["file"] == path.name}  # fmt: skip
    return rows, data["luodian_map"]


def test_amap_takes_the_poi_in_the_town_with_the_reports_name(project, fake) -> None:
    fake.script(
        "罗店医院",
        answer(
            gcj(*BEIJING, "罗店医院"),  # the same name elsewhere in China
            gcj(121.3452, 31.4125, "罗店医院停车场", "交通设施服务;停车场"),  # a part of it
            gcj(*HOSPITAL, "上海市宝山区罗店医院(南门)", "医疗保健服务;综合医院;综合医院"),
        ),
    )
    fake.script("美兰金苑养老院", answer(gcj(121.3492, 31.4016, "美兰金苑便利店", "购物服务")))
    fake.script("新镇东部幼儿园", answer(gcj(*BEIJING, "新镇东部幼儿园")))
    result = fetch(project, "amap", f"http://{fake.domain}")
    assert result.returncode == 0, result.stderr
    rows, meta = places_of(project, "amap")
    assert list(rows) == ["罗店医院"]
    hospital = rows["罗店医院"]
    assert metres(hospital["geometry"], *HOSPITAL) < 0.5  # GCJ-02 → WGS-84
    assert hospital["precision"] == "sourced" and hospital["uncertainty_m"] == 100
    assert hospital["aliases"] == ["上海市宝山区罗店医院(南门)"]
    assert hospital["category"] == "facility" and hospital["source_id"] == "B0FFTEST02"
    assert {"美兰金苑养老院", "新镇东部幼儿园"} <= set(meta["not_found"])
    assert meta["retrieved"] == "2026-01-01T00:00:00Z" and meta["query"]["area"] == "310113"
    requests = fake.requests_for("amap_poi")
    asked = {r.query for r in requests}
    assert {"罗店医院", "美兰金苑养老院"} <= asked
    assert "健身苑" not in asked  # a town-level aggregate has no place to search for
    assert "美兰湖公园" not in asked  # an area: a POI point could not replace it
    first = requests[0].params
    assert (first["key"], first["city"], first["citylimit"]) == ("test-amap-key", "310113", "true")
    # the next build places the item at the POI, as sourced
    layers = project / "layers"
    build = subprocess.run(
        [sys.executable, "-m", "luodian_map.cli", "build", "geodata/reports", "--geodata",
         "geodata", "--layers", str(layers), "--maps", str(project / "maps"), "--no-maps"],
        cwd=project, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert build.returncode == 0, build.stderr
    features = json.loads((layers / "facility.geojson").read_text("utf-8"))["features"]
    found = [f for f in features if f["properties"]["name"] == "罗店医院"]
    assert found and all(f["properties"]["precision"] == "sourced" for f in found)
    assert metres(Point(found[0]["geometry"]["coordinates"]), *HOSPITAL) < 0.5


def test_tianditu_searches_the_district_by_code_and_skips_what_is_surveyed(project, fake):
    surveyed = place_file_path(project / "geodata" / "luodian", "survey")
    write_place_file(
        surveyed,
        gpd_frame("美兰金苑养老院", Point(121.3492, 31.4016)),
        {"source": "import", "file": "survey.shp"},
    )
    fake.script("罗店医院", answer(Place(*HOSPITAL, "罗店医院", "综合医院")))
    result = fetch(project, "tianditu", f"http://{fake.domain}")
    assert result.returncode == 0, result.stderr
    rows, meta = places_of(project, "tianditu")
    assert metres(rows["罗店医院"]["geometry"], *HOSPITAL) < 0.01  # CGCS2000 taken as is
    assert rows["罗店医院"]["source_id"] == "TDT0000"
    requests = fake.requests_for("tianditu_poi")
    assert "美兰金苑养老院" not in {r.query for r in requests}  # already surveyed
    post = json.loads(requests[0].params["postStr"])
    assert (post["queryType"], post["specify"]) == ("12", "156310113")
    assert requests[0].params["tk"] == "test-tianditu-key"
    assert "天地图" in meta["attribution"]


def gpd_frame(name: str, geometry: shapely.Geometry):
    import geopandas as gpd

    return gpd.GeoDataFrame(
        {"name": [name], "kind": ["facility"], "category": ["facility"],
         "precision": ["surveyed"], "uncertainty_m": [5.0], "source": ["survey.shp"]},
        geometry=[geometry], crs="EPSG:4326",
    )  # fmt: skip


@pytest.mark.parametrize(("source", "variable"), [("amap", "AMAP_KEY"),
                                                  ("tianditu", "TIANDITU_KEY")])  # fmt: skip
def test_a_bad_key_is_one_line_exit_2_and_writes_nothing(project, fake, source, variable):
    fake.script("", bad_key())
    result = fetch(project, source, f"http://{fake.domain}")
    assert result.returncode == 2
    lines = [x for x in result.stderr.splitlines() if not x.startswith("extracted ")]
    assert len(lines) == 1 and lines[0].startswith("luodian-map: error: ")
    assert "refused" in lines[0] and variable in lines[0]
    assert len(fake.requests) == 1  # a refused key is not retried
    assert not place_file_path(project / "geodata" / "luodian", source).exists()


def test_a_missing_key_names_its_variable(project, fake) -> None:
    result = fetch(project, "amap", f"http://{fake.domain}", AMAP_KEY="")
    assert result.returncode == 2 and "set AMAP_KEY" in result.stderr
    assert not fake.requests


def test_the_cache_answers_a_second_run_without_the_server(project) -> None:
    with FakeGeo() as fake:
        fake.script("罗店医院", answer(gcj(*HOSPITAL, "罗店医院")))
        first = fetch(project, "amap", f"http://{fake.domain}")
        assert first.returncode == 0, first.stderr
        asked = len(fake.requests)
    path = place_file_path(project / "geodata" / "luodian", "amap")
    before = path.read_text("utf-8").splitlines()
    path.unlink()
    with socket.socket() as closed:  # a port nobody listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    second = fetch(project, "amap", f"http://127.0.0.1:{port}")
    assert second.returncode == 0, second.stderr
    after = path.read_text("utf-8").splitlines()
    assert after[1:] == before[1:] and len(after) == 3  # the same place, byte for byte
    _, meta = places_of(project, "amap")
    assert meta["from_cache"] == 1 == meta["found"] and asked > 10


@pytest.mark.parametrize(
    ("report", "poi", "same"),
    [
        ("罗店医院", "罗店医院", True),
        ("罗店医院", "羅店醫院", True),  # traditional characters
        ("美兰湖老年助餐点", "美兰湖老年助餐站点", True),  # a near spelling
        ("罗店医院", "罗店医院停车场", False),  # a part of it
        ("罗店医院", "罗泾医院", False),  # another town's
        ("宝欣苑第一居委会", "宝欣苑第七居委会", False),  # another number
    ],
)
def test_a_poi_must_bear_the_reports_name(report, poi, same) -> None:
    assert same_place_name(report, poi) is same


def test_a_poisoned_cache_is_asked_again_and_said_once(project, fake) -> None:
    """A cached answer moved to Beijing is not trusted by a fetch either: the POI is asked
    again, lands at the server's place, and one warning line says so."""
    import sqlite3

    fake.script("罗店医院", answer(gcj(*HOSPITAL, "罗店医院")))
    assert fetch(project, "amap", f"http://{fake.domain}").returncode == 0
    asked = len(fake.requests_for("amap_poi"))
    with sqlite3.connect(project / ".cache" / "geocode.sqlite") as db:
        poisoned = db.execute(
            "UPDATE answers SET lon = ?, lat = ? WHERE found = 1", BEIJING
        ).rowcount
    assert poisoned == 1
    again = fetch(project, "amap", f"http://{fake.domain}")
    assert again.returncode == 0, again.stderr
    warnings = [line for line in again.stderr.splitlines() if "warning" in line]
    assert warnings == [
        "luodian-map: warning: 1 answers in .cache/geocode.sqlite could not be trusted "
        "(unreadable, or outside the district); they were asked again"
    ]
    assert len(fake.requests_for("amap_poi")) == asked + 1
    rows, _ = places_of(project, "amap")
    assert metres(rows["罗店医院"]["geometry"], *HOSPITAL) < 0.5
