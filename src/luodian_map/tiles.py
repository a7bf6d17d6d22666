"""Raster tiles under a print map: fetched once, cached on disk, never waited on for long.

:func:`fetch_mosaic` assembles the XYZ tiles (Web Mercator) covering a box from the cache
(``~/.cache/luodian-map/tiles/<name>``, ``$LUODIAN_MAP_TILES`` overrides the root) or the
tile server; when a tile is neither cached nor fetched within a short timeout, there is no
mosaic and the map falls back to its offline vector base. :func:`warp` resamples a mosaic
onto the map's projected grid.
"""

from __future__ import annotations

import io
import math
import os
import threading
import time
import urllib.error
import urllib.request
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from . import __version__
from ._io import write_atomic

if TYPE_CHECKING:
    from pyproj.crs import CRS

    CRSLike = CRS | str | int

TILES_ENV = "LUODIAN_MAP_TILES"
MAX_TILES = 64  # the zoom is the highest whose cover needs at most this many tiles
TIMEOUT_S = 3.0
TOTAL_S = 30.0  # all tiles of one map, after which the vector base is drawn instead
_EARTH = 20037508.342789244  # half the Web Mercator world, metres


@dataclass(frozen=True)
class TileSource:
    """An XYZ tile server.

    Attributes
    ----------
    name : str
        Folder name of the cache.
    url : str
        Template with ``{z}``, ``{x}``, ``{y}``.
    attribution : str
        Credit printed on the map.
    max_zoom : int
    timeout : float
        Seconds to wait for one tile before giving up on the tiles.
    """

    name: str
    url: str
    attribution: str
    max_zoom: int = 19
    timeout: float = TIMEOUT_S


def tile_source(name: str) -> TileSource:
    """The xyzservices provider behind ``--basemap osm`` or ``cartodb``."""
    import xyzservices.providers as xyz

    provider = {"osm": xyz.OpenStreetMap.Mapnik, "cartodb": xyz.CartoDB.Positron}[name]
    with warnings.catch_warnings():  # CartoDB's "API key" notice: its tiles work without one
        warnings.simplefilter("ignore")
        url = provider.build_url(scale_factor="")
    return TileSource(name, url, provider["attribution"], int(provider.get("max_zoom", 19)))


def cache_root() -> Path:
    """Where tiles are kept between runs."""
    default = Path.home() / ".cache" / "luodian-map" / "tiles"
    return Path(os.environ.get(TILES_ENV) or default)


@dataclass(frozen=True)
class Mosaic:
    """Tiles stitched into one RGB image and its extent in Web Mercator metres."""

    image: np.ndarray  # (rows, columns, 3), uint8
    extent: tuple[float, float, float, float]  # west, east, south, north
    zoom: int


def _tile_range(
    west: float, south: float, east: float, north: float, zoom: int
) -> tuple[range, range]:
    n: int = 2**zoom

    def column(lon: float) -> int:
        return min(n - 1, max(0, int((lon + 180) / 360 * n)))

    def row(lat: float) -> int:
        y = math.asinh(math.tan(math.radians(lat)))
        return min(n - 1, max(0, int((1 - y / math.pi) / 2 * n)))

    return range(column(west), column(east) + 1), range(row(north), row(south) + 1)


def fetch_mosaic(
    source: TileSource, bounds: tuple[float, float, float, float], cache: Path | None = None
) -> Mosaic | None:
    """The tiles covering ``bounds`` (west, south, east, north in degrees), or None when
    one of them is neither cached nor answered in time: a tile server that does not answer
    costs one timeout, a slow one at most :data:`TOTAL_S`."""
    cache = (cache or cache_root()) / source.name
    zoom = max(
        z
        for z in range(source.max_zoom + 1)
        if z == 0 or math.prod(map(len, _tile_range(*bounds, z))) <= MAX_TILES
    )
    columns, rows = _tile_range(*bounds, zoom)
    deadline = time.monotonic() + TOTAL_S
    tiles = []
    for y in rows:
        line = []
        for x in columns:
            tile = _tile(source, cache, zoom, x, y)
            if tile is None or time.monotonic() > deadline:
                return None
            line.append(tile)
        tiles.append(np.concatenate(line, axis=1))
    size = 2 * _EARTH / 2**zoom
    return Mosaic(
        np.concatenate(tiles, axis=0),
        (
            -_EARTH + columns.start * size,
            -_EARTH + columns.stop * size,
            _EARTH - rows.stop * size,
            _EARTH - rows.start * size,
        ),
        zoom,
    )


def _tile(source: TileSource, cache: Path, z: int, x: int, y: int) -> np.ndarray | None:
    """One tile as RGB pixels, from the cache or the server (cached only if an image)."""
    path = cache / str(z) / str(x) / f"{y}.png"
    if path.exists():
        return _decode(path.read_bytes())
    request = urllib.request.Request(
        source.url.format(z=z, x=x, y=y), headers={"User-Agent": f"luodian-map/{__version__}"}
    )
    answer: list[bytes] = []

    def get() -> None:
        try:
            with urllib.request.urlopen(request, timeout=source.timeout) as response:
                answer.append(response.read())
        except (urllib.error.URLError, OSError, ValueError):
            pass

    # in a daemon thread: the socket timeout does not bound a name lookup that hangs
    worker = threading.Thread(target=get, daemon=True)
    worker.start()
    worker.join(source.timeout + 1)
    pixels = _decode(answer[0]) if answer else None
    if pixels is not None:
        write_atomic(path, answer[0])
    return pixels


def _decode(data: bytes) -> np.ndarray | None:
    """RGB pixels of a 256 × 256 tile; None for anything else (a portal page, an error)."""
    from PIL import Image

    try:
        pixels = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
    except OSError:
        return None
    return pixels if pixels.shape == (256, 256, 3) else None


def warp(
    mosaic: Mosaic, crs: CRSLike, extent: tuple[float, float, float, float], shape: tuple[int, int]
) -> np.ndarray:
    """The mosaic resampled (nearest pixel) onto a ``shape`` (rows, columns) grid covering
    ``extent`` (x0, x1, y0, y1) of the projected ``crs``, top row first."""
    from pyproj import Transformer

    x0, x1, y0, y1 = extent
    rows, columns = shape
    xs = np.linspace(x0, x1, columns)
    ys = np.linspace(y1, y0, rows)
    gx, gy = np.meshgrid(xs, ys)
    to_mercator = Transformer.from_crs(crs, "EPSG:3857", always_xy=True)
    mx, my = to_mercator.transform(gx, gy)
    west, east, south, north = mosaic.extent
    height, width = mosaic.image.shape[:2]
    col = np.clip(((mx - west) / (east - west) * width).astype(int), 0, width - 1)
    row = np.clip(((north - my) / (north - south) * height).astype(int), 0, height - 1)
    warped: np.ndarray = mosaic.image[row, col]
    return warped
