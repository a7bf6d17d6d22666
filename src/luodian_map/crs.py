"""Chinese map datums: WGS-84, GCJ-02 (Amap, Tencent) and BD-09 (Baidu).

Chinese web maps publish coordinates in GCJ-02 or BD-09, which differ from WGS-84 by a
few hundred metres around Shanghai; drawn unconverted on an OpenStreetMap basemap they
land in the wrong street. The formulas are the published reference implementation of
the GCJ-02 obfuscation (no pyproj CRS exists for it); the inverses are iterative because
the forward transform has no closed-form inverse.

Points outside the standard China bounding box are left unchanged by every conversion,
as the providers do. CGCS2000 (EPSG:4490) is treated as identical to WGS-84: the two
differ by well under a metre at this scale, far below everything else we know.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from .errors import InputError

if TYPE_CHECKING:
    import geopandas as gpd
    from numpy.typing import ArrayLike, NDArray

    Coords = tuple[NDArray[np.float64], NDArray[np.float64]]

# Krasovsky 1940 ellipsoid, as used by the GCJ-02 reference implementation.
_A = 6378245.0
_EE = 0.00669342162296594323
_X_PI = np.pi * 3000.0 / 180.0

# Iterative inverses stop when the largest correction is below this (about 0.1 mm).
_TOLERANCE_DEG = 1e-9
_MAX_ITERATIONS = 30

_ALIASES: dict[str, str] = {
    "WGS84": "wgs84",
    "EPSG4326": "wgs84",
    "GCJ02": "gcj02",
    "BD09": "bd09",
    "BD09LL": "bd09",
    "CGCS2000": "cgcs2000",
    "EPSG4490": "cgcs2000",
}
ACCEPTED_NAMES = ("WGS-84", "EPSG:4326", "GCJ-02", "BD-09", "CGCS2000", "EPSG:4490")

# Position of each datum on the chain WGS-84 → GCJ-02 → BD-09 (CGCS2000 sits on WGS-84).
_LEVEL = {"wgs84": 0, "cgcs2000": 0, "gcj02": 1, "bd09": 2}
_EPSG = {"wgs84": "EPSG:4326", "cgcs2000": "EPSG:4490"}


def normalise_crs_name(name: str) -> str:
    """Map the many spellings planners use to one id, so callers compare plain strings."""
    key = "".join(ch for ch in str(name).upper() if ch.isalnum())
    try:
        return _ALIASES[key]
    except KeyError:
        accepted = ", ".join(ACCEPTED_NAMES)
        raise InputError(f"unknown coordinate system {name!r}; use one of {accepted}") from None


def _as_arrays(lon: ArrayLike, lat: ArrayLike) -> Coords:
    lon_a, lat_a = np.broadcast_arrays(np.asarray(lon, float), np.asarray(lat, float))
    return lon_a.astype(float, copy=True), lat_a.astype(float, copy=True)


def out_of_china(lon: ArrayLike, lat: ArrayLike) -> NDArray[np.bool_]:
    """The reference implementation's box: outside it GCJ-02 equals WGS-84."""
    lon_a, lat_a = _as_arrays(lon, lat)
    return (lon_a < 72.004) | (lon_a > 137.8347) | (lat_a < 0.8293) | (lat_a > 55.8271)


def _inside_only(
    lon: NDArray[np.float64],
    lat: NDArray[np.float64],
    new_lon: NDArray[np.float64],
    new_lat: NDArray[np.float64],
) -> Coords:
    outside = out_of_china(lon, lat)
    return np.where(outside, lon, new_lon), np.where(outside, lat, new_lat)


def _gcj_offset(lon: NDArray[np.float64], lat: NDArray[np.float64]) -> Coords:
    x = lon - 105.0
    y = lat - 35.0
    sx, sy = np.sqrt(np.abs(x)), np.pi * y
    wave = (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    d_lat = (
        -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * sx
        + wave
        + (20.0 * np.sin(sy) + 40.0 * np.sin(sy / 3.0)) * 2.0 / 3.0
        + (160.0 * np.sin(sy / 12.0) + 320.0 * np.sin(sy / 30.0)) * 2.0 / 3.0
    )  # fmt: skip
    d_lon = (
        300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * sx
        + wave
        + (20.0 * np.sin(x * np.pi) + 40.0 * np.sin(x * np.pi / 3.0)) * 2.0 / 3.0
        + (150.0 * np.sin(x * np.pi / 12.0) + 300.0 * np.sin(x * np.pi / 30.0)) * 2.0 / 3.0
    )  # fmt: skip
    rad = np.radians(lat)
    magic = 1.0 - _EE * np.sin(rad) ** 2
    sqrt_magic = np.sqrt(magic)
    d_lat = (d_lat * 180.0) / ((_A * (1.0 - _EE)) / (magic * sqrt_magic) * np.pi)
    d_lon = (d_lon * 180.0) / (_A / sqrt_magic * np.cos(rad) * np.pi)
    return d_lon, d_lat


def wgs84_to_gcj02(lon: ArrayLike, lat: ArrayLike) -> Coords:
    """Forward GCJ-02 obfuscation."""
    lon_a, lat_a = _as_arrays(lon, lat)
    with np.errstate(all="ignore"):  # values outside the box are discarded below
        d_lon, d_lat = _gcj_offset(lon_a, lat_a)
    return _inside_only(lon_a, lat_a, lon_a + d_lon, lat_a + d_lat)


def gcj02_to_bd09(lon: ArrayLike, lat: ArrayLike) -> Coords:
    """Baidu's extra rotation and shift on top of GCJ-02."""
    x, y = _as_arrays(lon, lat)
    z = np.hypot(x, y) + 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) + 0.000003 * np.cos(x * _X_PI)
    return _inside_only(x, y, z * np.cos(theta) + 0.0065, z * np.sin(theta) + 0.006)


def _bd09_to_gcj02_estimate(lon: ArrayLike, lat: ArrayLike) -> Coords:
    lon_a, lat_a = _as_arrays(lon, lat)
    x, y = lon_a - 0.0065, lat_a - 0.006
    z = np.hypot(x, y) - 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) - 0.000003 * np.cos(x * _X_PI)
    return _inside_only(lon_a, lat_a, z * np.cos(theta), z * np.sin(theta))


def _invert(
    forward: Callable[[ArrayLike, ArrayLike], Coords],
    lon: ArrayLike,
    lat: ArrayLike,
    start: Coords | None = None,
) -> Coords:
    """Fixed-point inverse: move the guess by the forward transform's miss until it hits.

    The offsets vary slowly (their derivatives are ~1e-5), so each step shrinks the error
    by that factor and three or four steps reach the tolerance.
    """
    target_lon, target_lat = _as_arrays(lon, lat)
    guess_lon, guess_lat = start if start is not None else (target_lon, target_lat)
    guess_lon, guess_lat = guess_lon.copy(), guess_lat.copy()
    for _ in range(_MAX_ITERATIONS):
        fwd_lon, fwd_lat = forward(guess_lon, guess_lat)
        miss_lon, miss_lat = fwd_lon - target_lon, fwd_lat - target_lat
        guess_lon -= miss_lon
        guess_lat -= miss_lat
        miss = np.abs(np.concatenate([miss_lon.ravel(), miss_lat.ravel()]))
        if np.max(miss, initial=0.0, where=np.isfinite(miss)) < _TOLERANCE_DEG:
            break
    return guess_lon, guess_lat


def gcj02_to_wgs84(lon: ArrayLike, lat: ArrayLike) -> Coords:
    """Iterative inverse, accurate to well under a millimetre (not the 1-2 m one-step)."""
    return _invert(wgs84_to_gcj02, lon, lat)


def bd09_to_gcj02(lon: ArrayLike, lat: ArrayLike) -> Coords:
    """Baidu's published inverse is only good to about a metre; refine it iteratively."""
    return _invert(gcj02_to_bd09, lon, lat, start=_bd09_to_gcj02_estimate(lon, lat))


def wgs84_to_bd09(lon: ArrayLike, lat: ArrayLike) -> Coords:
    return gcj02_to_bd09(*wgs84_to_gcj02(lon, lat))


def bd09_to_wgs84(lon: ArrayLike, lat: ArrayLike) -> Coords:
    return gcj02_to_wgs84(*bd09_to_gcj02(lon, lat))


_UP = (wgs84_to_gcj02, gcj02_to_bd09)
_DOWN = (gcj02_to_wgs84, bd09_to_gcj02)


def convert(lon: ArrayLike, lat: ArrayLike, src: str, dst: str) -> Coords:
    """Convert coordinate arrays between any two supported datums (names as accepted above)."""
    level_src = _LEVEL[normalise_crs_name(src)]
    level_dst = _LEVEL[normalise_crs_name(dst)]
    lon_a, lat_a = _as_arrays(lon, lat)
    for level in range(level_src, level_dst):
        lon_a, lat_a = _UP[level](lon_a, lat_a)
    for level in range(level_src, level_dst, -1):
        lon_a, lat_a = _DOWN[level - 1](lon_a, lat_a)
    return lon_a, lat_a


_Geoms = TypeVar("_Geoms", BaseGeometry, shapely.Geometry, np.ndarray, "gpd.GeoSeries")


def transform_geometry(geoms: _Geoms, src: str, dst: str) -> _Geoms:
    """Convert geometries vertex by vertex, keeping types, holes, parts and any Z values.

    ``src`` decides, never a GeoSeries' own ``crs`` label: GCJ-02 data often arrives
    mislabelled EPSG:4326. A GeoSeries comes back with the same index and the ``crs`` of
    ``dst`` (EPSG:4326 / EPSG:4490; None for GCJ-02 and BD-09, which have no EPSG code); a
    list comes back as an array.
    """
    src_id, dst_id = normalise_crs_name(src), normalise_crs_name(dst)

    def _apply(coords: NDArray[np.float64]) -> NDArray[np.float64]:
        out = coords.copy()
        out[:, 0], out[:, 1] = convert(coords[:, 0], coords[:, 1], src_id, dst_id)
        return out

    # include_z=None (keep each geometry's own Z, shapely >= 2.1) is missing from the
    # types-shapely 2.1 stub, which only allows a bool
    if isinstance(geoms, shapely.Geometry | np.ndarray | list | tuple):
        same: _Geoms = shapely.transform(geoms, _apply, include_z=None)  # type: ignore[call-overload]
        return same
    import geopandas as gpd  # only here, so the crs module stays cheap to import

    if isinstance(geoms, gpd.GeoSeries):
        values = shapely.transform(geoms.to_numpy(), _apply, include_z=None)  # type: ignore[call-overload]
        return gpd.GeoSeries(values, index=geoms.index, crs=_EPSG.get(dst_id), name=geoms.name)
    raise TypeError(f"cannot transform {type(geoms).__name__}; pass shapely geometries")
