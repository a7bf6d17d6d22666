"""OpenStreetMap places: `places fetch --source osm` through osmnx against a local Overpass
server, OSM extracts (.osm, .osm.pbf) through the same tag table, and the build placing the
report's items at exactly the OSM geometry."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import geopandas as gpd
import pytest
import shapely

from clirun import run_cli
from fakeoverpass import ELEMENTS, NODES, FakeOverpass, elements, http
from luodian_map.gazetteer import GEODATA_DIR
from luodian_map.outputs import LOCK_NAME
from luodian_map.places.osm import ATTRIBUTION, TAG_RULES, query_tags, read_osm_file
from luodian_map.places.sources import write_place_file
from luodian_map.places.town import find_town

ROOT = Path(__file__).resolve().parents[1]
REPORT = ROOT / "geodata" / "reports" / "luodian_2024_work_report.txt"
# what the fixture yields: name -> (kind, category)
PLACES = {
    "泽阳路": ("road", "road"), "马路河": ("river", "ecology"), "光明村": ("village", "village"),
    "罗店中学": ("school", "facility"), "罗店医院": ("health", "facility"),
    "美兰湖公园": ("park", "park"), "罗店镇": ("town", None),
}  # fmt: skip
EPOCH = "1767225600"  # 2026-01-01T00:00:00Z, the injected query time


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SOURCE_DATE_EPOCH": EPOCH}
    for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy"):
        env.pop(name, None)
    return run_cli(*args, cwd=cwd, env=env)


def project(tmp: Path) -> Path:
    shutil.copytree(GEODATA_DIR, tmp / "geodata" / "luodian")
    return tmp


def fetch(url: str, cwd: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return run("places", "fetch", "--source", "osm", "--overpass-url", url, *extra, cwd=cwd)


def line(*ids: int) -> list[tuple[float, float]]:
    return [NODES[i] for i in ids]


@pytest.fixture(scope="module")
def fetched(tmp_path_factory):
    """One project fetched twice from a server that first answers 429, then built."""
    tmp = project(tmp_path_factory.mktemp("osm"))
    with FakeOverpass(http(429), elements()) as fake:
        first = fetch(fake.url, tmp)
        assert first.returncode == 0, first.stderr
        path = tmp / "geodata" / "luodian" / "sources" / "osm.geojson"
        first_bytes = path.read_bytes()
        second = fetch(fake.url, tmp)
        assert second.returncode == 0, second.stderr
        queries, url = list(fake.queries), fake.url
    built = run("build", str(REPORT), "--no-maps", "--geodata", "geodata", cwd=tmp)
    assert built.returncode == 0, built.stderr
    return {"dir": tmp, "path": path, "first": first_bytes, "queries": queries, "url": url}


def features_by_name(path: Path) -> dict[str, dict]:
    data = json.loads(path.read_text("utf-8"))
    return {f["properties"]["name"]: f for f in data["features"]}


def test_fetch_retries_after_429_and_queries_the_tag_table(fetched) -> None:
    # two fetches: the first met a 429 and asked again, the second went straight through
    assert len(fetched["queries"]) == 3
    query = fetched["queries"][0]
    assert query.startswith("[out:json][timeout:180]")
    # the box around the outline plus 1 km, not the outline's every vertex
    assert query.count("(poly:'") == 3 * sum(
        1 if v is True else len(v) for v in query_tags().values()
    )
    assert len(query.split("(poly:'")[1].split("'")[0].split()) == 2 * 5
    for rule in TAG_RULES:
        assert f"['{rule.key}'" in query
    assert "['amenity'='kindergarten']" in query and "['waterway'='drain']" in query


def test_fetched_file_keeps_ids_tags_provenance_and_drops_the_outside(fetched) -> None:
    data = json.loads(fetched["path"].read_text("utf-8"))
    meta = data["luodian_map"]
    assert meta["source"] == "osm" and meta["attribution"] == ATTRIBUTION
    assert meta["retrieved"] == "2026-01-01T00:00:00Z"
    assert meta["overpass_url"] == fetched["url"]
    assert meta["query"]["tags"] == json.loads(json.dumps(query_tags()))
    places = features_by_name(fetched["path"])
    # 外冈路 and 外冈村 lie 14 km away, 外围村 3 km (inside the query's box); the unnamed lane
    # and the district relation are no places
    assert set(places) == {
        "泽阳路",
        "马路河",
        "光明村",
        "罗店中学",
        "罗店医院",
        "美兰湖公园",
        "罗店镇",
    }
    kinds = {name: (f["properties"]["kind"], f["properties"]["category"]) for name, f in
             places.items()}  # fmt: skip
    assert kinds == PLACES
    road = places["泽阳路"]
    assert road["geometry"]["type"] == "MultiLineString"
    parts = [[tuple(c) for c in part] for part in road["geometry"]["coordinates"]]
    assert sorted(parts) == sorted([line(1001, 1002), line(1002, 1003)])
    props = road["properties"]
    assert props["source_id"] == "way/101,way/102"
    assert props["tags"] == {
        "highway": "secondary",
        "lanes": "4;2",
        "name": "泽阳路",
        "oneway": "no",
    }
    assert props["precision"] == "sourced" and props["uncertainty_m"] == 15
    village = places["光明村"]["properties"]
    assert village["source_id"] == "node/1021" and village["aliases"] == ["光明", "光明村委会"]
    assert village["uncertainty_m"] == 300 and "label point" in village["basis"]
    assert places["马路河"]["properties"]["aliases"] == ["马路塘"]
    school = places["罗店中学"]
    assert school["geometry"]["type"] == "Polygon"
    assert school["properties"]["source_id"] == "way/121"
    town = places["罗店镇"]["properties"]
    assert town["source_id"] == "relation/141" and town["tags"]["admin_level"] == "8"
    # osmnx left no cache or log folders in the working folder (the build's lock file stays)
    assert sorted(p.name for p in fetched["dir"].iterdir()) == [
        ".cache",
        LOCK_NAME,
        "geodata",
        "layers",
    ]


def test_fetching_twice_gives_the_same_bytes(fetched) -> None:
    assert fetched["path"].read_bytes() == fetched["first"]


def test_build_places_report_items_at_exactly_the_osm_geometry(fetched) -> None:
    layers = fetched["dir"] / "layers"
    expected = {
        ("road", "泽阳路"): shapely.MultiLineString([line(1001, 1002), line(1002, 1003)]),
        ("village", "光明村"): shapely.Point(121.335, 31.44),
        ("park", "美兰湖公园"): shapely.Polygon(line(1061, 1062, 1063, 1064)),
        ("facility", "罗店医院"): shapely.Point(121.338, 31.412),
    }
    for (category, name), geometry in expected.items():
        layer = gpd.read_file(layers / f"{category}.geojson")
        rows = layer[layer["name"] == name]
        assert len(rows), f"{name} not in {category}"
        for _, row in rows.iterrows():
            assert row["precision"] == "sourced", name
            assert row["uncertainty_m"] < 500, name
            assert shapely.equals_exact(shapely.normalize(row.geometry),
                                        shapely.normalize(geometry), 1e-9), name  # fmt: skip


def test_the_osm_town_boundary_replaces_the_hand_outline(fetched) -> None:
    area = find_town(fetched["dir"] / "geodata")
    assert area.outline_uncertainty_m == 100
    assert shapely.equals_exact(
        shapely.normalize(area.outline),
        shapely.normalize(shapely.Polygon(line(1041, 1042, 1043, 1044))),
        1e-9,
    )


def test_render_local_basemap_draws_the_fetched_places(fetched, tmp_path: Path) -> None:
    page = tmp_path / "local.html"
    result = run("render", "--basemap", "local", "-o", str(page), cwd=fetched["dir"])
    assert result.returncode == 0, result.stderr
    text = page.read_text("utf-8")
    assert "tile.openstreetmap.org" not in text and "tile_layer_" not in text
    data = _local_base_data(text)
    kinds = sorted(f["properties"]["k"] for f in data["base"]["features"])
    assert kinds == ["park", "river", "road", "town"]
    assert {label["n"] for label in data["labels"]} == {"泽阳路", "马路河"}
    # a project without place files: no base, and the run says why
    bare = project(tmp_path / "bare")
    shutil.copytree(fetched["dir"] / "layers", bare / "layers")
    result = run("render", "--basemap", "local", "-o", str(page), cwd=bare)
    assert (
        result.returncode == 0
        and "luodian-map: warning: no place files for --basemap local" in result.stderr
    )
    assert "lm-local-base" not in page.read_text("utf-8")
    # a build draws four maps and a coverage map on that base: it says so once
    result = run("build", str(REPORT), "--basemap", "local", cwd=bare)
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("no place files for --basemap local") == 1


def _local_base_data(page: str) -> dict:
    """The JSON the LocalBase element hands to its script."""
    _, _, tail = page.partition('classList.add("lm-local-base")')
    assert tail, "no local base on the page"
    start = tail.index("})(") + 3
    start = tail.index(", ", start) + 2
    return json.JSONDecoder().raw_decode(tail[start:])[0]


def test_unreachable_overpass_is_one_line_and_writes_nothing(tmp_path: Path) -> None:
    tmp = project(tmp_path)
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = fetch(f"http://127.0.0.1:{port}/api", tmp)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("luodian-map: error: cannot reach Overpass")
    assert "Connection refused" in lines[0]
    assert not (tmp / "geodata" / "luodian" / "sources" / "osm.geojson").exists()
    assert sorted(p.name for p in tmp.iterdir()) == ["geodata"]


def test_a_server_that_stays_busy_fails_after_the_retries(tmp_path: Path) -> None:
    tmp = project(tmp_path)
    with FakeOverpass(http(504, retry_after="0")) as fake:
        result = fetch(fake.url, tmp, "--retries", "2")
        tries = len(fake.queries)
    assert result.returncode == 2 and tries == 3
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "busy (HTTP 504) after 3 tries" in lines[0]
    assert not (tmp / "geodata" / "luodian" / "sources" / "osm.geojson").exists()


def test_a_query_the_server_stopped_writes_nothing(tmp_path: Path) -> None:
    tmp = project(tmp_path)
    remark = 'runtime error: Query timed out in "query" at line 1 after 181 seconds.'
    with FakeOverpass(elements(ELEMENTS[:20], remark=remark)) as fake:
        result = fetch(fake.url, tmp)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert (
        len(lines) == 1 and "Overpass stopped the query: runtime error: Query timed out" in lines[0]
    )
    assert not (tmp / "geodata" / "luodian" / "sources" / "osm.geojson").exists()


# --- OSM extracts ----------------------------------------------------------------------------


def write_osm_xml(path: Path, items: list[dict] = ELEMENTS) -> Path:
    """Overpass elements as an OSM XML file, as JOSM or an extract service writes it."""
    root = ET.Element("osm", version="0.6", generator="luodian-map tests")
    for element in items:
        attrs = {"id": str(element["id"]), "version": "1", "visible": "true"}
        if element["type"] == "node":
            attrs |= {"lat": str(element["lat"]), "lon": str(element["lon"])}
        node = ET.SubElement(root, element["type"], attrs)
        for ref in element.get("nodes", []):
            ET.SubElement(node, "nd", ref=str(ref))
        for member in element.get("members", []):
            ET.SubElement(node, "member", {k: str(v) for k, v in member.items()})
        for key, value in element.get("tags", {}).items():
            ET.SubElement(node, "tag", k=key, v=value)
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)
    return path


def feature_lines(path: Path) -> list[str]:
    return path.read_text("utf-8").splitlines()[1:]


def test_an_osm_xml_file_maps_as_the_fetch_does(fetched, tmp_path: Path) -> None:
    area = find_town(ROOT / "geodata")
    places, metadata = read_osm_file(write_osm_xml(tmp_path / "luodian.osm"), area)
    assert metadata["file"] == "luodian.osm" and metadata["attribution"] == ATTRIBUTION
    out = write_place_file(tmp_path / "from_xml.geojson", places, metadata)
    assert feature_lines(out) == feature_lines(fetched["path"])


def test_places_import_takes_an_osm_extract(fetched, tmp_path: Path) -> None:
    """The user's path offline: ``places import FILE.osm`` writes the fetch's places."""
    tmp = project(tmp_path)
    xml = write_osm_xml(tmp_path / "extract.osm")
    result = run("places", "import", str(xml), "--geodata", "geodata", cwd=tmp)
    assert result.returncode == 0, result.stderr
    written = tmp / "geodata" / "luodian" / "sources" / "extract.geojson"
    assert feature_lines(written) == feature_lines(fetched["path"])


def test_an_osm_pbf_file_maps_as_the_fetch_does(fetched, tmp_path: Path) -> None:
    import osmium

    xml = write_osm_xml(tmp_path / "luodian.osm")
    pbf = tmp_path / "luodian.osm.pbf"
    with osmium.SimpleWriter(str(pbf)) as writer:
        for obj in osmium.FileProcessor(str(xml)):
            writer.add(obj)
    places, metadata = read_osm_file(pbf, find_town(ROOT / "geodata"))
    out = write_place_file(tmp_path / "from_pbf.geojson", places, metadata)
    assert feature_lines(out) == feature_lines(fetched["path"])


@pytest.mark.parametrize(
    ("name", "content", "fragment"),
    [
        ("broken.osm", b"<osm><node id='1'", "not readable as OSM XML"),
        ("elsewhere.osm", None, "no named OSM feature"),
        ("broken.osm.pbf", b"\x00\x00\x00\x0dnot a pbf at all", "not readable as OSM PBF"),
        ("places.txt", b"", "not an OSM file"),
    ],
)
def test_bad_osm_files_are_input_errors(tmp_path: Path, name, content, fragment) -> None:
    from luodian_map.errors import InputError

    path = tmp_path / name
    if content is None:  # only the road and village 14 km away
        outside = [e for e in ELEMENTS if e["id"] in (1051, 1052, 1081, 131)]
        write_osm_xml(path, outside)
    else:
        path.write_bytes(content)
    with pytest.raises(InputError, match=fragment):
        read_osm_file(path, find_town(ROOT / "geodata"))
