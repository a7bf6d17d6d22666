"""The gazetteer: reproducible from its sources, honest about precision, and a careful matcher."""

from __future__ import annotations

import csv
import json
import shutil
import time
import tomllib
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyproj
import pytest
import shapely
from shapely.geometry import shape

from luodian_map import gazetteer as gazetteer_module
from luodian_map.errors import InputError
from luodian_map.gazetteer import (
    BUILD_FILE,
    DEFAULT_PATH,
    PLACEMENTS_CSV,
    SOURCES_DIR,
    Gazetteer,
    build_gazetteer,
    load_gazetteer,
    normalise_name,
    write_gazetteer,
)

GEOD = pyproj.Geod(ellps="WGS84")
UTM = "EPSG:32651"  # metres around Shanghai


@pytest.fixture(scope="module")
def built() -> gpd.GeoDataFrame:
    return build_gazetteer(SOURCES_DIR, PLACEMENTS_CSV)


@pytest.fixture(scope="module")
def gazetteer(built) -> Gazetteer:
    return Gazetteer(built)


def _one(gdf: gpd.GeoDataFrame, kind: str) -> shapely.Geometry:
    (geom,) = gdf.loc[gdf["kind"] == kind, "geometry"]
    return geom


# --- reproducibility ---------------------------------------------------------------------------


def test_build_is_byte_for_byte_reproducible(tmp_path, built):
    first = write_gazetteer(built, tmp_path / "a.geojson").read_bytes()
    again = write_gazetteer(build_gazetteer(SOURCES_DIR, PLACEMENTS_CSV), tmp_path / "b.geojson")
    assert again.read_bytes() == first
    assert DEFAULT_PATH.read_bytes() == first, "run `python -m luodian_map.gazetteer`"


def test_written_file_is_rfc7946(tmp_path, built):
    text = write_gazetteer(built, tmp_path / "g.geojson").read_text(encoding="utf-8")
    data = json.loads(text)
    assert "crs" not in data and "宝山区" in text  # WGS-84 by definition; no \\u escapes
    coords = np.concatenate(
        [shapely.get_coordinates(shape(f["geometry"])) for f in data["features"]]
    )
    assert np.all(np.round(coords, 6) == coords)
    parts = shapely.get_parts(built.geometry.to_numpy())
    exteriors = shapely.get_exterior_ring(parts[shapely.get_type_id(parts) == 3])
    assert len(exteriors) > 10 and shapely.is_ccw(exteriors).all()


def test_reload_equals_build(built):
    loaded = load_gazetteer()
    assert list(loaded["name"]) == list(built["name"])
    assert loaded.crs == "EPSG:4326"
    assert all(shapely.equals_exact(loaded.geometry.to_numpy(), built.geometry.to_numpy(), 1e-9))


# --- content -----------------------------------------------------------------------------------


def test_71_committees_with_their_codes(built):
    with (SOURCES_DIR / "luodian_committees_2022.csv").open(encoding="utf-8") as handle:
        source = {r["code"]: r["name"] for r in csv.DictReader(handle)}
    committees = built[built["kind"].isin(["village_committee", "residents_committee"])]
    assert len(committees) == 71
    assert (committees["kind"] == "village_committee").sum() == 20
    assert dict(zip(committees["code"], committees["name"], strict=True)).keys() == source.keys()
    by_name = committees.set_index("name")
    assert by_name.loc["光明村", "code"] == "310113101206"
    assert "光明村村委会" in by_name.loc["光明村", "aliases"]
    assert by_name.loc["古镇居委会", "code"] == "310113101001"
    assert set(committees["precision"]) == {"approximate"}


def test_precision_and_uncertainty_are_honest(built):
    sourced = built[built["precision"] == "sourced"]
    assert sorted(sourced["kind"]) == ["district"] + ["metro_station"] * 5
    assert set(built["precision"]) == {"sourced", "approximate"}
    hand = built[built["precision"] == "approximate"]
    assert (hand["uncertainty_m"] >= 300).all()
    assert built["basis"].str.len().gt(20).all()


def _anchors() -> dict[str, str]:
    with PLACEMENTS_CSV.open(encoding="utf-8") as handle:
        return {r["name"]: r["anchor"] for r in csv.DictReader(handle) if r["anchor"]}


def test_no_guess_claims_more_than_the_town_without_an_anchor(built):
    """An unanchored hand placement's radius reaches every point of the town outline,
    widened by the outline's own uncertainty (measured at worst 1.6 km off)."""
    metric = built.to_crs(UTM)
    town = metric[metric["kind"] == "town"].iloc[0]
    assert town["uncertainty_m"] >= 2000
    anchors = _anchors()
    guesses = metric[(metric["precision"] == "approximate") & (metric["kind"] != "town")]
    free = guesses[~guesses["name"].isin(list(anchors))]
    # From every vertex of a guess, the farthest point of the town (a point's Hausdorff
    # distance to a polygon); the worst vertex of each guess.
    coords, index = shapely.get_coordinates(free.geometry.to_numpy(), return_index=True)
    reach = np.zeros(len(free))
    np.maximum.at(reach, index, shapely.hausdorff_distance(shapely.points(coords), town.geometry))
    assert len(free) > 60
    assert (free["uncertainty_m"].to_numpy() >= reach + town["uncertainty_m"] - 10.0).all()
    # The measured village errors (median 3.9 km, worst 6.7 km) lie inside every radius.
    villages = built.loc[built["kind"] == "village_committee", "uncertainty_m"]
    assert len(villages) == 20 and villages.min() > 6700


def test_anchored_guesses_reach_their_sourced_anchor(built):
    metric = built.to_crs(UTM).set_index("name")
    anchors = _anchors()
    assert set(anchors.values()) <= set(metric.index[metric["precision"] == "sourced"])
    names, targets = list(anchors), list(anchors.values())
    gap = shapely.hausdorff_distance(
        metric.geometry[names].to_numpy(), metric.geometry[targets].to_numpy()
    )  # every anchor is a station (a point): the farthest vertex of the guess from it
    floor = gap + metric.loc[targets, "uncertainty_m"].to_numpy()
    radius = metric.loc[names, "uncertainty_m"].to_numpy()
    assert (radius >= floor - 10.0).all()
    assert (radius < metric.loc["罗店镇", "uncertainty_m"] + 10_000).all()
    assert metric.loc["中集美兰湖金地广场", "uncertainty_m"] <= 500  # the TOD on its station


def test_every_feature_is_valid_and_inside_the_district(built):
    assert shapely.is_valid(built.geometry.to_numpy()).all()
    metric = built.to_crs(UTM)
    district = _one(metric, "district")
    coords, index = shapely.get_coordinates(metric.geometry.to_numpy(), return_index=True)
    worst = np.zeros(len(metric))
    np.maximum.at(worst, index, shapely.distance(shapely.points(coords), district))
    outside = metric.loc[worst > metric["uncertainty_m"].to_numpy(), "name"]
    assert outside.empty, list(outside)
    hand = metric[metric["precision"] == "approximate"]
    assert shapely.within(hand.geometry.to_numpy(), district).all()


def test_hand_placements_lie_inside_or_near_the_town(built):
    metric = built.to_crs(UTM)
    town = _one(metric, "town")
    hand = metric[(metric["precision"] == "approximate") & (metric["kind"] != "town")]
    gaps = shapely.distance(hand.geometry.to_numpy(), town)
    assert (gaps <= hand["uncertainty_m"].to_numpy()).all()


def test_district_outline_is_converted_to_wgs84(built):
    """Compared with an independent CGCS2000 copy (51 vertices, generalised from an outline).

    A generalised polygon keeps vertices of its original, so its vertices must lie on the
    converted outline; the centroids differ by generalisation alone (the copy is 303 km²
    against 316 km²), so they are only compared relative to each other.
    """
    path = SOURCES_DIR / "baoshan_310113_cgcs2000_generalised.geojson"
    reference = shape(json.loads(path.read_text(encoding="utf-8"))["features"][0]["geometry"])
    raw = shape(json.loads((SOURCES_DIR / "baoshan_310113_gcj02.geojson").read_text("utf-8")))
    converted = _one(built, "district")

    def median_gap(outline: shapely.Geometry) -> float:
        vertices = shapely.points(shapely.get_coordinates(reference))
        ends = shapely.get_coordinates(shapely.shortest_line(vertices, outline.boundary))
        return float(
            np.median(GEOD.inv(ends[::2, 0], ends[::2, 1], ends[1::2, 0], ends[1::2, 1])[2])
        )

    assert median_gap(converted) < 30
    assert median_gap(raw) > 200

    def centroid_gap(outline: shapely.Geometry) -> float:
        a, b = outline.centroid, reference.centroid
        return GEOD.inv(a.x, a.y, b.x, b.y)[2]

    assert centroid_gap(converted) < centroid_gap(raw) - 100


def test_town_outline_follows_the_real_district_border(built):
    metric = built.to_crs(UTM)
    town, district = _one(metric, "town"), _one(metric, "district")
    area_km2 = abs(GEOD.geometry_area_perimeter(_one(built, "town"))[0]) / 1e6
    assert 40 < area_km2 < 55  # official figure: about 47 km²
    shared = town.boundary.intersection(district.boundary.buffer(1.0))
    assert shared.length > 10_000  # the whole western edge is the district border with 嘉定
    stations = metric.set_index("name").geometry
    assert town.contains(stations["美兰湖站"]) and town.contains(stations["罗南新村站"])
    assert not town.contains(stations["顾村公园站"])


def test_stations_agree_with_the_bd09_source(built):
    stations = built[built["kind"] == "metro_station"].set_index("name")
    assert stations.loc["美兰湖站", "uncertainty_m"] == 50
    assert stations.loc["潘广路站", "uncertainty_m"] == 90  # the two sources differ by 88 m
    point = stations.loc["美兰湖站", "geometry"]
    assert (round(point.x, 4), round(point.y, 4)) == (121.3453, 31.4038)
    assert "Meilan Lake" in stations.loc["美兰湖站", "aliases"]


# --- build and load errors -------------------------------------------------------------------


@pytest.fixture()
def sources(tmp_path) -> Path:
    target = tmp_path / "sources"
    shutil.copytree(SOURCES_DIR, target)
    return target


def _placements_with(tmp_path: Path, edit) -> Path:
    lines = PLACEMENTS_CSV.read_text(encoding="utf-8").splitlines(keepends=True)
    path = tmp_path / "placements.csv"
    path.write_text("".join(edit(lines)), encoding="utf-8")
    return path


def test_build_requires_every_committee_placed(tmp_path, sources):
    path = _placements_with(tmp_path, lambda ls: [x for x in ls if not x.startswith("光明村,")])
    with pytest.raises(InputError, match="no placement for 光明村"):
        build_gazetteer(sources, path)


def test_build_rejects_bad_wkt_and_clashing_aliases(tmp_path, sources):
    bad = _placements_with(tmp_path, lambda ls: [*ls, "X,,facility,,POINT (1,,100,b\n"])
    with pytest.raises(InputError, match="WKT"):
        build_gazetteer(sources, bad)
    clash = _placements_with(
        tmp_path, lambda ls: [*ls, "X,光明村,facility,,POINT (121.34 31.41),100,b\n"]
    )
    with pytest.raises(InputError, match="光明村"):
        build_gazetteer(sources, clash)


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("X,,facility,,POINT (121.34 31.41),300,b,无此站\n", "anchor '无此站' is not a sourced"),
        ("X,,facility,,POINT (121.34 31.41),300,b,光明村\n", "anchor '光明村' is not a sourced"),
        ("X,,facility,,POINT (121.34 31.41),,b,美兰湖站\n", "uncertainty_m must be"),
    ],
)
def test_build_rejects_a_bad_anchor(tmp_path, sources, row, message):
    path = _placements_with(tmp_path, lambda ls: [*ls, row])
    with pytest.raises(InputError, match=message):
        build_gazetteer(sources, path)


def test_a_stated_radius_never_undercuts_the_rule(tmp_path, sources):
    """A guess stating 100 m without an anchor is as uncertain as the town; with an anchor
    its radius is the gap to the anchor plus its uncertainty plus the stated reach."""
    rows = [
        "近站,,facility,,POINT (121.3465 31.4035),100,b,美兰湖站\n",
        "无据,,facility,,POINT (121.3465 31.4035),100,b,\n",
    ]
    built = build_gazetteer(sources, _placements_with(tmp_path, lambda ls: [*ls, *rows]))
    by_name = built.set_index("name")
    station = by_name.geometry["美兰湖站"]
    gap = GEOD.inv(121.3465, 31.4035, station.x, station.y)[2]
    assert by_name.loc["近站", "uncertainty_m"] == np.ceil((gap + 50 + 100) / 100) * 100
    assert by_name.loc["无据", "uncertainty_m"] > 6000


def test_build_rejects_disagreeing_station_sources(sources):
    path = sources / "line7_stations.csv"
    path.write_text(path.read_text(encoding="utf-8").replace("121.356426", "121.366426"), "utf-8")
    with pytest.raises(InputError, match="美兰湖"):
        build_gazetteer(sources, PLACEMENTS_CSV)


def _edit_build_file(sources: Path, *replacements: tuple[str, str]) -> None:
    path = sources / BUILD_FILE
    text = path.read_text(encoding="utf-8")
    for old, new in replacements:
        assert old in text
        text = text.replace(old, new)
    path.write_text(text, encoding="utf-8")


def test_the_town_s_build_file_names_and_attributes_its_sources(sources):
    """What the builder knows of the town comes from the town's data: another district
    name, code and aliases, station names and attributions there come out as written."""
    _edit_build_file(
        sources,
        ('name = "宝山区"', 'name = "某区"'),
        ('"宝山", "上海市宝山区", "Baoshan"', '"某区政府"'),
        ('code = "310113000000"', 'code = "999999000000"'),
        ('"7号线{zh}站"', '"Line 7 {en}"'),
        ("china-division 2.7.0 (MIT)", "a committee list"),
        ("town_min_uncertainty_m = 2000", "town_min_uncertainty_m = 9000"),
    )
    built = build_gazetteer(sources, PLACEMENTS_CSV).set_index("name")
    assert "宝山区" not in built.index
    assert built.loc["某区", ["code", "aliases"]].tolist() == ["999999000000", ["某区政府"]]
    assert built.loc["美兰湖站", "aliases"] == [
        "美兰湖地铁站",
        "Line 7 Meilan Lake",
        "Meilan Lake Station",
        "Meilan Lake",
    ]
    assert built.loc["光明村", "source"].startswith("a committee list: name and code")
    assert built.loc["罗店镇", "uncertainty_m"] == 9000


def test_a_town_without_stations_or_committees(tmp_path, sources):
    """The tables [stations] and [committees] are optional: a town may have neither."""
    text = (sources / BUILD_FILE).read_text(encoding="utf-8")
    (sources / BUILD_FILE).write_text(text.split("[stations]")[0], encoding="utf-8")
    with PLACEMENTS_CSV.open(encoding="utf-8") as handle:
        rows = [r for r in csv.DictReader(handle) if "committee" not in r["kind"]]
    for row in rows:
        row["anchor"] = ""  # no station to anchor to
    path = tmp_path / "placements.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    built = build_gazetteer(sources, path)
    assert not built["kind"].isin(["metro_station", "village_committee"]).any()
    assert len(built) == len(rows) + 1  # and the district
    with pytest.raises(InputError, match="村 is not in no committee list"):
        build_gazetteer(sources, PLACEMENTS_CSV)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (("[district]", "[district"), "not valid TOML"),
        (("[district]", "[elsewhere]"), r"no table \[district\]"),
        (('code = "310113000000"', "code = 310113000000"), r"\[district\] code is missing"),
        (("town_min_uncertainty_m = 2000\n", ""), "town_min_uncertainty_m is missing"),
        (('crs = "gcj02"', 'crs = "mars"'), "unknown coordinate system 'mars'"),
    ],
)
def test_a_broken_build_file_is_an_input_error(sources, edit, message):
    _edit_build_file(sources, edit)
    with pytest.raises(InputError, match=message):
        build_gazetteer(sources, PLACEMENTS_CSV)
    (sources / BUILD_FILE).unlink()
    with pytest.raises(InputError, match=f"{BUILD_FILE} not found"):
        build_gazetteer(sources, PLACEMENTS_CSV)


def test_the_builder_names_no_town():
    """Every name, file and attribution of the packaged town is in its data, not the code."""
    spec = tomllib.loads((SOURCES_DIR / BUILD_FILE).read_text(encoding="utf-8"))
    values = [v for table in spec.values() for v in table.values()]
    words = [w for v in values for w in (v if isinstance(v, list) else [v]) if isinstance(w, str)]
    code = Path(gazetteer_module.__file__).read_text(encoding="utf-8")
    named = [w for w in words if "{" not in w and w in code]  # station names are templates
    assert len(words) > 15 and named == []
    assert not [w for w in ("310113", "7号线", "luodian_committees", "line7") if w in code]


def _feature_file(tmp_path: Path, mutate) -> Path:
    data = json.loads(DEFAULT_PATH.read_text(encoding="utf-8"))
    mutate(data)
    path = tmp_path / "broken.geojson"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path


def _bowtie(data):
    data["features"][5]["geometry"] = {
        "type": "Polygon", "coordinates": [[[121.3, 31.4], [121.4, 31.5], [121.4, 31.4],
                                            [121.3, 31.5], [121.3, 31.4]]]}  # fmt: skip


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d["features"][3]["properties"].pop("uncertainty_m"), "lacks uncertainty_m"),
        (_bowtie, "invalid geometry"),
        (lambda d: d.update(crs={"properties": {"name": "EPSG:32651"}}), "WGS-84"),
        (lambda d: d["features"][7].update(geometry={"type": "Point", "coordinates": [351000.0,
                                                                                      3475000.0]}),
         "not WGS-84"),
        (lambda d: d["features"][2]["properties"].update(precision="exact"), "precision"),
        (lambda d: d["features"][2]["properties"].update(name=d["features"][1]["properties"]
                                                         ["name"]), "duplicate"),
        (lambda d: d.update(type="Feature"), "FeatureCollection"),
        (lambda d: d["features"][4].update(geometry={"type": "Polygon"}), "malformed"),
    ],
)  # fmt: skip
def test_broken_gazetteer_file_raises_input_error(tmp_path, mutate, message):
    with pytest.raises(InputError, match=message) as info:
        load_gazetteer(_feature_file(tmp_path, mutate))
    assert "\n" not in str(info.value)


def test_unreadable_or_missing_file_raises_input_error(tmp_path):
    (tmp_path / "bad.geojson").write_bytes(b"\xff\xfe{not json")
    with pytest.raises(InputError):
        load_gazetteer(tmp_path / "bad.geojson")
    with pytest.raises(InputError, match="not found"):
        load_gazetteer(tmp_path / "missing.geojson")


# --- matching ----------------------------------------------------------------------------------


def test_normalise_name():
    assert normalise_name(" （ＭＡＸ）科技园 ") == "(max)科技园"
    assert normalise_name("东方生命港·宝山药谷（一期）") == "东方生命港宝山药谷(一期)"
    assert normalise_name("東里桥村") == "东里桥村"


@pytest.mark.parametrize(
    ("query", "name", "method"),
    [
        ("光明村", "光明村", "exact"),
        ("光明村村委会", "光明村", "alias"),
        ("古镇居委会", "古镇居委会", "exact"),
        ("ＭＡＸ科技园", "MAX科技园", "exact"),
        ("東里桥村", "束里桥村", "alias"),  # the report's misprint of 束
        ("美兰湖", "美兰湖", "exact"),
        ("7号线美兰湖站", "美兰湖站", "alias"),
        ("王家村沈六房", "王家村", "parent"),  # a sub-place: located only by its village
        ("美兰西湖公园一期", "美兰西湖公园", "parent"),
        ("美兰西湖公园二期", "美兰西湖公园", "parent"),
        ("MAX科技园二期", "MAX科技园", "parent"),
        ("祁北支路（潘泾路-潘泾河）", "祁北支路", "parent"),
        ("罗店大居九年一贯制学校", "罗店大居", "parent"),
        ("美罗家园宝欣苑一居委会", "美罗家园宝欣苑第一居委会", "fuzzy"),
        ("中集美兰胡金地广场", "中集美兰湖金地广场", "fuzzy"),
    ],
)  # fmt: skip
def test_match(gazetteer, query, name, method):
    found = gazetteer.match(query)
    assert found is not None
    assert (found.row["name"], found.method) == (name, method)
    assert 0 < found.score <= 100


@pytest.mark.parametrize("query", ["光明居委会", "光明", "上海", "", "   ", "西埝新村"])
def test_no_match_rather_than_a_wrong_one(gazetteer, query):
    assert gazetteer.match(query) is None


def test_sub_place_is_never_reported_as_the_place_itself(gazetteer):
    found = gazetteer.match("王家村沈六房")
    assert found.method == "parent" and found.score < 100
    ordinal = gazetteer.match("美罗家园宝欣苑第七居委会")  # there is no 第七 committee
    assert ordinal.method == "parent" and ordinal.row["name"] == "罗店大居"


def test_match_many_is_fast_and_agrees_with_match(built):
    names = [*built["name"], "王家村沈六房", "光明居委会", "美兰西湖公园二期"]
    queries = [names[i % len(names)] if i % 2 else f"某某路{i}号" for i in range(100_000)]
    gazetteer = Gazetteer(built)
    start = time.perf_counter()
    results = gazetteer.match_many(queries)
    assert time.perf_counter() - start < 10
    expected_misses = sum(q.startswith("某某路") or q == "光明居委会" for q in queries)
    assert sum(r is None for r in results) == expected_misses
    fresh = Gazetteer(built)
    for query in ("王家村沈六房", "光明村", "美兰西湖公园二期"):
        single, bulk = fresh.match(query), results[queries.index(query)]
        assert (single.row["name"], single.method, single.score) == (
            bulk.row["name"],
            bulk.method,
            bulk.score,
        )
