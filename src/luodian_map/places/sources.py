"""Place files: the one format in which real geometry enters a town's gazetteer.

A place file is ``geodata/<town folder>/sources/<stem>.geojson``: an RFC 7946
FeatureCollection (WGS-84) with a foreign member ``"luodian_map"`` that says where the
data came from (source, time of retrieval, attribution, licence, query or input file).
Every feature carries the columns of :data:`PLACE_COLUMNS`. Files are written one feature
per line in a fixed order, so re-fetching unchanged data gives identical bytes and a git
diff shows which place changed.

The raw inputs of the hand-built gazetteer (the district outline, station and committee
lists) live in the same folder but have no ``"luodian_map"`` member, so they are not
place files.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import shapely

from .._io import write_atomic
from ..categories import CATEGORIES
from ..errors import InputError

SOURCE_MEMBER = "luodian_map"
SOURCES_FOLDER = "sources"
PLACE_COLUMNS = ("name", "aliases", "kind", "category", "precision", "uncertainty_m",
                 "source", "source_id", "basis", "tags")  # fmt: skip
"""Properties of every feature of a place file.

``name`` as the source writes it; ``aliases`` other names (list); ``kind`` what it is
(``road``, ``river``, ``village``, ``school``, ``town`` …); ``category`` a category id or
null; ``precision`` ``surveyed`` (a planner's own GIS) or ``sourced`` (OSM, a map
service); ``uncertainty_m`` an honest radius; ``source`` e.g. ``osm``; ``source_id`` the
id in the source (``way/123``, an Amap POI id, a row number); ``basis`` one line on what
the position rests on; ``tags`` the source's own attributes (object or null).
"""
PLACE_PRECISIONS = ("surveyed", "sourced")
"""Priority order of place files: a surveyed feature beats a sourced one of the same place."""
_COORD_DECIMALS = 7  # 1 cm: a surveyed file round-trips well inside 0.5 m


def place_file_path(town_folder: str | Path, stem: str) -> Path:
    """Where the place file ``stem`` of a town lives."""
    return Path(town_folder) / SOURCES_FOLDER / f"{stem}.geojson"


def timestamp(moment: datetime | None = None) -> str:
    """ISO 8601 UTC time for provenance: ``moment``, else ``SOURCE_DATE_EPOCH`` when set
    (so that a rebuild can be byte-identical), else now."""
    if moment is None:
        epoch = os.environ.get("SOURCE_DATE_EPOCH")
        moment = datetime.fromtimestamp(int(epoch), UTC) if epoch else datetime.now(UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def write_place_file(
    path: str | Path, places: gpd.GeoDataFrame, metadata: Mapping[str, Any]
) -> Path:
    """Validate ``places`` and write them as a place file, atomically.

    Parameters
    ----------
    path
        The file to write, usually from :func:`place_file_path`.
    places
        One row per place with the columns of :data:`PLACE_COLUMNS` (missing optional
        columns ``aliases``, ``source_id``, ``basis``, ``tags`` are filled empty), any CRS.
    metadata
        Provenance written as the ``"luodian_map"`` member: at least ``source``; usually
        ``retrieved`` (ISO 8601), ``attribution``, ``licence`` and the query or input file.

    Returns
    -------
    pathlib.Path
        The path written.

    Raises
    ------
    InputError
        When the places are not valid, or ``path`` holds a file that is not a place file
        (a raw input of the gazetteer is never overwritten).
    """
    if "source" not in metadata:
        raise ValueError("place file metadata needs a 'source'")
    if Path(path).exists():
        place_file_metadata(path)  # raises unless it is a place file
    frame = _normalised(places, str(path))
    geoms = shapely.transform(frame.geometry.to_numpy(), lambda c: np.round(c, _COORD_DECIMALS))
    lines = []
    for props, geom in zip(frame[list(PLACE_COLUMNS)].to_dict("records"), geoms, strict=True):
        feature = {
            "type": "Feature",
            "properties": {str(k): _json_value(str(k), v) for k, v in props.items()},
            "geometry": shapely.geometry.mapping(geom),
        }
        lines.append(json.dumps(feature, ensure_ascii=False, separators=(",", ":")))
    head = json.dumps(dict(metadata), ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    text = (
        f'{{"type":"FeatureCollection","{SOURCE_MEMBER}":{head},"features":[\n'
        + ",\n".join(lines)
        + "\n]}\n"
    )
    return write_atomic(path, text)


def read_place_files(town_folder: str | Path) -> gpd.GeoDataFrame:
    """Every place file of a town, surveyed before sourced, then by file and name.

    The frame has the columns of :data:`PLACE_COLUMNS` plus ``file`` (the file's name),
    in WGS-84. A town without place files gives an empty frame.
    """
    frames = []
    for path in sorted((Path(town_folder) / SOURCES_FOLDER).glob("*.geojson")):
        data = _read_json(path)
        if not isinstance(data, dict) or SOURCE_MEMBER not in data:
            continue  # a raw input of the hand-built gazetteer
        frames.append(_read_features(data, path).assign(file=path.name))
    if not frames:
        return gpd.GeoDataFrame(columns=[*PLACE_COLUMNS, "file"], geometry=[], crs="EPSG:4326")
    places = gpd.GeoDataFrame(
        gpd.pd.concat(frames, ignore_index=True), geometry="geometry", crs="EPSG:4326"
    )
    rank = places["precision"].map(PLACE_PRECISIONS.index)
    order = np.lexsort((places["source_id"].astype(str), places["name"], places["file"], rank))
    return places.iloc[order].reset_index(drop=True)


def place_file_metadata(path: str | Path) -> dict[str, Any]:
    """The provenance member of a place file."""
    data = _read_json(Path(path))
    if not isinstance(data, dict) or not isinstance(data.get(SOURCE_MEMBER), dict):
        raise InputError(f"{path} exists and is not a luodian-map place file")
    return dict(data[SOURCE_MEMBER])


# --- helpers ---------------------------------------------------------------------------------


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{path} is not valid GeoJSON: {exc}") from None


def _read_features(data: dict[str, Any], path: Path) -> gpd.GeoDataFrame:
    try:
        features = data["features"]
        props = [dict(f["properties"]) for f in features]
        geoms = [shapely.geometry.shape(f["geometry"]) for f in features]
    except (KeyError, TypeError, ValueError, shapely.errors.GEOSException) as exc:
        raise InputError(f"place file {path} has a malformed feature: {exc}") from None
    frame = gpd.GeoDataFrame(props, geometry=geoms, crs="EPSG:4326")
    return _normalised(frame, str(path))


def _normalised(places: gpd.GeoDataFrame, where: str) -> gpd.GeoDataFrame:
    """Fill optional columns, check the rest, sort by name and source id; WGS-84."""
    if places.crs is None:
        raise InputError(f"{where}: the places have no coordinate reference system")
    frame = places.to_crs("EPSG:4326").copy()
    defaults: dict[str, Any] = {"aliases": None, "source_id": "", "basis": "", "tags": None}
    for column, default in defaults.items():
        if column not in frame:
            frame[column] = [default] * len(frame)
    missing = [c for c in PLACE_COLUMNS if c not in frame]
    if missing:
        raise InputError(f"{where}: places lack {', '.join(missing)}")
    frame["aliases"] = frame["aliases"].map(lambda a: sorted(set(a)) if _is_list(a) else [])
    frame["source_id"] = frame["source_id"].map(lambda v: "" if _is_missing(v) else str(v))
    frame["basis"] = frame["basis"].map(lambda v: "" if _is_missing(v) else str(v))
    frame["category"] = frame["category"].map(lambda v: None if _is_missing(v) else str(v))
    uncertainty = gpd.pd.to_numeric(frame["uncertainty_m"], errors="coerce")
    geoms = frame.geometry.to_numpy()
    problems = {
        "no name": ~frame["name"].map(lambda n: isinstance(n, str) and bool(n.strip())),
        "unknown category": ~frame["category"].map(lambda c: _is_missing(c) or c in CATEGORIES),
        "precision is not surveyed or sourced": ~frame["precision"].isin(PLACE_PRECISIONS),
        "uncertainty_m is not a positive number": ~(np.isfinite(uncertainty) & (uncertainty > 0)),
        "empty or invalid geometry": gpd.pd.Series(
            shapely.is_missing(geoms) | shapely.is_empty(geoms) | ~shapely.is_valid(geoms),
            index=frame.index,
        ),
    }
    for problem, bad in problems.items():
        if bad.any():
            first = frame.loc[bad.idxmax()]
            raise InputError(
                f"{where}: {first.get('name') or '?'} ({first['source_id']}): {problem}"
            )
    xmin, ymin, xmax, ymax = frame.total_bounds if len(frame) else (0, 0, 0, 0)
    if xmin < -180 or xmax > 180 or ymin < -90 or ymax > 90:
        raise InputError(f"{where}: coordinates are not longitude/latitude")
    frame["uncertainty_m"] = uncertainty
    order = np.lexsort((frame["source_id"].to_numpy(dtype=str), frame["name"].to_numpy(dtype=str)))
    return frame.iloc[order].reset_index(drop=True)


def _is_list(value: Any) -> bool:
    return isinstance(value, list | tuple | np.ndarray)


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _json_value(column: str, value: Any) -> Any:
    if column == "tags":
        return (
            None
            if not isinstance(value, Mapping)
            else {str(k): str(v) for k, v in sorted(value.items())}
        )
    if column == "aliases":
        return [str(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if _is_missing(value):
        return None
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value
