"""Planners' own GIS as surveyed places: ``luodian-map places import FILE``.

A planning office's Shapefile, GeoPackage, GeoJSON, KML or CSV (read by
:mod:`luodian_map.gisfile`) becomes a place file of the town: names from a name field,
geometry in WGS-84 (from the CRS the file states, or ``--crs``), repaired where GEOS can
repair it, and checked to lie in or near the town, since a file read in the wrong CRS
lands kilometres or continents away. OpenStreetMap extracts (``.osm``, ``.osm.pbf``) go to
:func:`luodian_map.places.osm.read_osm_file`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from ..categories import CATEGORIES
from ..crs import convert
from ..errors import InputError
from ..gisfile import (
    SURVEYED_UNCERTAINTY_M,
    Layer,
    crs_label,
    find_column,
    parse_crs,
    read_layers,
    to_wgs84,
)
from .sources import PLACE_COLUMNS, timestamp
from .town import TownArea, near_area

NAME_FIELDS = ("name", "名称", "地名", "项目名称", "项目名", "标准名称", "地块名称",
               "mc", "xmmc", "dmmc", "bzmc")  # fmt: skip
"""Fields that hold a place's name, most likely first (MC, XMMC: 名称, 项目名称 in pinyin)."""
KIND_FIELDS = ("kind", "类型", "type")
CATEGORY_FIELDS = ("category", "类别", "分类")
UNCERTAINTY_FIELDS = ("uncertainty_m", "精度", "uncertainty", "accuracy")
OSM_SUFFIXES = (".osm", ".osm.pbf")
# KML placemark properties that say how to draw a feature, not what it is.
_KML_STYLE_FIELDS = {"id", "timestamp", "begin", "end", "altitudeMode", "tessellate", "extrude",
                     "visibility", "drawOrder", "icon", "snippet"}  # fmt: skip
_GEOD = pyproj.Geod(ellps="WGS84")
_SAMPLE = 2000  # coordinates tried per candidate CRS when a file lands elsewhere


def place_file_stem(path: str | Path) -> str:
    """The stem of the place file an import of ``path`` writes: ``roads.osm.pbf`` → roads."""
    name = Path(path).name
    suffix = next((s for s in OSM_SUFFIXES if name.lower().endswith(s)), Path(name).suffix)
    return name[: len(name) - len(suffix)] if suffix else name


def import_places(
    path: str | Path,
    area: TownArea,
    *,
    crs: str | None = None,
    name_field: str | None = None,
    layer: str | None = None,
    now: datetime | None = None,
) -> tuple[gpd.GeoDataFrame, dict[str, Any]]:
    """A planner's GIS file as surveyed places of ``area``, and its provenance.

    Parameters
    ----------
    path
        Shapefile, GeoPackage, GeoJSON, KML/KMZ, CSV (lon/lat or WKT), ``.osm``/``.osm.pbf``.
    area
        The town the places belong to; every feature must lie in its district or within
        the town outline's uncertainty of it. Features farther away are left out; a layer
        with none near is an error naming the likely cause (a wrong CRS, swapped axes).
    crs
        The CRS of the coordinates, winning over the file's own (EPSG code, PROJ string,
        ``gcj02``, ``bd09``); needed when the file states none (CSV).
    name_field
        The field with the names; by default the first of :data:`NAME_FIELDS` present.
    layer
        Only this layer (a GeoPackage table, a KML folder); by default every layer.
    now
        The import time written to the provenance (default: ``SOURCE_DATE_EPOCH``, else
        the clock).

    Returns
    -------
    tuple
        The places (columns of :data:`~luodian_map.places.sources.PLACE_COLUMNS`, WGS-84)
        and the metadata of the place file.

    Raises
    ------
    InputError
        Unreadable file, no CRS, no name field, a feature without geometry or with one
        that cannot be repaired (named), or no feature in or near the town.
    """
    path = Path(path)
    if path.name.lower().endswith(OSM_SUFFIXES):
        from .osm import read_osm_file

        return read_osm_file(path, area)
    layers = read_layers(path, layer=layer, what="GIS file")
    near = near_area(area)
    frames, report = [], _Report()
    for each in layers:
        where = path.name if len(layers) == 1 else f"{path.name} layer {each.name}"
        frames.append(_layer_places(each, where, path, area, near, crs, name_field, report))
    places = gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), crs="EPSG:4326")
    if places.empty:
        raise InputError(f"{path}: no named feature to import")
    metadata = {
        "source": "import",
        "file": path.name,
        "file_modified": timestamp(datetime.fromtimestamp(path.stat().st_mtime, UTC)),
        "imported": timestamp(now),
        "crs": ", ".join(dict.fromkeys(report.crs)),
        "crs_from": "--crs" if crs else "file",
        "layers": [x.name for x in layers],
        "name_field": ", ".join(dict.fromkeys(report.name_fields)),
        "features": len(places),
        "repaired": report.repaired,
        "left_out": {"unnamed": report.unnamed, "outside_the_town": report.outside},
        "licence": "the planner's own data",
    }
    encodings = sorted({x.encoding for x in layers if x.encoding})
    if encodings:
        metadata["encoding"] = ", ".join(encodings)
    return places, metadata


@dataclass
class _Report:
    """What an import did beyond the places themselves, for the provenance."""

    crs: list[str] = field(default_factory=list)
    name_fields: list[str] = field(default_factory=list)
    repaired: list[str] = field(default_factory=list)
    unnamed: int = 0
    outside: int = 0


def _layer_places(
    layer: Layer,
    where: str,
    path: Path,
    area: TownArea,
    near: shapely.Geometry,
    crs: str | None,
    name_field: str | None,
    report: _Report,
) -> gpd.GeoDataFrame:
    """One layer's named features as places: validated, repaired, in or near the town."""
    raw = layer.frame.reset_index(drop=True)
    column = _name_column(raw, name_field, where)
    names = raw[column].map(lambda v: "" if _missing(v) else " ".join(str(v).split()))
    rows = np.arange(1, len(raw) + 1)
    named = (names != "").to_numpy()
    report.unnamed += int((~named).sum())
    raw, names, rows = raw[named].reset_index(drop=True), names[named], rows[named]
    raw = raw.set_geometry(_repaired(raw.geometry.to_numpy(), names.to_numpy(), rows, where,
                                     report), crs=raw.crs)  # fmt: skip
    frame, label = to_wgs84(raw, crs, where)
    report.crs.append(label)
    report.name_fields.append(str(column))
    geoms = frame.geometry.to_numpy()
    inside = shapely.intersects(near, geoms)
    if len(geoms) and not inside.any():
        raise InputError(_landed_elsewhere(raw, geoms, crs or raw.crs, label, area, near, where))
    report.outside += int((~inside).sum())
    keep = inside.nonzero()[0]
    raw, geoms, rows, names = raw.iloc[keep], geoms[keep], rows[keep], names.iloc[keep]
    uncertainty, stated = _uncertainty(raw)
    layer_text = "" if layer.name == path.stem else f" layer {layer.name}"
    basis = np.where(
        stated,
        f"surveyed: {path.name}{layer_text} ({label}); uncertainty from the file",
        f"surveyed: {path.name}{layer_text} ({label}); uncertainty "
        f"{SURVEYED_UNCERTAINTY_M:g} m assumed, the file states none",
    )
    fields = (KIND_FIELDS, CATEGORY_FIELDS, UNCERTAINTY_FIELDS)
    special = {name for name in (column, *(_field(raw, f) for f in fields)) if name is not None}
    return gpd.GeoDataFrame(
        {
            "name": names.to_numpy(),
            "aliases": [[] for _ in range(len(raw))],
            "kind": _texts(raw, KIND_FIELDS),
            "category": _categories(raw, names.to_numpy(), where),
            "precision": "surveyed",
            "uncertainty_m": uncertainty,
            "source": path.name,
            "source_id": [f"{layer.name}:{row}" for row in rows],
            "basis": basis,
            "tags": _tags(raw, special),
        },
        columns=list(PLACE_COLUMNS),
        geometry=list(geoms),
        crs="EPSG:4326",
    )


def _name_column(frame: gpd.GeoDataFrame, name_field: str | None, where: str) -> str:
    fields = [str(c) for c in frame.columns if c != frame.geometry.name]
    column = find_column(fields, (name_field,) if name_field else NAME_FIELDS)
    if column is None:
        wanted = f"no field {name_field!r}" if name_field else "no name field"
        raise InputError(
            f"{where}: {wanted} (fields: {', '.join(fields) or 'none'}); "
            "name the field with --name-field"
        )
    return column


def _repaired(
    geoms: np.ndarray, names: np.ndarray, rows: np.ndarray, where: str, report: _Report
) -> np.ndarray:
    """Geometries made valid without changing their dimension, or an error naming the
    first feature that has none or cannot be repaired."""
    missing = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    if missing.any():
        i = int(missing.argmax())
        raise InputError(f"{where}: feature {rows[i]} ({names[i]}) has no geometry")
    invalid = ~shapely.is_valid(geoms)
    if not invalid.any():
        return geoms
    fixed = shapely.make_valid(geoms[invalid], method="structure", keep_collapsed=False)
    collapsed = shapely.is_empty(fixed) | (
        shapely.get_dimensions(fixed) != shapely.get_dimensions(geoms[invalid])
    )
    if collapsed.any():
        i = int(invalid.nonzero()[0][collapsed.argmax()])
        reason = shapely.is_valid_reason(geoms[i])
        raise InputError(
            f"{where}: feature {rows[i]} ({names[i]}) has an invalid geometry that cannot be "
            f"repaired ({reason})"
        )
    out = geoms.copy()
    out[invalid] = fixed
    report.repaired += [str(n) for n in names[invalid]]
    return out


def _landed_elsewhere(
    raw: gpd.GeoDataFrame,
    geoms: np.ndarray,
    used: Any,
    label: str,
    area: TownArea,
    near: shapely.Geometry,
    where: str,
) -> str:
    """Why no feature lies near the town: where they went, and a CRS that would fit."""
    town = area.outline.centroid
    xy = shapely.get_coordinates(raw.geometry.to_numpy())[:_SAMPLE]
    landed = shapely.get_coordinates(geoms)
    finite = np.isfinite(landed).all(axis=1)
    finite &= (np.abs(landed[:, 0]) <= 180) & (np.abs(landed[:, 1]) <= 90)
    if finite.any():
        lon, lat = np.median(landed[finite], axis=0)
        km = _GEOD.inv(town.x, town.y, lon, lat)[2] / 1000
        found = f"read as {label} they land about {km:,.0f} km away, near ({lon:.4f}, {lat:.4f})"
    else:
        found = f"read as {label} the coordinates are not positions on the Earth"
    used_crs = parse_crs(used) if isinstance(used, str) else used
    hint = "check the coordinate system (the .prj file, or --crs)"
    if _lands_near(xy[:, ::-1], used_crs, near):
        hint = "x and y (lon and lat) look swapped"
    else:
        for candidate in _candidate_crs(town.x):
            if crs_label(candidate) != label and _lands_near(xy, candidate, near):
                hint = f"with --crs {crs_label(candidate)} they fall in the town: the CRS is wrong"
                break
    return f"{where}: no feature lies in or near {area.name}: {found}; {hint}"


def _candidate_crs(lon: float) -> Iterable[pyproj.CRS]:
    """CRSs Chinese data often comes in around ``lon``: CGCS2000 geographic, the 3°
    Gauss–Krüger zone with and without its zone number in x, and Web Mercator."""
    meridian = 3 * round(lon / 3)
    without_zone = 4534 + (meridian - 75) // 3  # EPSG:4534 is CM 75°E … 4554 CM 135°E
    with_zone = 4513 + (meridian // 3 - 25)  # EPSG:4513 is zone 25 … 4533 zone 45
    for code in (4490, without_zone, with_zone, 3857):
        yield pyproj.CRS.from_epsg(code)


def _lands_near(xy: np.ndarray, crs: Any, near: shapely.Geometry) -> bool:
    """Whether most of these raw coordinates, read in ``crs``, fall near the town."""
    if isinstance(crs, str):
        lon, lat = convert(xy[:, 0], xy[:, 1], crs, "wgs84")
    else:
        transformer = pyproj.Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
        with np.errstate(all="ignore"):
            lon, lat = transformer.transform(xy[:, 0], xy[:, 1], errcheck=False)
    ok = np.isfinite(lon) & np.isfinite(lat)
    return bool(ok.any()) and shapely.intersects_xy(near, lon[ok], lat[ok]).mean() > 0.5


def _uncertainty(frame: gpd.GeoDataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Metres from an uncertainty field ("5", "±0.5 m"), else the surveyed default; and
    which rows stated their own."""
    column = _field(frame, UNCERTAINTY_FIELDS)
    if column is None:
        return np.full(len(frame), SURVEYED_UNCERTAINTY_M), np.zeros(len(frame), bool)
    text = frame[column].astype(str).str.extract(r"(\d+(?:\.\d+)?)")[0]
    value = pd.to_numeric(text, errors="coerce").to_numpy(dtype=float)
    stated = np.isfinite(value) & (value > 0)
    return np.where(stated, value, SURVEYED_UNCERTAINTY_M), stated


def _categories(frame: gpd.GeoDataFrame, names: np.ndarray, where: str) -> list[str | None]:
    """Category ids from a category field (an id or its Chinese label), else null."""
    column = _field(frame, CATEGORY_FIELDS)
    if column is None:
        return [None] * len(frame)
    known = {c.id: c.id for c in CATEGORIES.values()}
    known.update({c.label_zh: c.id for c in CATEGORIES.values()})
    values = frame[column].map(lambda v: None if _missing(v) else str(v).strip() or None)
    unknown = values.notna() & ~values.isin(list(known))
    if unknown.any():
        i = int(unknown.to_numpy().argmax())
        raise InputError(
            f"{where}: {names[i]}: unknown category {values.iloc[i]!r} in field {column} "
            f"(use one of {', '.join(known)})"
        )
    return [None if v is None else known[v] for v in values]


def _texts(frame: gpd.GeoDataFrame, fields: tuple[str, ...]) -> list[str | None]:
    column = _field(frame, fields)
    if column is None:
        return [None] * len(frame)
    return [None if _missing(v) or not str(v).strip() else str(v).strip() for v in frame[column]]


def _tags(frame: gpd.GeoDataFrame, used: set[str]) -> list[dict[str, str] | None]:
    """The file's other attributes of each feature, as text; empty values left out."""
    skip = {frame.geometry.name, *used, *_KML_STYLE_FIELDS}
    columns = [c for c in frame.columns if c not in skip]
    records = frame[columns].astype(object).to_dict("records")
    tags = [{str(k): _text(v) for k, v in r.items() if not _missing(v) and str(v) != ""}
            for r in records]  # fmt: skip
    return [t or None for t in tags]


def _field(frame: gpd.GeoDataFrame, fields: tuple[str, ...]) -> str | None:
    return find_column([c for c in frame.columns if c != frame.geometry.name], fields)


def _text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime | pd.Timestamp):
        return value.isoformat()
    return str(value)


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NaT
