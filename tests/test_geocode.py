"""The geocoder chain: overrides → gazetteer → cache/online → town, on a hand-built gazetteer."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pytest
import shapely
from shapely.geometry import LineString, Point, Polygon

from fakegeo import FakeGeo, Place, answer
from luodian_map import crs
from luodian_map.cache import GeocodeCache
from luodian_map.errors import GeocodingError, InputError
from luodian_map.gazetteer import Gazetteer
from luodian_map.geocode import geocode_items, load_overrides
from luodian_map.model import Item
from luodian_map.providers import OnlineGeocoder

DISTRICT = Polygon([(121.25, 31.28), (121.53, 31.28), (121.53, 31.52), (121.25, 31.52)])
TOWN = Polygon([(121.30, 31.38), (121.40, 31.38), (121.40, 31.45), (121.30, 31.45)])
VILLAGE = Point(121.33, 31.43)
ROAD = LineString([(121.35, 31.40), (121.37, 31.41)])


def gazetteer() -> Gazetteer:
    rows = [
        ("宝山区", [], "district", None, DISTRICT, "sourced", 50.0),
        ("罗店镇", [], "town", None, TOWN, "approximate", 1000.0),
        (
            "王家村",
            ["王家村村委会"],
            "village_committee",
            "village",
            VILLAGE,
            "approximate",
            1500.0,
        ),
        ("年祥路", [], "road", "road", ROAD, "approximate", 800.0),
    ]
    frame = gpd.GeoDataFrame(
        {
            "name": [r[0] for r in rows],
            "aliases": [r[1] for r in rows],
            "kind": [r[2] for r in rows],
            "category": [r[3] for r in rows],
            "code": [None] * len(rows),
            "precision": [r[5] for r in rows],
            "uncertainty_m": [r[6] for r in rows],
            "source": ["test"] * len(rows),
        },
        geometry=[r[4] for r in rows],
        crs="EPSG:4326",
    )
    return Gazetteer(frame)


def item(name: str, category: str = "village", **extra) -> Item:
    fields = dict(
        name=name,
        category=category,
        year=2025,
        status="planned",
        report="r",
        part="plan",
        section="",
        quote=name,
        span=(0, len(name)),
        town="罗店镇",
    )
    fields.update(extra)
    return Item(**fields)


def by_name(features: gpd.GeoDataFrame) -> dict[str, dict]:
    return {row["name"]: row for _, row in features.iterrows()}


def test_gazetteer_places_with_its_own_precision_and_the_rest_is_town_level() -> None:
    items = [
        item("王家村"),
        item("年祥路", "road"),
        item("无名新村"),
        item("低效产业用地", "inefficient_land", aggregate=True),
    ]
    features, unlocated = geocode_items(items, gazetteer())
    rows = by_name(features)
    assert rows["王家村"].geometry.equals(VILLAGE)
    assert (rows["王家村"]["geocoder"], rows["王家村"]["precision"]) == ("gazetteer", "approximate")
    assert rows["年祥路"].geometry.geom_type == "LineString"
    for name in ("无名新村", "低效产业用地"):
        assert (rows[name]["geocoder"], rows[name]["precision"]) == ("town", "town")
        assert TOWN.contains(rows[name].geometry)
        # a town-level point reaches every corner of the town, plus the outline's 1000 m:
        # half the diagonal of this 9.5 × 7.8 km box (6.15 km) + 1 km, rounded up to 100 m
        assert rows[name]["uncertainty_m"] == 7200
    assert {u["name"] for u in unlocated} == {"无名新村", "低效产业用地"}
    assert all(u["reason"] for u in unlocated)


def test_a_sub_place_is_placed_at_its_parent_with_more_uncertainty() -> None:
    features, _ = geocode_items([item("王家村沈六房")], gazetteer())
    row = features.iloc[0]
    assert row.geometry.equals(VILLAGE)
    assert row["precision"] == "approximate"
    assert row["uncertainty_m"] > 1500.0


def test_overrides_win_by_id_then_name_and_convert_their_crs(tmp_path) -> None:
    village, road = item("王家村"), item("年祥路", "road")
    gcj = crs.wgs84_to_gcj02(np.array([121.341]), np.array([31.421]))
    path = tmp_path / "overrides.geojson"
    path.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "properties": {"id": village.id},
                        "geometry": {
                            "type": "Point",
                            "coordinates": [float(gcj[0][0]), float(gcj[1][0])],
                        },
                    },
                    {
                        "type": "Feature",
                        "properties": {"name": "年祥路", "uncertainty_m": 2},
                        "geometry": {
                            "type": "LineString",
                            "coordinates": [[121.36, 31.40], [121.38, 31.40]],
                        },
                    },
                ],
            }
        ),
        encoding="utf-8",
    )
    overrides = load_overrides(path, "GCJ-02")
    features, _ = geocode_items([village, road], gazetteer(), overrides=overrides)
    rows = by_name(features)
    assert rows["王家村"]["geocoder"] == "overrides"
    assert rows["王家村"]["precision"] == "surveyed"
    # GCJ-02 input lands back on the WGS-84 point within half a metre (~5e-6 degrees)
    assert rows["王家村"].geometry.distance(Point(121.341, 31.421)) < 5e-6
    assert rows["年祥路"]["uncertainty_m"] == 2


def test_csv_overrides_with_lon_lat(tmp_path) -> None:
    path = tmp_path / "o.csv"
    path.write_text("name,lon,lat\n王家村,121.335,31.431\n", encoding="utf-8-sig")
    features, _ = geocode_items([item("王家村")], gazetteer(), overrides=load_overrides(path))
    assert features.iloc[0].geometry.equals(Point(121.335, 31.431))


@pytest.mark.parametrize(
    ("content", "suffix", "message"),
    [
        ("{not json", ".geojson", "cannot read overrides"),
        ("name,lon,lat\n王家村,31.43,121.33\n", ".csv", "look swapped"),
        ("name,lon,lat\n王家村,2.35,48.85\n", ".csv", "outside China"),
        ("name,a,b\n王家村,121.3,31.4\n", ".csv", "lon and lat"),
        ("lon,lat\n121.3,31.4\n", ".csv", "'id' or a 'name'"),
        ("", ".csv", "cannot read overrides"),
    ],
)
def test_broken_overrides_are_one_clear_error(tmp_path, content, suffix, message) -> None:
    path = tmp_path / f"overrides{suffix}"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(InputError, match=message):
        load_overrides(path)


def test_unknown_crs_name_is_an_error(tmp_path) -> None:
    path = tmp_path / "o.csv"
    path.write_text("name,lon,lat\n王家村,121.335,31.431\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"wgs84|WGS"):
        load_overrides(path, "EPSG:3857-ish")


def test_an_override_outside_the_district_is_refused(tmp_path) -> None:
    path = tmp_path / "o.csv"
    path.write_text("name,lon,lat\n王家村,116.39,39.90\n", encoding="utf-8")
    with pytest.raises(GeocodingError, match="outside the district"):
        geocode_items([item("王家村")], gazetteer(), overrides=load_overrides(path))


def test_online_answers_are_placed_then_served_from_the_cache(tmp_path, monkeypatch) -> None:
    for name in ("http_proxy", "HTTP_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    with FakeGeo() as fake, GeocodeCache(tmp_path / "cache.sqlite") as cache:
        fake.script("无名新村", answer(Place(121.36, 31.42, "上海市宝山区罗店镇无名新村")))

        def run() -> gpd.GeoDataFrame:
            online = OnlineGeocoder(
                "nominatim",
                district=DISTRICT,
                cache=cache,
                domain=fake.domain,
                scheme="http",
                min_delay_seconds=0.0,
            )
            return geocode_items([item("无名新村")], gazetteer(), online=online)[0]

        first = run().iloc[0]
        assert (first["geocoder"], first["precision"]) == ("nominatim", "sourced")
        assert first.geometry.equals(Point(121.36, 31.42))
        requests = len(fake.requests_for("nominatim"))
        second = run().iloc[0]
        # where the answer came from, not whether it was cached: the same feature again
        assert second.to_dict() == first.to_dict()
        assert len(fake.requests_for("nominatim")) == requests


def test_every_feature_carries_the_design_properties() -> None:
    features, _ = geocode_items([item("王家村"), item("无名新村")], gazetteer())
    from luodian_map.layers import PROPERTIES

    assert list(features.columns) == [*PROPERTIES, "geometry"]
    assert features["id"].is_unique
    assert shapely.is_valid(np.asarray(features.geometry.values)).all()
