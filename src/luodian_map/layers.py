"""Layers: write features as GeoJSON per category, one GeoPackage and a CSV for Excel.

Every file is deterministic (sorted features, six-decimal WGS-84 coordinates, fixed
GeoPackage timestamps), so a rebuild of unchanged inputs changes no byte and a diff in
git shows what really moved. Files are written beside their target and renamed into
place, so an interrupted run leaves the previous layers intact.
"""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import shapely

from ._io import write_atomic
from .categories import CATEGORIES

# The properties of every feature, in this order (DESIGN.md, plus the extraction extras).
PROPERTIES = (
    "id", "name", "category", "category_label", "year", "status", "report", "part",
    "section", "quote", "quantities", "geocoder", "precision", "uncertainty_m", "kind",
    "aggregate", "stated_count", "town", "entity", "parent", "mentions", "follow_up",
)  # fmt: skip
GPKG_NAME = "luodian.gpkg"
CSV_NAME = "items.csv"
UNLOCATED_NAME = "unlocated.json"
# GDAL stamps GeoPackages with the current time unless told otherwise.
FIXED_TIMESTAMP = "2000-01-01T00:00:00Z"
DECIMALS = 6


def round_coordinates(geometries: gpd.GeoSeries) -> gpd.GeoSeries:
    """Six decimals (~0.1 m), repaired where rounding or the source made them invalid."""
    rounded = shapely.transform(np.asarray(geometries.values), lambda xy: np.round(xy, DECIMALS))
    valid = shapely.make_valid(rounded)
    return gpd.GeoSeries(valid, index=geometries.index, crs=geometries.crs)


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, float) and np.isnan(value):
        return None
    return value


def to_feature_collection(features: gpd.GeoDataFrame) -> dict[str, Any]:
    """An RFC 7946 FeatureCollection in id order, geometry rounded, properties in order."""
    ordered = features.sort_values("id", kind="stable")
    geometries = round_coordinates(ordered.geometry)
    rows = zip(*(ordered[key].tolist() for key in PROPERTIES), strict=True)
    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "id": values[0],
                "properties": {k: _jsonable(v) for k, v in zip(PROPERTIES, values, strict=True)},
                "geometry": None if geometry is None else shapely.geometry.mapping(geometry),
            }
            for values, geometry in zip(rows, geometries, strict=True)
        ],
    }


def geojson_text(features: gpd.GeoDataFrame) -> str:
    collection = to_feature_collection(features)
    return json.dumps(collection, ensure_ascii=False, indent=1, separators=(",", ": ")) + "\n"


def read_layers(directory: Path) -> gpd.GeoDataFrame:
    """All category layers of a folder as one GeoDataFrame (quantities as lists)."""
    frames = []
    for category in CATEGORIES:
        path = directory / f"{category}.geojson"
        if path.exists():
            data = json.loads(path.read_text("utf-8"))
            frames.append(gpd.GeoDataFrame.from_features(data["features"], crs="EPSG:4326"))
    if not frames:
        return gpd.GeoDataFrame(
            columns=[*PROPERTIES, "geometry"], geometry="geometry", crs="EPSG:4326"
        )
    merged = gpd.GeoDataFrame(
        gpd.pd.concat(frames, ignore_index=True), geometry="geometry", crs="EPSG:4326"
    )
    return merged[[*PROPERTIES, "geometry"]]


def _csv_text(features: gpd.GeoDataFrame) -> str:
    """UTF-8 with BOM so Excel opens the Chinese text intact; one row per feature."""
    ordered = features.sort_values("id", kind="stable")
    points = shapely.point_on_surface(np.asarray(ordered.geometry.values))
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    columns = [p for p in PROPERTIES if p not in ("quantities", "mentions")]
    writer.writerow([*columns, "quantities", "mentions", "lon", "lat", "geometry_type"])
    for (_, row), point in zip(ordered.iterrows(), points, strict=True):
        quantities = "；".join(q["text"] for q in row["quantities"])
        mentions = "；".join(f"{m['year']} {m['status']} ({m['report']})" for m in row["mentions"])
        where = (
            ["", "", ""]
            if point is None
            else [f"{point.x:.6f}", f"{point.y:.6f}", row.geometry.geom_type]
        )
        writer.writerow([_csv_cell(row[c]) for c in columns] + [quantities, mentions, *where])
    return "\ufeff" + buffer.getvalue()


def _csv_cell(value: Any) -> Any:
    value = _jsonable(value)
    return "" if value is None else value


def _write_gpkg(features: gpd.GeoDataFrame, path: Path) -> None:
    """One layer per category, written with fiona; atomic and timestamp-free."""
    import fiona

    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".gpkg")
    os.close(handle)
    os.unlink(tmp)
    try:
        with fiona.Env(OGR_CURRENT_DATE=FIXED_TIMESTAMP):
            for category in CATEGORIES:
                subset = features[features["category"] == category]
                if subset.empty:
                    continue
                collection = to_feature_collection(subset)
                _write_gpkg_layer(collection, category, tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _write_gpkg_layer(collection: dict[str, Any], layer: str, path: str) -> None:
    import fiona
    from fiona.crs import CRS

    schema = {
        "geometry": "Unknown",
        "properties": {
            "id": "str", "name": "str", "category": "str", "category_label": "str",
            "year": "int", "status": "str", "report": "str", "part": "str",
            "section": "str", "quote": "str", "quantities": "str", "geocoder": "str",
            "precision": "str", "uncertainty_m": "float", "kind": "str", "aggregate": "bool",
            "stated_count": "int", "town": "str", "entity": "str", "parent": "str",
            "mentions": "str", "follow_up": "str",
        },
    }  # fmt: skip
    with fiona.open(
        path, "w", driver="GPKG", layer=layer, schema=schema, crs=CRS.from_epsg(4326)
    ) as sink:
        sink.writerecords(
            {"geometry": feature["geometry"], "properties": _gpkg_properties(feature)}
            for feature in collection["features"]
        )  # one transaction per layer, not one per feature


def _gpkg_properties(feature: dict[str, Any]) -> dict[str, Any]:
    """GeoPackage columns are flat: lists are stored as JSON text."""
    props = dict(feature["properties"])
    for key in ("quantities", "mentions"):
        props[key] = json.dumps(props[key], ensure_ascii=False)
    return props


def write_layers(
    features: gpd.GeoDataFrame,
    directory: str | Path,
    *,
    unlocated: Iterable[dict[str, Any]] = (),
) -> list[Path]:
    """Write ``layers/<category>.geojson``, ``luodian.gpkg``, ``items.csv``, ``unlocated.json``.

    Layer files of categories no longer present are removed, so the folder always holds
    exactly the current build.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for category in CATEGORIES:
        subset = features[features["category"] == category]
        path = directory / f"{category}.geojson"
        if subset.empty:
            path.unlink(missing_ok=True)
            continue
        written.append(write_atomic(path, geojson_text(subset)))
    gpkg = directory / GPKG_NAME
    _write_gpkg(features, gpkg)
    written.append(gpkg)
    written.append(write_atomic(directory / CSV_NAME, _csv_text(features)))
    unlocated_text = json.dumps(
        sorted(unlocated, key=lambda u: u["id"]), ensure_ascii=False, indent=1
    )
    written.append(write_atomic(directory / UNLOCATED_NAME, unlocated_text + "\n"))
    return written
