"""The page's data: features as JSON-ready properties and geometries, and the compact
form the page script decodes (``decode`` in templates/lm_decode.js).

* Data goes into the page once, as JSON safe inside ``<script>`` (``<``, ``>``, ``&`` are
  ``\\u`` escapes), and every report string reaches the DOM through ``textContent``: a
  ``<script>`` in a quote stays text.
* The data is compact (:func:`compact`): one column per property, a column of few
  distinct values as a dictionary and one index per feature; all coordinates as one string
  of delta-encoded integers (micro-degrees, Google's encoded-polyline characters). Tens of
  thousands of features stay a few MB and parse fast; the page draws them on one canvas.
* Features are sorted by id and coordinates rounded to six decimals.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..categories import CATEGORIES, FOLLOW_UPS
from ..layers import PROPERTIES, mention_list, plain, quantity_list

if TYPE_CHECKING:
    import geopandas as gpd
    import pandas as pd

COORD_DECIMALS = 6
MENTION_KEYS = ("report", "year", "part", "status", "quote")


def _properties(row: Mapping[str, Any] | pd.Series[Any], lang: str) -> dict[str, Any]:
    props = {key: plain(row.get(key)) for key in PROPERTIES}
    props["id"] = str(props["id"])
    props["name"] = "" if props["name"] is None else str(props["name"])
    props["quantities"] = quantity_list(row.get("quantities"))
    if isinstance(props["year"], float) and props["year"].is_integer():
        props["year"] = int(props["year"])
    if isinstance(props["stated_count"], float) and props["stated_count"].is_integer():
        props["stated_count"] = int(props["stated_count"])
    category = CATEGORIES.get(str(props["category"]))
    if not props["category_label"] and category is not None:
        props["category_label"] = category.label_zh
    props["mentions"] = _mentions(row.get("mentions"))
    if props["follow_up"] not in FOLLOW_UPS or props["follow_up"] == "none":
        props["follow_up"] = None
    return props


def _mentions(value: Any) -> list[dict[str, Any]]:
    """The entity's mentions, oldest first, as {report, year, part, status, quote}."""
    out = []
    for mention in mention_list(value):
        entry = {key: mention.get(key) for key in MENTION_KEYS}
        if isinstance(entry["year"], float) and entry["year"].is_integer():
            entry["year"] = int(entry["year"])
        out.append(entry)
    return out


def _parent_names(features: list[dict[str, Any]]) -> None:
    """``parent_name`` of each phase: its parent's name if the parent is on the map, else
    the phase's own name without the phase ("美兰西湖公园二期" → "美兰西湖公园")."""
    from ..link import PHASE

    names: dict[Any, Any] = {}
    for f in features:
        p = f["properties"]
        if p["entity"] is not None:
            names.setdefault(p["entity"], p["name"])
    for f in features:
        p = f["properties"]
        parent = p["parent"]
        p["parent_name"] = None
        if parent is None:
            continue
        base = PHASE.sub("", p["name"]).strip()
        p["parent_name"] = names.get(parent) or (base if base and base != p["name"] else None)


def _round_coords(coords: Any) -> Any:
    if isinstance(coords, (int, float)):
        return round(float(coords), COORD_DECIMALS) + 0.0  # + 0.0 turns -0.0 into 0.0
    return [_round_coords(c) for c in coords]


def _geometry(geom: Any) -> dict[str, Any] | None:
    if geom is None or geom.is_empty:
        return None
    import shapely.geometry

    mapping = shapely.geometry.mapping(geom)
    if mapping["type"] == "GeometryCollection":
        return {
            "type": "GeometryCollection",
            "geometries": [_geometry(g) for g in geom.geoms if not g.is_empty],
        }
    return {"type": mapping["type"], "coordinates": _round_coords(mapping["coordinates"])}


def _to_wgs84(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    if frame.crs is not None and not frame.crs.equals("EPSG:4326"):
        return frame.to_crs("EPSG:4326")
    return frame


def _display_geometries(frame: gpd.GeoDataFrame, datum: str) -> gpd.GeoSeries:
    geoms = _to_wgs84(frame).geometry
    if datum == "gcj02":
        from ..crs import transform_geometry

        geoms = transform_geometry(geoms, "wgs84", "gcj02")
    return geoms


def feature_collection(features: gpd.GeoDataFrame, datum: str, lang: str) -> dict[str, Any]:
    frame = features.sort_values("id", kind="stable") if len(features) else features
    geoms: Any = _display_geometries(frame, datum) if len(frame) else []
    out = [
        # a feature without geometry stays in the data: not drawn, but counted and listed
        {"type": "Feature", "properties": _properties(row, lang), "geometry": _geometry(geom)}
        for (_, row), geom in zip(frame.iterrows(), geoms, strict=True)
    ]
    _parent_names(out)
    return {"type": "FeatureCollection", "features": out, "mentions": _share_mentions(out)}


# ------------------------------------------------------------------------ compact encoding
COLUMNS = (*PROPERTIES, "parent_name")
GEOMETRY_CODES = {
    "Point": 1, "MultiPoint": 2, "LineString": 3, "MultiLineString": 4, "Polygon": 5,
    "MultiPolygon": 6, "GeometryCollection": 7,
}  # fmt: skip  # 0: no geometry
_NESTING = {
    "Point": 0, "MultiPoint": 1, "LineString": 1, "MultiLineString": 2, "Polygon": 2,
    "MultiPolygon": 3,
}  # fmt: skip  # how deep the coordinate lists go
_SCALE = 10**COORD_DECIMALS


def compact(collection: dict[str, Any]) -> dict[str, Any]:
    """The page's form of a feature collection (decoded by ``decode`` in luodian_map.js).

    ``columns``: property → ``{"c": value}`` (the same for every feature), ``{"d": values,
    "i": indices}`` (few distinct values; indices as varints) or ``{"v": values}``.
    ``geometry``: per feature a type code (:data:`GEOMETRY_CODES`), the part counts and
    the coordinates in micro-degrees, each the difference to the previous one, as varints.
    A property repeated on thousands of features costs one character each, and 6-decimal
    coordinates two to four characters instead of ten."""
    features = collection["features"]
    return {
        "n": len(features),
        "scale": _SCALE,
        "columns": {key: _column([f["properties"][key] for f in features]) for key in COLUMNS},
        "geometry": _encode_geometries([f["geometry"] for f in features]),
        "mentions": collection["mentions"],
    }


def _column(values: list[Any]) -> dict[str, Any]:
    """One property of every feature, in the shortest of the three forms of :func:`compact`
    (a dictionary when at most half the values are distinct)."""
    codes: dict[Any, int] = {}
    # a JSON text identifies lists and dicts, and keeps 1, 1.0 and True apart
    index = [
        codes.setdefault(
            v if type(v) is str else json.dumps(v, sort_keys=True, ensure_ascii=False),
            len(codes),
        )
        for v in values
    ]
    if len(codes) == 1:
        return {"c": values[0]}
    if len(codes) * 2 > len(values):
        return {"v": values}
    first: dict[int, Any] = {}
    for code, value in zip(index, values, strict=True):
        first.setdefault(code, value)
    out: list[str] = []
    for code in index:
        _varint(code, out)
    return {"d": [first[c] for c in range(len(codes))], "i": "".join(out)}


def _varint(value: int, out: list[str]) -> None:
    """A non-negative integer in Google's encoded-polyline characters (``?`` … ``~``, five
    bits each, low bits first; ``0x20`` marks that more follow): never a quote, ``<``,
    ``>`` or ``&``, so safe in ``<script>`` JSON (a backslash, 29, is escaped as usual)."""
    while value >= 0x20:
        out.append(chr((0x20 | (value & 0x1F)) + 63))
        value >>= 5
    out.append(chr(value + 63))


def _encode_geometries(geometries: list[dict[str, Any] | None]) -> str:
    """All geometries as one varint string (see :func:`compact`); signed differences are
    zig-zag encoded (0, -1, 1, -2 … → 0, 1, 2, 3 …)."""
    out: list[str] = []
    last = [0, 0]  # the previous position, in micro-degrees

    def position(coords: list[float]) -> None:
        for axis in (0, 1):
            value = round(coords[axis] * _SCALE)
            delta = value - last[axis]
            last[axis] = value
            _varint(2 * delta if delta >= 0 else -2 * delta - 1, out)

    def nested(coords: list[Any], depth: int) -> None:
        if depth == 0:
            position(coords)
            return
        _varint(len(coords), out)
        for part in coords:
            nested(part, depth - 1)

    def geometry(g: dict[str, Any] | None) -> None:
        if g is None:
            _varint(0, out)
            return
        _varint(GEOMETRY_CODES[g["type"]], out)
        if g["type"] == "GeometryCollection":
            _varint(len(g["geometries"]), out)
            for part in g["geometries"]:
                geometry(part)
        else:
            nested(g["coordinates"], _NESTING[g["type"]])

    for g in geometries:
        geometry(g)
    return "".join(out)


def _share_mentions(features: list[dict[str, Any]]) -> dict[str, list[Any]]:
    """Every feature of an entity (one per year) carries the same mentions: the page gets
    them once per entity (``mentions`` of the collection, by entity id) and each feature's
    ``mentions`` is null, to be filled in by the page; a feature whose list differs keeps
    its own."""
    shared: dict[str, list[Any]] = {}
    for f in features:
        p = f["properties"]
        if p["entity"] is None or not p["mentions"]:
            continue
        entity = str(p["entity"])
        if shared.setdefault(entity, p["mentions"]) == p["mentions"]:
            p["mentions"] = None
    return shared


def outline_collection(outline: gpd.GeoDataFrame | None, datum: str) -> dict[str, Any] | None:
    if outline is None or len(outline) == 0:
        return None
    geoms = _display_geometries(outline, datum)
    features = [
        {"type": "Feature", "properties": {}, "geometry": g}
        for g in (_geometry(geom) for geom in geoms)
        if g is not None
    ]
    return {"type": "FeatureCollection", "features": features} if features else None


def bounds_of(collections: list[dict[str, Any] | None]) -> list[list[float]] | None:
    lons: list[float] = []
    lats: list[float] = []

    def walk(coords: Any) -> None:
        if coords and isinstance(coords[0], (int, float)):
            lons.append(coords[0])
            lats.append(coords[1])
        else:
            for c in coords:
                walk(c)

    def geometry(g: dict[str, Any]) -> None:
        if g["type"] == "GeometryCollection":
            for part in g["geometries"]:
                geometry(part)
        else:
            walk(g["coordinates"])

    for fc in collections:
        for f in (fc or {}).get("features", []):
            if f["geometry"] is not None:
                geometry(f["geometry"])
    if not lons:
        return None
    return [[min(lats), min(lons)], [max(lats), max(lons)]]
