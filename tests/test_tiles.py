"""Raster tiles under print maps, from a local XYZ tile server on 127.0.0.1.

The server answers ``/{z}/{x}/{y}.png`` with a 256 × 256 PNG of one colour computed from the
tile's x and y, so a test can tell where each tile lands on the page; it can also answer
with an HTML page, or accept connections and never answer.
"""

from __future__ import annotations

import io
import math
import os
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest
from PIL import Image

from luodian_map.printmap import cjk_font, render_print
from luodian_map.tiles import MAX_TILES, TileSource, fetch_mosaic, warp

BOUNDS = (121.30, 31.38, 121.40, 31.45)  # west, south, east, north: around 罗店镇


def tile_color(x: int, y: int) -> tuple[int, int, int]:
    return (x * 37 % 256, y * 53 % 256, 200)


class TileServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, mode: str = "png") -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.mode = mode
        self.requests: list[str] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/{{z}}/{{x}}/{{y}}.png"


class _Handler(BaseHTTPRequestHandler):
    server: TileServer

    def do_GET(self) -> None:
        self.server.requests.append(self.path)
        _, x, y = (int(part) for part in self.path.removesuffix(".png").strip("/").split("/"))
        if self.server.mode == "html":
            body, kind = b"<html>please log in</html>", "text/html"
        else:
            buffer = io.BytesIO()
            Image.new("RGB", (256, 256), tile_color(x, y)).save(buffer, format="PNG")
            body, kind = buffer.getvalue(), "image/png"
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def tile_server() -> Iterator[TileServer]:
    server = TileServer()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def source(url: str, timeout: float = 2.0) -> TileSource:
    return TileSource("test", url, "测试瓦片 © test tiles", max_zoom=18, timeout=timeout)


def test_mosaic_is_placed_where_its_tiles_belong(tile_server, tmp_path) -> None:
    mosaic = fetch_mosaic(source(tile_server.url), BOUNDS, tmp_path)
    assert mosaic is not None
    assert 0 < len(tile_server.requests) <= MAX_TILES
    # every tile is cached under the source's name
    assert len(list((tmp_path / "test").rglob("*.png"))) == len(tile_server.requests)
    from pyproj import Transformer

    utm = Transformer.from_crs("EPSG:4326", "EPSG:32651", always_xy=True)
    (x0, x1), (y0, y1) = zip(
        utm.transform(121.30, 31.38), utm.transform(121.40, 31.45), strict=True
    )
    shape = (400, 500)
    image = warp(mosaic, "EPSG:32651", (x0, x1, y0, y1), shape)
    assert image.shape == (*shape, 3)
    n = 2**mosaic.zoom
    for lon, lat in [(121.33, 31.40), (121.37, 31.43), (121.35, 31.415)]:
        px, py = utm.transform(lon, lat)
        col = round((px - x0) / (x1 - x0) * (shape[1] - 1))
        row = round((y1 - py) / (y1 - y0) * (shape[0] - 1))
        tx = int((lon + 180) / 360 * n)
        ty = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
        assert tuple(image[row, col]) == tile_color(tx, ty)


@pytest.mark.skipif(cjk_font() is None and not os.environ.get("CI"), reason="needs a CJK font")
def test_print_map_over_tiles_then_from_the_cache(tile_server, tmp_path, monkeypatch) -> None:
    from conftest import make_features

    monkeypatch.setenv("LUODIAN_MAP_TILES", str(tmp_path / "cache"))
    features = make_features()
    online = render_print(features, tmp_path / "a.png", fmt="png", tiles=source(tile_server.url))
    assert online.basemap == "tiles"
    fetched = len(tile_server.requests)
    assert fetched > 0
    pixels = np.asarray(Image.open(online.path).convert("RGB"))
    left, top, right, bottom = map(int, online.map_box)
    frame = pixels[top:bottom, left:right].reshape(-1, 3)
    seen = {tuple(c) for c in np.unique(frame, axis=0)}
    tiles = {tuple(p.removesuffix(".png").strip("/").split("/")) for p in tile_server.requests}
    colors = {tile_color(int(x), int(y)) for _, x, y in tiles}
    assert len(colors & seen) >= len(colors) // 2  # the tiles are under the data
    # from the cache: no request, the same page
    again = render_print(features, tmp_path / "b.png", fmt="png", tiles=source(tile_server.url))
    assert len(tile_server.requests) == fetched
    assert again.basemap == "tiles"
    assert again.path.read_bytes() == online.path.read_bytes()
    pdf = render_print(features, tmp_path / "c.pdf", fmt="pdf", tiles=source(tile_server.url))
    import pypdf

    assert "测试瓦片 © test tiles" in pypdf.PdfReader(pdf.path).pages[0].extract_text()


def test_a_server_that_never_answers_costs_one_timeout(tmp_path) -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)  # connections are queued, never accepted nor answered
    try:
        url = f"http://127.0.0.1:{listener.getsockname()[1]}/{{z}}/{{x}}/{{y}}.png"
        start = time.monotonic()
        assert fetch_mosaic(source(url, timeout=0.5), BOUNDS, tmp_path) is None
        assert time.monotonic() - start < 2.5
    finally:
        listener.close()
    assert not list(tmp_path.rglob("*.png"))


def test_closed_port_and_non_image_answers_fall_back(tmp_path) -> None:
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    url = f"http://127.0.0.1:{port}/{{z}}/{{x}}/{{y}}.png"
    assert fetch_mosaic(source(url, timeout=0.5), BOUNDS, tmp_path) is None
    server = TileServer("html")
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        assert fetch_mosaic(source(server.url), BOUNDS, tmp_path / "html") is None
        assert len(server.requests) == 1  # gave up at the first bad tile
    finally:
        server.shutdown()
        server.server_close()
