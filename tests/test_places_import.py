"""``luodian-map places import``: a planner's own GIS file becomes surveyed places.

Every file is written by the test from WGS-84 truth inside 罗店镇, in the CRS and encoding
Chinese offices use (a GBK Shapefile in CGCS2000 3° Gauss–Krüger CM 120°E, a GBK CSV in
GCJ-02, a two-layer GeoPackage in CGCS2000, a KML), and read back through the importer;
coordinates must come back within half a metre of the truth.
"""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyproj
import pytest
import shapely
from shapely.geometry import LineString, Point, Polygon

from clirun import run_cli as run
from luodian_map import crs
from luodian_map.errors import InputError
from luodian_map.gazetteer import GEODATA_DIR
from luodian_map.places.importer import import_places
from luodian_map.places.sources import place_file_metadata, read_place_files
from luodian_map.places.town import find_town

ROOT = Path(__file__).resolve().parents[1]
NOW = datetime(2026, 5, 1, 8, 30, tzinfo=UTC)
GEOD = pyproj.Geod(ellps="WGS84")
# Report names (luodian-map extract geodata/reports/…) at made-up but plausible spots.
TRUTH = {
    "罗店医院": Point(121.344137, 31.413072),
    "美兰金苑养老院": Point(121.349213, 31.401584),
    "新镇东部幼儿园": Point(121.364871, 31.405233),
}
ROADS = {
    "泽阳路": LineString([(121.357412, 31.40391), (121.362, 31.4041), (121.368734, 31.40452)]),
    "年祥路": LineString([(121.362517, 31.39672), (121.36271, 31.41243)]),
}
PARK = {
    "美兰湖公园": Polygon(
        [(121.3471, 31.4056), (121.3544, 31.4057), (121.3546, 31.4113), (121.3469, 31.4112)]
    )
}


@pytest.fixture
def geodata(tmp_path: Path) -> Path:
    """A copy of the shipped geodata/ (the report) with the town (gazetteer, sources)."""
    target = tmp_path / "geodata"
    shutil.copytree(ROOT / "geodata", target)
    shutil.copytree(GEODATA_DIR, target / "luodian")
    return target


@pytest.fixture
def area(geodata: Path):
    return find_town(geodata)


def max_error_m(got: shapely.Geometry, truth: shapely.Geometry) -> float:
    """The largest distance in metres between corresponding vertices."""
    a, b = shapely.get_coordinates(got), shapely.get_coordinates(truth)
    assert a.shape == b.shape, (got, truth)
    return float(np.max(GEOD.inv(a[:, 0], a[:, 1], b[:, 0], b[:, 1])[2]))


def by_name(places: gpd.GeoDataFrame) -> dict[str, dict]:
    return {row["name"]: row for row in places.to_dict("records")}


def write_shapefile(path: Path, *, cpg: bool, encoding: str = "gbk") -> Path:
    frame = gpd.GeoDataFrame(
        {"名称": list(TRUTH), "精度": ["0.5", "", ""], "备注": ["东门", "", "在建"]},
        geometry=list(TRUTH.values()),
        crs="EPSG:4326",
    ).to_crs("EPSG:4549")
    frame.to_file(path, encoding=encoding)
    if not cpg:
        path.with_suffix(".cpg").unlink()
    return path


# -- formats ---------------------------------------------------------------------------------


def test_gbk_shapefile_in_cgcs2000_gauss_kruger_with_prj_and_cpg(tmp_path, area) -> None:
    path = write_shapefile(tmp_path / "设施点.shp", cpg=True)
    assert "罗店医院".encode("gbk") in path.with_suffix(".dbf").read_bytes()
    assert path.with_suffix(".cpg").read_text().strip().upper() == "GBK"
    places, meta = import_places(path, area, now=NOW)
    rows = by_name(places)
    assert set(rows) == set(TRUTH)
    for name, truth in TRUTH.items():
        assert max_error_m(rows[name]["geometry"], truth) < 0.5
        assert rows[name]["precision"] == "surveyed"
    assert rows["罗店医院"]["uncertainty_m"] == 0.5
    assert rows["美兰金苑养老院"]["uncertainty_m"] == 5.0
    assert "5 m assumed" in rows["美兰金苑养老院"]["basis"]
    assert rows["罗店医院"]["tags"] == {"备注": "东门"}
    assert meta["crs"] == "EPSG:4549" and meta["crs_from"] == "file"
    assert meta["file"] == "设施点.shp" and meta["imported"] == "2026-05-01T08:30:00Z"
    assert meta["layers"] == ["设施点"] and meta["name_field"] == "名称"


@pytest.mark.parametrize(("encoding", "expected"), [("gbk", "gb18030"), ("utf-8", "utf-8")])
def test_shapefile_without_cpg_is_read_as_utf8_else_gb18030(
    tmp_path, area, encoding, expected
) -> None:
    path = write_shapefile(tmp_path / "points.shp", cpg=False, encoding=encoding)
    assert not path.with_suffix(".cpg").exists()
    places, meta = import_places(path, area, now=NOW)
    assert sorted(places["name"]) == sorted(TRUTH)
    assert meta["encoding"] == expected


def test_gbk_csv_in_gcj02_with_crs_gcj02(tmp_path, area) -> None:
    names = list(TRUTH)
    lon, lat = crs.wgs84_to_gcj02(
        np.array([p.x for p in TRUTH.values()]), np.array([p.y for p in TRUTH.values()])
    )
    rows = zip(names, lon, lat, strict=True)
    lines = ["名称,经度,纬度"] + [f"{n},{x:.7f},{y:.7f}" for n, x, y in rows]
    path = tmp_path / "高德坐标.csv"
    path.write_bytes("\n".join(lines).encode("gbk"))
    with pytest.raises(InputError, match=r"states no coordinate system.*--crs"):
        import_places(path, area)
    places, meta = import_places(path, area, crs="gcj02", now=NOW)
    rows = by_name(places)
    for name, truth in TRUTH.items():
        assert max_error_m(rows[name]["geometry"], truth) < 0.5
    assert meta["crs"] == "gcj02" and meta["crs_from"] == "--crs"
    # read as WGS-84 the same file is ~500 m off: the datum matters
    wrong = by_name(import_places(path, area, crs="wgs84")[0])
    assert max_error_m(wrong["罗店医院"]["geometry"], TRUTH["罗店医院"]) > 300


def test_csv_with_wkt_column(tmp_path, area) -> None:
    path = tmp_path / "roads.csv"
    rows = [f'{name},"{geom.wkt}"' for name, geom in ROADS.items()]
    path.write_text("name,wkt\n" + "\n".join(rows) + "\n", encoding="utf-8")
    places = by_name(import_places(path, area, crs="EPSG:4490")[0])
    for name, truth in ROADS.items():
        assert max_error_m(places[name]["geometry"], truth) < 0.5


def write_geopackage(path: Path) -> Path:
    roads = gpd.GeoDataFrame({"NAME": list(ROADS)}, geometry=list(ROADS.values()), crs=4326)
    parks = gpd.GeoDataFrame({"项目名称": list(PARK), "类别": ["公园绿地"]},
                             geometry=list(PARK.values()), crs=4326)  # fmt: skip
    roads.to_crs("EPSG:4490").to_file(path, layer="道路", driver="GPKG")
    parks.to_crs("EPSG:4549").to_file(path, layer="公园", driver="GPKG")
    return path


def test_geopackage_every_layer_each_in_its_own_crs(tmp_path, area) -> None:
    path = write_geopackage(tmp_path / "规划.gpkg")
    places, meta = import_places(path, area, now=NOW)
    rows = by_name(places)
    for name, truth in {**ROADS, **PARK}.items():
        assert max_error_m(rows[name]["geometry"], truth) < 0.5
    assert rows["美兰湖公园"]["category"] == "park"
    assert rows["泽阳路"]["source_id"].startswith("道路:")
    assert sorted(meta["layers"]) == ["公园", "道路"]
    assert set(meta["crs"].split(", ")) == {"EPSG:4490", "EPSG:4549"}


def test_geopackage_one_layer_or_a_clear_error(tmp_path, area) -> None:
    path = write_geopackage(tmp_path / "规划.gpkg")
    places, meta = import_places(path, area, layer="公园")
    assert list(places["name"]) == ["美兰湖公园"] and meta["layers"] == ["公园"]
    with pytest.raises(InputError, match=r"no layer '绿地'.*公园"):
        import_places(path, area, layer="绿地")


KML = """<?xml version="1.0" encoding="UTF-8"?>
<kml xmlns="http://www.opengis.net/kml/2.2"><Document><name>罗店调查</name>
<Folder><name>设施</name>
<Placemark><name>罗店医院</name><description>现场核对</description>
<Point><coordinates>{hospital},0</coordinates></Point></Placemark>
</Folder>
<Folder><name>道路</name>
<Placemark><name>年祥路</name><LineString><tessellate>1</tessellate>
<coordinates>{road}</coordinates></LineString></Placemark>
</Folder></Document></kml>
"""


def test_kml_folders_as_layers(tmp_path, area) -> None:
    hospital = TRUTH["罗店医院"]
    road = " ".join(f"{x:.7f},{y:.7f},0" for x, y in ROADS["年祥路"].coords)
    path = tmp_path / "调查.kml"
    path.write_text(KML.format(hospital=f"{hospital.x},{hospital.y}", road=road), "utf-8")
    places, meta = import_places(path, area, now=NOW)
    rows = by_name(places)
    assert max_error_m(rows["罗店医院"]["geometry"], hospital) < 0.5
    assert max_error_m(rows["年祥路"]["geometry"], ROADS["年祥路"]) < 0.5
    assert not rows["年祥路"]["geometry"].has_z
    assert rows["罗店医院"]["tags"] == {"description": "现场核对"}
    assert sorted(meta["layers"]) == ["设施", "道路"]


# -- names and fields -------------------------------------------------------------------------


def test_the_name_field_is_found_or_named(tmp_path, area) -> None:
    path = tmp_path / "p.geojson"
    gpd.GeoDataFrame({"项目": ["罗店医院"], "编号": ["A1"]}, geometry=[TRUTH["罗店医院"]],
                     crs=4326).to_file(path)  # fmt: skip
    with pytest.raises(InputError, match=r"no name field.*项目.*--name-field"):
        import_places(path, area)
    with pytest.raises(InputError, match="no field '名字'"):
        import_places(path, area, name_field="名字")
    places, meta = import_places(path, area, name_field="项目")
    assert list(places["name"]) == ["罗店医院"] and meta["name_field"] == "项目"


def test_unnamed_and_faraway_features_are_left_out_and_counted(tmp_path, area) -> None:
    path = tmp_path / "p.geojson"
    gpd.GeoDataFrame(
        {"name": ["罗店医院", None, "天安门"]},
        geometry=[TRUTH["罗店医院"], Point(121.35, 31.41), Point(116.3913, 39.9075)],
        crs=4326,
    ).to_file(path)
    places, meta = import_places(path, area)
    assert list(places["name"]) == ["罗店医院"]
    assert meta["left_out"] == {"unnamed": 1, "outside_the_town": 1}


# -- geometry repair ----------------------------------------------------------------------------


def test_a_self_intersecting_polygon_is_repaired(tmp_path, area) -> None:
    bowtie = Polygon([(121.347, 31.405), (121.354, 31.411), (121.354, 31.405), (121.347, 31.411)])
    assert not bowtie.is_valid
    path = tmp_path / "parks.geojson"
    gpd.GeoDataFrame({"name": ["美兰湖公园"]}, geometry=[bowtie], crs=4326).to_file(path)
    places, meta = import_places(path, area)
    geom = places.geometry.iloc[0]
    assert geom.is_valid and geom.geom_type == "MultiPolygon" and len(geom.geoms) == 2
    # both lobes kept: the repaired area is the two triangles of the bow tie
    assert geom.area == pytest.approx(0.007 * 0.006 / 2, rel=1e-6)
    assert meta["repaired"] == ["美兰湖公园"]


def test_an_unrepairable_polygon_is_named(tmp_path, area) -> None:
    flat = Polygon([(121.35, 31.41), (121.355, 31.41), (121.36, 31.41), (121.35, 31.41)])
    path = tmp_path / "parks.geojson"
    gpd.GeoDataFrame({"name": ["美兰湖公园", "塌陷地块"]}, geometry=[PARK["美兰湖公园"], flat],
                     crs=4326).to_file(path)  # fmt: skip
    with pytest.raises(InputError, match=r"feature 2 \(塌陷地块\).*cannot be repaired"):
        import_places(path, area)


# -- wrong CRS, through the command line ------------------------------------------------------


def projected(name: str, epsg: int) -> tuple[float, float]:
    p = gpd.GeoSeries([TRUTH[name]], crs=4326).to_crs(epsg).iloc[0]
    return p.x, p.y


@pytest.mark.parametrize(
    ("content", "options", "hint"),
    [
        # CGCS2000 Gauss–Krüger metres declared as CGCS2000 degrees
        ("name,x,y\n罗店医院,{gk[0]},{gk[1]}\n", ["--crs", "EPSG:4490"], "--crs EPSG:4549"),
        # a zone-numbered x (40 500 000 m) read without the zone
        ("name,x,y\n罗店医院,{zone[0]},{zone[1]}\n", ["--crs", "EPSG:4549"], "--crs EPSG:4528"),
        ("name,lon,lat\n罗店医院,31.413072,121.344137\n", ["--crs", "wgs84"], "look swapped"),
        ("name,lon,lat\n罗店医院,116.3913,39.9075\n", ["--crs", "gcj02"], "about 1,0"),
    ],
)
def test_a_file_in_the_wrong_crs_is_one_line_exit_2(tmp_path, geodata, content, options, hint):
    path = tmp_path / "wrong.csv"
    gk, zone = projected("罗店医院", 4549), projected("罗店医院", 4528)
    path.write_text(content.format(gk=gk, zone=zone), encoding="utf-8")
    before = sorted((geodata / "luodian" / "sources").iterdir())
    result = run("places", "import", str(path), "--geodata", str(geodata), *options, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("luodian-map: error: wrong.csv: ")
    assert "no feature lies in or near 罗店镇" in lines[0] and hint in lines[0]
    assert sorted((geodata / "luodian" / "sources").iterdir()) == before


def test_a_prj_that_disagrees_with_the_coordinates_suggests_the_right_zone(tmp_path, area):
    path = tmp_path / "zone.shp"
    frame = gpd.GeoDataFrame({"name": ["罗店医院"]}, geometry=[TRUTH["罗店医院"]], crs=4326)
    frame.to_crs(4528).set_crs(4549, allow_override=True).to_file(path)
    with pytest.raises(InputError, match="--crs EPSG:4528"):
        import_places(path, area)
    places, _ = import_places(path, area, crs="EPSG:4528")
    assert max_error_m(places.geometry.iloc[0], TRUTH["罗店医院"]) < 0.5


# -- end to end: import, then build ---------------------------------------------------------


def test_build_places_imported_items_at_exactly_their_geometry(tmp_path, geodata) -> None:
    shp = write_shapefile(tmp_path / "设施点.shp", cpg=False)
    gpkg = write_geopackage(tmp_path / "规划.gpkg")
    for path in (shp, gpkg):
        result = run("places", "import", str(path), "--geodata", str(geodata), cwd=tmp_path)
        assert result.returncode == 0, result.stderr
    sources = geodata / "luodian" / "sources"
    assert place_file_metadata(sources / "设施点.geojson")["file"] == "设施点.shp"
    written = by_name(read_place_files(geodata / "luodian"))
    result = run(
        "build", str(geodata / "reports"), "--geodata", str(geodata),
        "--layers", str(tmp_path / "layers"), "--maps", str(tmp_path / "maps"), "--no-maps",
        cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    features = {}
    for layer in (tmp_path / "layers").glob("*.geojson"):
        for feature in json.loads(layer.read_text("utf-8"))["features"]:
            features.setdefault(feature["properties"]["name"], feature)
    for name in [*TRUTH, *ROADS, *PARK]:
        feature = features[name]
        assert feature["properties"]["precision"] == "surveyed", name
        geometry = shapely.geometry.shape(feature["geometry"])
        # layers keep six decimals (≈ 0.1 m) of the place file's geometry
        assert max_error_m(geometry, written[name]["geometry"]) < 0.1, name
        assert max_error_m(geometry, {**TRUTH, **ROADS, **PARK}[name]) < 0.5, name
    assert features["罗店医院"]["properties"]["uncertainty_m"] == 0.5


def test_import_never_overwrites_a_raw_gazetteer_input(geodata: Path, tmp_path: Path) -> None:
    """A file named like a raw input of the gazetteer (the district outline) is refused."""
    raw = geodata / "luodian" / "sources" / "baoshan_310113_gcj02.geojson"
    before = raw.read_bytes()
    planner = tmp_path / "baoshan_310113_gcj02.geojson"
    gpd.GeoDataFrame({"name": ["罗店医院"]}, geometry=[TRUTH["罗店医院"]], crs=4326).to_file(
        planner
    )
    result = run("places", "import", str(planner), "--geodata", str(geodata), cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "not a luodian-map place file" in result.stderr
    assert raw.read_bytes() == before


def test_import_for_the_packaged_town_writes_into_the_working_folder(tmp_path: Path) -> None:
    """With no town under geodata/, the packaged town is copied there and the file joins
    it; the package itself is not written and the build places the import."""
    packaged = sorted(p.name for p in (GEODATA_DIR / "sources").iterdir())
    shp = write_shapefile(tmp_path / "设施点.shp", cpg=False)
    result = run("places", "import", str(shp), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    town = tmp_path / "geodata" / "luodian"
    assert sorted(p.name for p in (GEODATA_DIR / "sources").iterdir()) == packaged
    assert sorted(p.name for p in (town / "sources").iterdir()) == sorted(
        [*packaged, "设施点.geojson"]
    )
    assert (town / "gazetteer.geojson").read_bytes() == (
        GEODATA_DIR / "gazetteer.geojson"
    ).read_bytes()
    shutil.copytree(ROOT / "geodata" / "reports", tmp_path / "geodata" / "reports")
    built = run("build", "--no-maps", cwd=tmp_path)
    assert built.returncode == 0, built.stderr
    names = {
        feature["properties"]["name"]: feature["properties"]["precision"]
        for layer in (tmp_path / "layers").glob("*.geojson")
        for feature in json.loads(layer.read_text("utf-8"))["features"]
    }
    assert {names[name] for name in TRUTH} == {"surveyed"}
