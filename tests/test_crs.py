"""Datum conversions checked against real coordinates from two independent station sources."""

from __future__ import annotations

import csv

import geopandas as gpd
import numpy as np
import pyproj
import pytest
import shapely

from luodian_map import crs
from luodian_map.errors import InputError
from luodian_map.gazetteer import GEODATA_DIR

STATIONS_CSV = GEODATA_DIR / "sources" / "line7_stations.csv"
GEOD = pyproj.Geod(ellps="WGS84")


def _metres(lon1, lat1, lon2, lat2) -> np.ndarray:
    return np.asarray(GEOD.inv(lon1, lat1, lon2, lat2)[2])


@pytest.fixture(scope="module")
def stations() -> dict[str, np.ndarray]:
    """BD-09 and WGS-84 rows of the same stations, in the same (route) order in both sources."""
    with STATIONS_CSV.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    by_crs = {
        prefix: np.array(
            [[float(r["lon"]), float(r["lat"])] for r in rows if r["crs"].startswith(prefix)]
        )
        for prefix in ("BD-09", "WGS-84")
    }
    names = [r["station"] for r in rows]
    assert names[:2] == ["美兰湖", "罗南新村"] and names[5:7] == ["Meilan Lake", "Luonan Xincun"]
    assert by_crs["BD-09"].shape == by_crs["WGS-84"].shape == (5, 2)
    return by_crs


@pytest.fixture(scope="module")
def shanghai_grid() -> tuple[np.ndarray, np.ndarray]:
    lon, lat = np.meshgrid(np.linspace(121.0, 121.95, 40), np.linspace(30.7, 31.9, 40))
    return lon.ravel(), lat.ravel()


def test_bd09_stations_land_on_wgs84_stations(stations):
    bd, wgs = stations["BD-09"], stations["WGS-84"]
    lon, lat = crs.convert(bd[:, 0], bd[:, 1], "BD-09", "WGS-84")
    gaps = _metres(lon, lat, wgs[:, 0], wgs[:, 1])
    # Two sources may mark different points of a 200 m station: 美兰湖, 刘行 agree to about
    # 13 m, 罗南新村 and 顾村公园 to about 35 m, 潘广路 only to about 88 m.
    assert np.median(gaps) < 40
    assert gaps.max() < 100


def test_raw_offset_is_large_so_the_station_test_means_something(stations):
    bd, wgs = stations["BD-09"], stations["WGS-84"]
    raw = _metres(bd[:, 0], bd[:, 1], wgs[:, 0], wgs[:, 1])
    assert raw.min() > 1000  # BD-09 is over a kilometre off around Shanghai


def test_gcj02_offset_is_several_hundred_metres(shanghai_grid):
    lon, lat = shanghai_grid
    gcj = crs.convert(lon, lat, "wgs84", "gcj02")
    offsets = _metres(lon, lat, *gcj)
    assert offsets.min() > 300 and offsets.max() < 800


@pytest.mark.parametrize("via", ["gcj02", "bd09"])
def test_round_trip_within_half_a_metre(shanghai_grid, via):
    lon, lat = shanghai_grid
    back = crs.convert(*crs.convert(lon, lat, "wgs84", via), via, "wgs84")
    assert _metres(lon, lat, *back).max() < 0.5


def test_gcj02_to_bd09_and_back(shanghai_grid):
    lon, lat = shanghai_grid
    back = crs.bd09_to_gcj02(*crs.gcj02_to_bd09(lon, lat))
    assert _metres(lon, lat, *back).max() < 0.5


def test_outside_china_is_unchanged():
    lon, lat = np.array([2.35, -74.0, 139.7]), np.array([48.85, 40.7, 35.7])  # Paris, NYC, Tokyo
    for dst in ("gcj02", "bd09"):
        out = crs.convert(lon, lat, "wgs84", dst)
        np.testing.assert_array_equal(out[0], lon)
        np.testing.assert_array_equal(out[1], lat)


def test_scalars_and_cgcs2000_identity():
    lon, lat = crs.convert(121.3453, 31.4038, "EPSG:4490", "wgs84")
    assert lon.shape == () and (float(lon), float(lat)) == (121.3453, 31.4038)


def test_polygon_transform_keeps_validity_holes_and_vertex_count():
    shell = shapely.Polygon(
        [(121.30, 31.38), (121.40, 31.38), (121.40, 31.45), (121.30, 31.45)],
        holes=[[(121.33, 31.40), (121.36, 31.40), (121.36, 31.42), (121.33, 31.42)]],
    )
    multi = shapely.MultiPolygon([shell, shapely.box(121.45, 31.3, 121.5, 31.35)])
    out = crs.transform_geometry(multi, "GCJ-02", "WGS-84")
    assert out.geom_type == "MultiPolygon" and out.is_valid
    assert len(out.geoms[0].interiors) == 1
    assert shapely.get_num_coordinates(out) == shapely.get_num_coordinates(multi)
    assert _metres(multi.centroid.x, multi.centroid.y, out.centroid.x, out.centroid.y) > 300


def test_array_and_geoseries_are_transformed_alike():
    geoms = np.array(
        [shapely.Point(121.35, 31.40), shapely.LineString([(121.3, 31.4), (121.4, 31.4)])]
    )
    as_array = crs.transform_geometry(geoms, "bd09", "wgs84")
    series = gpd.GeoSeries(geoms, index=["a", "b"], crs="EPSG:4326")
    as_series = crs.transform_geometry(series, "bd09", "wgs84")
    assert list(as_series.index) == ["a", "b"] and as_series.crs == "EPSG:4326"
    assert all(shapely.equals_exact(as_array, as_series.to_numpy(), tolerance=0))
    assert crs.transform_geometry(series, "wgs84", "gcj02").crs is None  # GCJ-02 has no EPSG code


def test_z_values_survive():
    out = crs.transform_geometry(shapely.Point(121.35, 31.40, 12.5), "gcj02", "wgs84")
    assert out.has_z and out.z == 12.5


@pytest.mark.parametrize(
    ("name", "expected"),
    [("WGS-84", "wgs84"), ("wgs84", "wgs84"), ("EPSG:4326", "wgs84"), ("GCJ-02", "gcj02"),
     ("gcj02", "gcj02"), ("BD-09", "bd09"), ("bd09", "bd09"), ("CGCS2000", "cgcs2000"),
     ("EPSG:4490", "cgcs2000"), (" wgs 84 ", "wgs84")],
)  # fmt: skip
def test_normalise_crs_name(name, expected):
    assert crs.normalise_crs_name(name) == expected


def test_unknown_crs_name_raises_with_the_accepted_names():
    with pytest.raises(InputError, match=r"'Xian80'.*GCJ-02") as info:
        crs.convert(121.0, 31.0, "Xian80", "wgs84")
    assert "\n" not in str(info.value)
