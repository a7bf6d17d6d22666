"""An offline vector base for the web map (``--basemap local``), from a town's place files.

Roads, rivers, water, parks and the town outline that were fetched or imported into
``geodata/<town>/sources/`` are drawn lightly under the data, with the names of the longest
roads and rivers, so a map opened where no tile server answers still shows where things
are. Geometry is simplified to about 5 m and rounded to 1 m to keep the page small.
"""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import numpy as np
import shapely

BASE_STYLES: dict[str, dict[str, Any]] = {
    "town": {"stroke": False, "fill": True, "fillColor": "#fbfaf5", "fillOpacity": 1},
    "park": {"stroke": False, "fill": True, "fillColor": "#d9e9c9", "fillOpacity": 1},
    "water": {"stroke": False, "fill": True, "fillColor": "#c4dcf0", "fillOpacity": 1},
    "river": {"color": "#9fc6e8", "weight": 2.5, "opacity": 1, "fill": False},
    "road": {"color": "#d2cbbd", "weight": 1.5, "opacity": 1, "fill": False},
    "major": {"color": "#e3b877", "weight": 3, "opacity": 1, "fill": False},
}
"""Leaflet path style per base class, drawn in this order (later on top)."""
MAJOR_ROADS = ("motorway", "trunk", "primary", "motorway_link", "trunk_link")
LABELS = 16
"""How many road and river names are shown (the longest ones)."""
_TOLERANCE_M = 5.0
_DECIMALS = 5  # about 1 m


def base_collection(places: gpd.GeoDataFrame | None) -> dict[str, Any] | None:
    """The base features and labels of ``places`` for the page, or None if none applies.

    Parameters
    ----------
    places
        Place files as :func:`luodian_map.places.sources.read_place_files` reads them
        (``kind``, ``name``, ``tags``, WGS-84).

    Returns
    -------
    dict or None
        ``{"base": FeatureCollection (property ``k``: the style class), "labels": [{"n":
        name, "k": class, "at": [lat, lon]}], "styles": BASE_STYLES}``.
    """
    if places is None or places.empty:
        return None
    classes = places["kind"].where(places["kind"].isin(tuple(BASE_STYLES)))
    highway = places["tags"].map(lambda t: t.get("highway") if isinstance(t, dict) else None)
    classes = classes.mask((classes == "road") & highway.isin(MAJOR_ROADS), "major")
    frame = places.assign(k=classes)[classes.notna()]
    if frame.empty:
        return None
    metric_crs = frame.estimate_utm_crs()
    metric = frame.geometry.to_crs(metric_crs)
    frame = frame.assign(
        order=frame["k"].map(list(BASE_STYLES).index),
        length=metric.length.to_numpy(),
        geometry=metric.simplify(_TOLERANCE_M).to_crs("EPSG:4326").to_numpy(),
    ).sort_values(["order", "name"], kind="stable")
    geoms = shapely.remove_repeated_points(
        shapely.transform(frame.geometry.to_numpy(), lambda c: np.round(c, _DECIMALS))
    )
    base = [
        {"type": "Feature", "properties": {"k": k}, "geometry": shapely.geometry.mapping(g)}
        for k, g in zip(frame["k"], geoms, strict=True)
        if not shapely.is_empty(g)
    ]
    linear = frame[frame["k"].isin(("road", "major", "river"))]
    linear = linear.sort_values(["length", "name"], ascending=[False, True]).head(LABELS)
    anchors = shapely.line_interpolate_point(linear.geometry.to_numpy(), 0.5, normalized=True)
    labels = [
        {"n": name, "k": k, "at": [round(p.y, _DECIMALS), round(p.x, _DECIMALS)]}
        for name, k, p in zip(linear["name"], linear["k"], anchors, strict=True)
    ]
    return {"base": {"type": "FeatureCollection", "features": base}, "labels": labels,
            "styles": BASE_STYLES}  # fmt: skip
