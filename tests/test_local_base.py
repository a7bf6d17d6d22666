"""``--basemap local``: the vector base built from a town's place files."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely

from conftest import make_features, make_outline
from luodian_map.local_base import LABELS, base_collection
from luodian_map.web import build_html

XSS_ROAD = "<b>沪太路</b>"


def town_places() -> gpd.GeoDataFrame:
    """Place files as read back: a grid of named roads (one a motorway), a winding river,
    a park, a lake, the town, and a kind the base does not draw (an estate)."""
    rows = []

    def add(name, kind, geometry, tags=None):
        rows.append({"name": name, "kind": kind, "tags": tags or {}, "geometry": geometry})

    for i, x in enumerate(np.linspace(121.305, 121.395, 8)):
        add(f"南北{i}路", "road", shapely.LineString([(x, 31.375), (x + 0.004, 31.45)]),
            {"highway": "secondary"})  # fmt: skip
    for i, y in enumerate(np.linspace(31.385, 31.445, 8)):
        name = XSS_ROAD if i == 2 else f"东西{i}路"
        add(name, "road", shapely.LineString([(121.30, y), (121.40, y + 0.002)]),
            {"highway": "tertiary"})  # fmt: skip
    add("G1503", "road", shapely.LineString([(121.29, 31.372), (121.41, 31.40)]),
        {"highway": "motorway"})  # fmt: skip
    t = np.linspace(0, 1, 400)  # 400 points about 25 m apart, wiggling by 1 m
    river = np.column_stack(
        [121.30 + 0.1 * t, 31.42 + 0.004 * np.sin(6 * t) + 1e-5 * (t * 977 % 1)]
    )
    add("练祁河", "river", shapely.MultiLineString([river[:200], river[199:]]))
    add("美兰湖公园", "park", shapely.box(121.345, 31.388, 121.352, 31.393))
    add("美兰湖", "water", shapely.box(121.353, 31.389, 121.358, 31.395))
    add("罗店镇", "town", make_outline().geometry.iloc[0])
    add("某小区", "estate", shapely.box(121.33, 31.40, 121.335, 31.405))
    return gpd.GeoDataFrame(rows, crs="EPSG:4326")


def test_base_is_small_labelled_and_deterministic() -> None:
    places = town_places()
    data = base_collection(places)
    kinds = [f["properties"]["k"] for f in data["base"]["features"]]
    # drawn in style order: areas first, roads on top; the estate is not part of the base
    assert kinds == ["town", "park", "water", "river", *["road"] * 16, "major"]
    river = next(f for f in data["base"]["features"] if f["properties"]["k"] == "river")
    points = sum(len(part) for part in river["geometry"]["coordinates"])
    assert points < 100  # 5 m simplification drops the 1 m wiggles of 400 points
    assert len(data["labels"]) == LABELS
    assert data["labels"][0]["n"] == "G1503"  # the longest line first
    assert build_html(make_features(), basemap="local", places=places) == build_html(
        make_features(), basemap="local", places=places
    )
    assert base_collection(places[places["kind"] == "estate"]) is None
