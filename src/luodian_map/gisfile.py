"""Reading a planner's own GIS files: one reader for overrides and imported places.

Planners hand over Shapefiles (their DBF often in GBK, with or without a ``.cpg``),
GeoPackages with several layers, GeoJSON, KML from Google Earth or 奥维, and CSV tables
exported from Excel (UTF-8 or GBK) with lon/lat or WKT columns. :func:`read_layers` reads
any of them into one frame per layer with the CRS the file states (None when it states
none), :func:`to_wgs84` brings a frame to WGS-84 with the CRS the file states or the user
gives (any CRS pyproj knows, plus the GCJ-02 and BD-09 datums of :mod:`luodian_map.crs`),
and :func:`check_lon_lat` tells swapped or foreign coordinates from good ones.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely
from geopandas.array import GeometryArray

from .crs import ACCEPTED_NAMES, normalise_crs_name, transform_geometry
from .errors import InputError

SURVEYED_UNCERTAINTY_M = 5.0
"""What a planner's own geometry is taken to be off by when the file does not say."""
# China's extent, to tell swapped lon/lat from coordinates that are merely wrong.
CHINA_BOUNDS = (73.0, 3.0, 136.0, 54.0)
GIS_SUFFIXES = (".shp", ".gpkg", ".geojson", ".json", ".kml", ".kmz", ".csv")

_LON_COLUMNS = ("lon", "lng", "long", "longitude", "x", "经度")
_LAT_COLUMNS = ("lat", "latitude", "y", "纬度")
_WKT_COLUMNS = ("wkt", "geometry", "geom", "the_geom", "shape")
_TEXT_ENCODINGS = ("utf-8-sig", "gb18030")  # Excel in China saves CSV as GBK


@dataclass(frozen=True)
class Layer:
    """One layer of a file: its name, its features (CRS as the file states it, or None)
    and the text encoding its attributes were decoded with (None: the format's own)."""

    name: str
    frame: gpd.GeoDataFrame
    encoding: str | None = None


def read_layers(path: str | Path, *, layer: str | None = None, what: str = "file") -> list[Layer]:
    """Every spatial layer of a GIS file (or only ``layer``), attributes decoded.

    Parameters
    ----------
    path
        A Shapefile, GeoPackage, GeoJSON, KML/KMZ or CSV file (see :data:`GIS_SUFFIXES`).
    layer
        Only this layer (a GeoPackage table, a KML folder).
    what
        What the file is to the user ("overrides"), for error messages.

    Raises
    ------
    InputError
        When the file is missing, of an unknown kind, unreadable, or has no such layer.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: {what} file not found")
    suffix = path.suffix.lower()
    if suffix not in GIS_SUFFIXES:
        raise InputError(f"{path}: {what} must be one of {', '.join(GIS_SUFFIXES)}")
    try:
        if suffix == ".csv":
            _check_layer(path, [path.stem], layer)
            return [_read_csv(path)]
        return _read_gdal(path, layer)
    except InputError:
        raise
    except Exception as error:  # the readers raise many types for one cause: a broken file
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise InputError(f"{path}: cannot read {what} ({reason})") from None


def _check_layer(path: Path, names: list[str], layer: str | None) -> list[str]:
    if layer is None:
        return names
    if layer not in names:
        raise InputError(f"{path}: no layer {layer!r} (layers: {', '.join(names)})")
    return [layer]


def _read_gdal(path: Path, layer: str | None) -> list[Layer]:
    import pyogrio

    spatial = [str(n) for n, kind in pyogrio.list_layers(path) if kind is not None]
    names = _check_layer(path, spatial, layer)
    encoding = _shapefile_encoding(path) if path.suffix.lower() == ".shp" else None
    declared = _geojson_crs(path) if path.suffix.lower() in (".geojson", ".json") else None
    layers = []
    for name in names:
        if encoding is None:
            frame = pyogrio.read_dataframe(path, layer=name)
            if declared is not None:
                frame = frame.set_crs(declared, allow_override=True)
            layers.append(Layer(name, frame))
            continue
        for candidate in encoding:
            try:
                frame = pyogrio.read_dataframe(path, layer=name, encoding=candidate)
            except UnicodeDecodeError:
                continue
            layers.append(Layer(name, frame, candidate))
            break
    return layers


def _geojson_crs(path: Path) -> pyproj.CRS | None:
    """The CRS a GeoJSON file declares in its legacy ``crs`` member (GeoJSON 2008, still
    written by QGIS and ArcGIS for projected data), or None when it declares none.

    GDAL reads the common spellings itself but takes one it does not know for WGS-84
    without a word; here any declaration pyproj cannot read is an error that names it.
    """
    data = path.read_bytes()
    if b'"crs"' not in data:
        return None
    document = json.loads(data)
    member = document.get("crs") if isinstance(document, dict) else None
    if member is None:
        return None
    properties = member.get("properties") if isinstance(member, dict) else None
    if isinstance(properties, dict) and member.get("type") == "name":
        declared = properties.get("name")
    elif isinstance(properties, dict) and member.get("type") == "EPSG":
        declared = f"EPSG:{properties.get('code')}"
    else:
        declared = None
    try:
        if isinstance(declared, str):
            return pyproj.CRS.from_user_input(declared)
    except pyproj.exceptions.CRSError:
        pass
    raise InputError(
        f"{path}: the file declares the coordinate system {json.dumps(member)[:200]}, which is "
        'not one pyproj knows; write it as {"type": "name", "properties": {"name": '
        '"EPSG:…"}}, or remove it and give the CRS with --crs (--overrides-crs)'
    )


def _shapefile_encoding(path: Path) -> tuple[str, ...] | None:
    """Encodings to try for a Shapefile's DBF: None when GDAL knows it (a ``.cpg`` file or
    the DBF's language driver byte), else UTF-8 and then GB18030 (a superset of GBK).

    A DBF with neither is what most Chinese desktop GIS write; GDAL would read it as
    Latin-1 and turn every name into mojibake.
    """
    if path.with_suffix(".cpg").exists() or path.with_suffix(".CPG").exists():
        return None
    dbf = next((p for p in (path.with_suffix(".dbf"), path.with_suffix(".DBF")) if p.exists()),
               None)  # fmt: skip
    if dbf is None:
        return None
    with dbf.open("rb") as handle:
        header = handle.read(32)
    language_driver = header[29] if len(header) > 29 else 0
    return None if language_driver else ("utf-8", "gb18030")


def _read_csv(path: Path) -> Layer:
    """A table with lon/lat (or x/y) columns, or a WKT column; UTF-8 or GBK text."""
    for encoding in _TEXT_ENCODINGS:
        try:
            table = pd.read_csv(path, encoding=encoding, dtype=str, keep_default_na=False)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise InputError(f"{path}: CSV is neither UTF-8 nor GBK text")
    lon, lat = find_column(table.columns, _LON_COLUMNS), find_column(table.columns, _LAT_COLUMNS)
    wkt = find_column(table.columns, _WKT_COLUMNS)
    if lon is not None and lat is not None:
        x = pd.to_numeric(table[lon], errors="coerce")
        y = pd.to_numeric(table[lat], errors="coerce")
        bad = x.isna() | y.isna()
        if bad.any():
            row = int(np.argmax(bad.to_numpy())) + 2
            raise InputError(f"{path} line {row}: {lon}/{lat} must be numbers in every row")
        geometry: GeometryArray | np.ndarray = gpd.points_from_xy(x, y)
        table = table.drop(columns=[lon, lat])
    elif wkt is not None:
        try:
            geometry = shapely.from_wkt(table[wkt].to_numpy(dtype=object), on_invalid="raise")
        except shapely.errors.GEOSException as error:
            raise InputError(f"{path}: unreadable WKT in column {wkt} ({error})") from None
        table = table.drop(columns=[wkt])
    else:
        raise InputError(
            f"{path}: CSV needs lon and lat columns (or x/y, longitude/latitude, 经度/纬度) "
            "or a WKT column"
        )
    encoding = encoding.removesuffix("-sig")
    return Layer(path.stem, gpd.GeoDataFrame(table, geometry=geometry, crs=None), encoding)


def find_column(columns: pd.Index | list[str], candidates: tuple[str, ...]) -> str | None:
    """The first of ``candidates`` among ``columns``, ignoring case (NAME, Name, name)."""
    by_key: dict[str, str] = {}
    for column in columns:
        by_key.setdefault(str(column).strip().casefold(), column)
    return next((by_key[c.casefold()] for c in candidates if c.casefold() in by_key), None)


def parse_crs(text: str) -> str | pyproj.CRS:
    """A datum id of :mod:`luodian_map.crs` ("wgs84", "gcj02", …) or a pyproj CRS.

    Accepts the datum spellings of :func:`~luodian_map.crs.normalise_crs_name`, EPSG codes
    (``EPSG:4549``, ``4549``), WKT and PROJ strings.
    """
    try:
        return normalise_crs_name(text)
    except InputError:
        pass
    try:
        return pyproj.CRS.from_user_input(int(text) if text.strip().isdigit() else text)
    except pyproj.exceptions.CRSError:
        accepted = ", ".join(ACCEPTED_NAMES)
        raise InputError(
            f"unknown coordinate system {text!r}; use one of {accepted}, an EPSG code such as "
            "EPSG:4549, or a PROJ string"
        ) from None


def crs_label(crs: str | pyproj.CRS) -> str:
    """A short name for a CRS: a datum id, ``EPSG:4549``, or the CRS's own name."""
    if isinstance(crs, str):
        return crs
    authority = crs.to_authority(min_confidence=90)
    return ":".join(authority) if authority else crs.name


def to_wgs84(
    frame: gpd.GeoDataFrame, crs: str | None, where: str, *, default: str | None = None
) -> tuple[gpd.GeoDataFrame, str]:
    """The frame in WGS-84 (2-D) and the CRS it was read in.

    ``crs`` (the user's) wins over what the file states: GCJ-02 data always comes labelled
    as WGS-84, and a wrong ``.prj`` is common. Without either, ``default`` is used, or an
    :class:`InputError` says to give ``--crs``.
    """
    chosen = parse_crs(crs) if crs else frame.crs
    if chosen is None and default is not None:
        chosen = parse_crs(default)
    if chosen is None:
        raise InputError(
            f"{where}: the file states no coordinate system; give it with --crs "
            "(e.g. EPSG:4490, EPSG:4549, gcj02)"
        )
    geoms = shapely.force_2d(frame.geometry.to_numpy())
    if isinstance(chosen, str):
        geoms = transform_geometry(geoms, chosen, "wgs84")
    else:
        geoms = gpd.GeoSeries(geoms, crs=chosen).to_crs("EPSG:4326").to_numpy()
    out = gpd.GeoDataFrame(frame.drop(columns=frame.geometry.name), geometry=geoms,
                           crs="EPSG:4326")  # fmt: skip
    return out, crs_label(chosen)


def check_lon_lat(geometries: gpd.GeoSeries | np.ndarray, where: str) -> None:
    """Coordinates must lie in China; swapped ones are recognised and named as such."""
    coords = shapely.get_coordinates(np.asarray(geometries))
    west, south, east, north = CHINA_BOUNDS
    lon, lat = coords[:, 0], coords[:, 1]
    inside = (lon >= west) & (lon <= east) & (lat >= south) & (lat <= north)
    if inside.all():
        return
    bad = coords[~inside][0]
    swapped = west <= bad[1] <= east and south <= bad[0] <= north
    point = f"{where}: coordinate ({bad[0]:g}, {bad[1]:g})"
    problem = ": lon and lat look swapped" if swapped else " is outside China"
    raise InputError(f"{point}{problem}; expected lon, lat")
