"""Layers: RFC 7946 GeoJSON, a GeoPackage and an Excel-friendly CSV, reproducible."""

from __future__ import annotations

import filecmp
import json
import os
from pathlib import Path

import fiona
import geopandas as gpd
import pyogrio
import pytest
import shapely
import shapely.affinity
from pyproj import CRS

from luodian_map.categories import CATEGORIES
from luodian_map.layers import CSV_NAME, GPKG_NAME, PROPERTIES, read_layers
from luodian_map.outputs import MANIFEST_NAME

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def built(built_project: Path) -> Path:
    """The layers of the shipped report, built as a user would (``conftest.built_project``)."""
    return built_project / "layers"


def gpkg_content(path: Path) -> dict[str, dict]:
    """What a GeoPackage holds, not how GDAL lays it out: per layer the CRS, geometry type,
    field names and types, ids, attributes and geometries."""
    content = {}
    for layer, _geometry_type in pyogrio.list_layers(path):
        info = pyogrio.read_info(path, layer=layer)
        frame = gpd.read_file(path, layer=layer).sort_values("id", ignore_index=True)
        attributes = frame.drop(columns="geometry").astype(object)
        content[layer] = {
            "crs": CRS.from_user_input(info["crs"]).to_epsg(),
            "geometry_type": info["geometry_type"],
            "fields": dict(zip(info["fields"], info["dtypes"], strict=True)),
            "ids": frame["id"].tolist(),
            "attributes": attributes.where(attributes.notna(), None).to_dict("records"),
            "geometries": shapely.to_wkt(
                shapely.normalize(frame.geometry.values), rounding_precision=-1
            ).tolist(),
        }
    return content


def test_rebuild_reproduces_the_committed_layers(built: Path) -> None:
    """The committed layers are what the build writes: the files this package writes
    itself byte for byte, the GeoPackage (written by GDAL) by content."""
    committed = sorted(p.name for p in (ROOT / "layers").iterdir())
    rebuilt = sorted(p.name for p in built.iterdir())
    assert rebuilt == committed
    text_files = [name for name in committed if name != GPKG_NAME]
    _match, mismatch, errors = filecmp.cmpfiles(ROOT / "layers", built, text_files, shallow=False)
    assert (mismatch, errors) == ([], [])
    assert gpkg_content(built / GPKG_NAME) == gpkg_content(ROOT / "layers" / GPKG_NAME)


def test_geopackage_content_comparison_sees_a_wrong_feature(built: Path, tmp_path: Path) -> None:
    """The comparison above is blind to GDAL's layout but not to a feature that changed."""
    from luodian_map import layers

    features = read_layers(built)
    layers.write_layers(features, tmp_path / "same")
    assert gpkg_content(tmp_path / "same" / GPKG_NAME) == gpkg_content(built / GPKG_NAME)
    moved = features.copy()
    moved.loc[moved.index[0], "geometry"] = shapely.affinity.translate(
        moved.geometry.iloc[0], xoff=0.0001
    )
    layers.write_layers(moved, tmp_path / "moved")
    renamed = features.assign(
        name=features["name"].where(features.index != features.index[-1], "x")
    )
    layers.write_layers(renamed, tmp_path / "renamed")
    for changed in ("moved", "renamed"):
        assert gpkg_content(tmp_path / changed / GPKG_NAME) != gpkg_content(built / GPKG_NAME)


def test_layers_hold_only_category_layers_and_the_listed_files(built: Path) -> None:
    names = {p.name for p in built.iterdir()}
    extras = names - {f"{c}.geojson" for c in CATEGORIES}
    assert extras == {GPKG_NAME, CSV_NAME, "unlocated.json", MANIFEST_NAME}


def test_geojson_is_rfc7946_with_the_design_properties(built: Path) -> None:
    for path in built.glob("*.geojson"):
        data = json.loads(path.read_text("utf-8"))
        assert data["type"] == "FeatureCollection" and "crs" not in data
        ids = [f["properties"]["id"] for f in data["features"]]
        assert ids == sorted(ids) and len(set(ids)) == len(ids)
        for feature in data["features"]:
            assert list(feature["properties"]) == list(PROPERTIES)
            assert feature["properties"]["category"] == path.stem
            geometry = shapely.geometry.shape(feature["geometry"])
            assert geometry.is_valid and not geometry.is_empty
            for x, y in shapely.get_coordinates(geometry):
                assert 121.0 < x < 122.0 and 31.0 < y < 32.0  # lon, lat order, WGS-84
                assert round(x, 6) == x and round(y, 6) == y


def test_every_layer_round_trips_through_geopandas_and_fiona(built: Path) -> None:
    frame = read_layers(built)
    assert len(frame) == sum(
        len(json.loads(p.read_text("utf-8"))["features"]) for p in built.glob("*.geojson")
    )
    assert frame.crs.to_epsg() == 4326
    layers = fiona.listlayers(built / GPKG_NAME)
    assert sorted(layers) == sorted(p.stem for p in built.glob("*.geojson"))
    for layer in layers:
        from_gpkg = gpd.read_file(built / GPKG_NAME, layer=layer).sort_values("id")
        from_json = frame[frame["category"] == layer].sort_values("id")
        assert list(from_gpkg["id"]) == list(from_json["id"])
        assert list(from_gpkg["name"]) == list(from_json["name"])
        assert from_gpkg.geometry.geom_equals_exact(
            from_json.geometry.reset_index(drop=True).set_axis(from_gpkg.index), 1e-7
        ).all()
        with fiona.open(built / GPKG_NAME, layer=layer) as source:
            assert set(source.schema["properties"]) == set(PROPERTIES)


def test_csv_opens_in_excel_with_chinese_intact(built: Path) -> None:
    raw = (built / "items.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    text = raw.decode("utf-8-sig")
    assert "罗店" in text and text.count("\r\n") == len(read_layers(built)) + 1


def test_geojson_layers_hold_one_feature_per_line(built: Path) -> None:
    for path in built.glob("*.geojson"):
        lines = path.read_text("utf-8").splitlines()
        features = json.loads(path.read_text("utf-8"))["features"]
        assert lines[0] == '{"type":"FeatureCollection","features":[' and lines[-1] == "]}"
        assert [json.loads(line.rstrip(",")) for line in lines[1:-1]] == features


def test_geopackage_written_in_a_forked_process_is_the_same_file(
    built: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from luodian_map import layers

    if not layers._can_fork():
        pytest.skip("no fork on this platform: the GeoPackage is always written in-process")
    features = read_layers(built)
    layers.write_layers(features, tmp_path / "serial")
    monkeypatch.setattr(layers, "BACKGROUND_GPKG_FROM", 0)
    layers.write_layers(features, tmp_path / "forked")
    names = sorted(p.name for p in (tmp_path / "serial").iterdir())
    assert names == sorted(p.name for p in (tmp_path / "forked").iterdir())
    _match, mismatch, errors = filecmp.cmpfiles(
        tmp_path / "serial", tmp_path / "forked", names, shallow=False
    )
    assert (mismatch, errors) == ([], [])


def test_a_deferred_geopackage_is_finished_by_the_caller(built: Path, tmp_path: Path) -> None:
    from luodian_map import layers

    if not layers._can_fork():
        pytest.skip("no fork on this platform: the GeoPackage is always written in-process")
    features = read_layers(built)
    layers.write_layers(features, tmp_path / "serial")
    pending: list = []
    layers.write_layers(features, tmp_path / "deferred", defer=pending.append)
    assert len(pending) == 1  # handed over, not waited for
    pending[0]()
    gpkg = layers.GPKG_NAME
    assert (tmp_path / "deferred" / gpkg).read_bytes() == (tmp_path / "serial" / gpkg).read_bytes()


def test_an_error_writing_the_geopackage_in_a_forked_process_reaches_the_caller(
    built: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from luodian_map import layers
    from luodian_map.errors import LuodianMapError

    if not layers._can_fork():
        pytest.skip("no fork on this platform")

    def disk_full(tables, path) -> None:
        raise OSError(28, "No space left on device", str(path))

    monkeypatch.setattr(layers, "BACKGROUND_GPKG_FROM", 0)
    monkeypatch.setattr(layers, "_write_gpkg", disk_full)
    with pytest.raises(OSError, match="No space left"):
        layers.write_layers(read_layers(built), tmp_path / "out")
    monkeypatch.setattr(layers, "_write_gpkg", lambda tables, path: os._exit(3))
    with pytest.raises(LuodianMapError, match="exit code 3"):
        layers.write_layers(read_layers(built), tmp_path / "out")
    assert not (tmp_path / "out" / GPKG_NAME).exists()
