"""Layers: write features as GeoJSON per category, one GeoPackage and a CSV for Excel.

Every file is deterministic (sorted features, six-decimal WGS-84 coordinates, fixed
GeoPackage timestamps), so a rebuild of unchanged inputs changes no byte and a diff in
git shows what really moved. Files are written beside their target and renamed into
place, so an interrupted run leaves the previous layers intact.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import math
import os
import tempfile
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, NamedTuple

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ._io import write_atomic
from ._process import CAN_TIE, die_with_parent
from .categories import CATEGORIES
from .errors import LuodianMapError

# The properties of every feature, in this order (docs/architecture.md, plus the extraction extras).
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


def plain_values(column: gpd.pd.Series) -> list[Any]:
    """A column as plain Python values (``tolist`` unboxes NumPy scalars), a missing one
    (NaN, None, NA) as None."""
    if column.dtype != object and not column.hasnans:
        return column.tolist()
    values = column.astype(object)
    return values.where(values.notna(), None).tolist()


def plain(value: Any) -> Any:
    """One value as JSON types: NumPy and pandas scalars and containers unwrapped, NaN,
    infinity and NA as None, anything else not JSON as its text."""
    if value is None:
        return None
    if isinstance(value, np.ndarray):
        return [plain(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else value
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, bool | int | str):
        return value
    with contextlib.suppress(TypeError, ValueError):
        if pd.isna(value):
            return None
    return str(value)


def quantity_list(value: Any) -> list[dict[str, Any]]:
    """A feature's ``quantities`` as a list of dicts: JSON text (a GeoPackage or CSV round
    trip) parsed, a single one listed, anything else as ``{"text": ...}``."""
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return []
        try:
            value = json.loads(text)
        except ValueError:
            return [{"text": text}]
    value = plain(value)
    if value is None:
        return []
    if isinstance(value, dict):
        return [value]
    if isinstance(value, list):
        return [v if isinstance(v, dict) else {"text": str(v)} for v in value]
    return [{"text": str(value)}]


def mention_list(value: Any) -> list[dict[str, Any]]:
    """A linked feature's ``mentions`` (every mention of its entity) as a list of dicts;
    JSON text (a GeoPackage round trip) is parsed, anything unreadable is no mention."""
    if isinstance(value, str):
        try:
            value = json.loads(value) if value.strip() else []
        except ValueError:
            return []
    value = plain(value)
    return [m for m in value if isinstance(m, dict)] if isinstance(value, list) else []


class _Table(NamedTuple):
    """A layer's rows in id order: plain column lists and rounded geometries, computed once
    for both the GeoJSON and the GeoPackage."""

    columns: dict[str, list[Any]]
    geometries: np.ndarray


def _table(features: gpd.GeoDataFrame) -> _Table:
    ordered = features.sort_values("id", kind="stable")
    return _Table(
        {key: plain_values(ordered[key]) for key in PROPERTIES},
        np.asarray(round_coordinates(ordered.geometry).values),
    )


def _collection(table: _Table) -> dict[str, Any]:
    """An RFC 7946 FeatureCollection in id order, geometry rounded, properties in order."""
    rows = zip(*(table.columns[key] for key in PROPERTIES), strict=True)
    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "id": values[0],
                "properties": dict(zip(PROPERTIES, values, strict=True)),
                "geometry": None if geometry is None else shapely.geometry.mapping(geometry),
            }
            for values, geometry in zip(rows, table.geometries, strict=True)
        ],
    }


def _geojson_text(table: _Table) -> str:
    """The layer as GeoJSON text, one feature per line."""
    features = _collection(table)["features"]
    return '{"type":"FeatureCollection","features":' + _json_lines(features) + "}\n"


def _json_lines(values: Iterable[Any]) -> str:
    """A JSON array with one element per line, as the gazetteer is written: a diff shows
    which elements changed, and each line is encoded by ``json``'s C encoder (an indented
    layout takes its pure-Python one, ~5× slower: most of the time spent writing layers)."""
    lines = [json.dumps(value, ensure_ascii=False, separators=(",", ":")) for value in values]
    return "[\n" + ",\n".join(lines) + "\n]" if lines else "[]"


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
    geometries = np.asarray(ordered.geometry.values)
    points = shapely.point_on_surface(geometries)
    kinds = shapely.get_type_id(geometries)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    columns = [p for p in PROPERTIES if p not in ("quantities", "mentions")]
    writer.writerow([*columns, "quantities", "mentions", "lon", "lat", "geometry_type"])
    cells = zip(*(map(_csv_cell, plain_values(ordered[c])) for c in columns), strict=True)
    lists = zip(ordered["quantities"].tolist(), ordered["mentions"].tolist(), strict=True)
    for row, (quantities, mentions), point, kind in zip(cells, lists, points, kinds, strict=True):
        where = (
            ["", "", ""]
            if point is None
            else [f"{point.x:.6f}", f"{point.y:.6f}", _GEOMETRY_TYPES[kind]]
        )
        writer.writerow(
            [
                *row,
                _csv_cell("；".join(q["text"] for q in quantities)),
                "；".join(f"{m['year']} {m['status']} ({m['report']})" for m in mentions),
                *where,
            ]
        )
    return "\ufeff" + buffer.getvalue()


# shapely's geometry type ids → GeoJSON type names
_GEOMETRY_TYPES = {
    0: "Point", 1: "LineString", 2: "LinearRing", 3: "Polygon", 4: "MultiPoint",
    5: "MultiLineString", 6: "MultiPolygon", 7: "GeometryCollection",
}  # fmt: skip


# What makes Excel or LibreOffice read a cell as a formula (OWASP, "CSV Injection").
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _csv_cell(value: Any) -> Any:
    """A CSV cell: None as empty; text that a spreadsheet would run as a formula behind a
    single quote, as OWASP advises (numbers stay numbers)."""
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


def _write_gpkg(tables: dict[str, _Table], path: Path) -> None:
    """One layer per category, each written by GDAL in one go (pyogrio); atomic, and with
    GDAL's timestamps fixed so that a rebuild changes no byte."""
    import pyogrio
    from pyogrio.errors import DataLayerError, DataSourceError

    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".gpkg")
    os.close(handle)
    os.unlink(tmp)
    previous = pyogrio.get_gdal_config_option("OGR_CURRENT_DATE")
    pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": FIXED_TIMESTAMP})
    try:
        for category, table in tables.items():
            pyogrio.write_dataframe(
                _gpkg_frame(table), tmp, layer=category, driver="GPKG",
                geometry_type="Unknown", promote_to_multi=False,
            )  # fmt: skip
        os.replace(tmp, path)
    except (DataSourceError, DataLayerError) as error:
        Path(tmp).unlink(missing_ok=True)  # GDAL says "Failed to commit" for a full disk
        raise LuodianMapError(f"{path}: cannot be written: {error}") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    finally:
        pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": previous})


_GPKG_TEXT = tuple(
    p for p in PROPERTIES if p not in ("year", "uncertainty_m", "aggregate", "stated_count")
)


def typed_frame(features: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The features as the GeoPackage stores them, for other typed stores (PostGIS,
    GeoParquet): id order, rounded geometries, lists as JSON text, nullable integers."""
    return _gpkg_frame(_table(features))


def _gpkg_frame(table: _Table) -> gpd.GeoDataFrame:
    """The GeoJSON layer's rows as flat GeoPackage columns: lists are stored as JSON text,
    integers stay integers where some are missing."""
    columns: dict[str, Any] = dict(table.columns)
    for key in ("quantities", "mentions"):
        columns[key] = [json.dumps(value, ensure_ascii=False) for value in columns[key]]
    for key in _GPKG_TEXT:  # typed, as a column of only nulls would not say it is text
        columns[key] = gpd.pd.array(columns[key], dtype="string")
    columns["year"] = gpd.pd.array(columns["year"], dtype="Int64")
    columns["stated_count"] = gpd.pd.array(columns["stated_count"], dtype="Int64")
    columns["uncertainty_m"] = np.asarray(columns["uncertainty_m"], dtype="float64")
    columns["aggregate"] = np.asarray(columns["aggregate"], dtype=bool)
    return gpd.GeoDataFrame(columns, geometry=table.geometries, crs="EPSG:4326")


def write_layers(
    features: gpd.GeoDataFrame,
    directory: str | Path,
    *,
    unlocated: Iterable[dict[str, Any]] = (),
    defer: Callable[[Callable[[], None]], object] | None = None,
) -> list[Path]:
    """Write ``layers/<category>.geojson``, ``luodian.gpkg``, ``items.csv``, ``unlocated.json``.

    Layer files of categories no longer present are removed, so the folder always holds
    exactly the current build. ``defer`` (e.g. ``ExitStack.callback``) takes the wait for
    a GeoPackage written by a forked process, so that the caller can go on meanwhile;
    without it only a large GeoPackage is written in the background, and waited for here.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    tables: dict[str, _Table] = {}
    for category in CATEGORIES:
        subset = features[features["category"] == category]
        if subset.empty:
            (directory / f"{category}.geojson").unlink(missing_ok=True)
        else:
            tables[category] = _table(subset)
    gpkg = directory / GPKG_NAME
    background = _can_fork() and (defer is not None or len(features) >= BACKGROUND_GPKG_FROM)
    finish_gpkg = _in_forked_process(_write_gpkg, tables, gpkg) if background else None
    if finish_gpkg is None:
        _write_gpkg(tables, gpkg)
    written = [
        write_atomic(directory / f"{category}.geojson", _geojson_text(table))
        for category, table in tables.items()
    ]
    written.append(write_atomic(directory / CSV_NAME, _csv_text(features)))
    unlocated_text = _json_lines(sorted(unlocated, key=lambda u: u["id"]))
    written.append(write_atomic(directory / UNLOCATED_NAME, unlocated_text + "\n"))
    if finish_gpkg is not None and defer is not None:
        defer(finish_gpkg)
    elif finish_gpkg is not None:
        finish_gpkg()
    return [*written[:-2], gpkg, *written[-2:]]


# From this many features on, the GeoPackage is written by a forked process while this
# one writes the GeoJSON and the CSV (each about half of the work; 85,000 features take
# ~15 s in one process): below it the fork costs more than it saves.
BACKGROUND_GPKG_FROM = 10_000


def _can_fork() -> bool:
    """Fork only where the forked process can be tied to this one (it must not outlive it,
    nor rename a GeoPackage into place after this process was killed)."""
    import multiprocessing

    return CAN_TIE and "fork" in multiprocessing.get_all_start_methods()


def _in_forked_process(target: Callable[..., None], *args: Any) -> Callable[[], None]:
    """Start ``target(*args)`` in a forked copy of this process (the arguments are shared,
    not pickled), which is killed when this process ends, even by SIGKILL (see
    :func:`~luodian_map._process.die_with_parent`); the returned function waits for it and
    raises its error, if any."""
    import multiprocessing

    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)
    child_args = (os.getpid(), sender, target, *args)
    process = context.Process(target=_report_to, args=child_args, daemon=True)
    process.start()
    sender.close()

    def finish() -> None:
        try:
            error = receiver.recv()
        except EOFError:  # it ended without a word: the exit code says why
            error = None
        process.join()
        receiver.close()
        if error is not None:
            raise error
        if process.exitcode != 0:
            raise LuodianMapError(
                f"writing the GeoPackage stopped unexpectedly (exit code {process.exitcode})"
            )

    return finish


def _report_to(parent: int, sender: Any, target: Callable[..., None], *args: Any) -> None:
    """Run ``target`` and send None, or the error it raised, to the parent: the process
    ``parent``, with which this one dies."""
    die_with_parent(parent)
    try:
        target(*args)
    except BaseException as error:  # the parent re-raises it
        sender.send(error)
    else:
        sender.send(None)
    finally:
        sender.close()
