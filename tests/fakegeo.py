"""A local stand-in for the five geocoding services and the two POI searches (AMap
place/text, Tianditu v2 search), for tests that use the real clients.

The server listens on 127.0.0.1 on an ephemeral port and answers each provider's path in
that provider's documented format. Tests script the replies per query (the last reply
repeats) and read back every request it received.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

PATHS = {
    "/search": "nominatim",
    "/geocoding/v3/": "baidu",
    "/arcgis/rest/services/World/GeocodeServer/findAddressCandidates": "arcgis",
    "/v3/geocode/geo": "amap",
    "/geocoder": "tianditu",
    "/v3/place/text": "amap_poi",
    "/v2/search": "tianditu_poi",
}


@dataclass(frozen=True)
class Place:
    """A place in the answering provider's own datum (GCJ-02 for AMap, BD-09 for Baidu).

    For the POI searches ``label`` is the POI's name and ``level`` its type.
    """

    lon: float
    lat: float
    label: str = "测试地点"
    level: str | None = None


@dataclass(frozen=True)
class Reply:
    kind: str  # "places" | "http" | "slow" | "bad_key" | "body" | "raw" | "drip" | "flood"
    places: tuple[Place, ...] = ()
    body: Any = None
    status: int = 200
    seconds: float = 0.0
    headers: tuple[tuple[str, str], ...] = ()
    every: float = 0.0
    size: int = 0
    drip_headers: bool = False


def answer(*places: Place) -> Reply:
    """Answer normally with these places (none: the provider's "no result" answer)."""
    return Reply("places", places=places)


def empty() -> Reply:
    return Reply("places")


def http(status: int, *, retry_after: str | None = None) -> Reply:
    headers = (("Retry-After", retry_after),) if retry_after else ()
    return Reply("http", status=status, headers=headers)


def slow(seconds: float) -> Reply:
    """Sleep before answering (longer than the client's timeout), then answer empty."""
    return Reply("slow", seconds=seconds)


def bad_key() -> Reply:
    """The provider's documented answer to a wrong API key."""
    return Reply("bad_key")


def body(document: Any, *, status: int = 200) -> Reply:
    """Send this JSON document as it is (e.g. a provider error code)."""
    return Reply("body", status=status, body=document)


def raw(data: bytes, *, status: int = 200) -> Reply:
    """Send these bytes as the body, as they are (not JSON-encoded)."""
    return Reply("raw", status=status, body=data)


def drip(every: float, *, seconds: float, headers: bool = False) -> Reply:
    """Send the reply one byte every ``every`` seconds for up to ``seconds`` (the body of
    an empty answer, or with ``headers`` the status line and headers too), then the rest.

    Every single read of the client returns within ``every``: a timeout per read never
    fires, only a deadline for the whole request does.
    """
    return Reply("drip", every=every, seconds=seconds, drip_headers=headers)


def flood(size: int) -> Reply:
    """A well-formed but huge empty JSON array (``[`` ``size`` spaces ``]``), streamed
    without Content-Length until the client stops reading."""
    return Reply("flood", size=size)


@dataclass(frozen=True)
class Request:
    provider: str
    path: str
    params: dict[str, str]
    query: str  # the address text the client sent
    headers: dict[str, str] = field(default_factory=dict)


class FakeGeo:
    """``with FakeGeo() as fake: fake.script("光明村", http(429), answer(Place(...)))``."""

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self._scripts: dict[str, list[Reply]] = {}
        self._lock = threading.Lock()
        self._server = _Server(("127.0.0.1", 0), _handler_for(self))
        # a short poll interval keeps shutdown (once per test) from costing half a second
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def domain(self) -> str:
        host, port = self._server.server_address[:2]
        return f"{host}:{port}"

    def script(self, query_end: str, *replies: Reply) -> None:
        """Replies, in order, to every query ending with ``query_end``; the last repeats."""
        with self._lock:
            self._scripts[query_end] = list(replies)

    def requests_for(self, provider: str) -> list[Request]:
        with self._lock:
            return [r for r in self.requests if r.provider == provider]

    def _next_reply(self, query: str) -> Reply:
        with self._lock:
            keys = [k for k in self._scripts if query.endswith(k)]
            if not keys:
                return empty()
            replies = self._scripts[max(keys, key=len)]
            return replies.pop(0) if len(replies) > 1 else replies[0]

    def _record(self, request: Request) -> None:
        with self._lock:
            self.requests.append(request)

    def __enter__(self) -> FakeGeo:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # a handler still sleeping for a timeout test must not block

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients that timed out close the socket under a sleeping handler: not an error."""


def _handler_for(fake: FakeGeo) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            url = urlsplit(self.path)
            provider = PATHS.get(url.path)
            if provider is None:
                self._send(404, {"error": "not found"})
                return
            params = dict(parse_qsl(url.query))
            query = _query_text(provider, params)
            fake._record(Request(provider, url.path, params, query, dict(self.headers)))
            reply = fake._next_reply(query)
            if reply.kind == "slow":
                time.sleep(reply.seconds)
                self._send(200, _answer(provider, (), query))
            elif reply.kind == "http":
                self._send(reply.status, {"error": f"HTTP {reply.status}"}, reply.headers)
            elif reply.kind == "body":
                self._send(reply.status, reply.body)
            elif reply.kind == "bad_key":
                status, body = _bad_key(provider)
                self._send(status, body)
            elif reply.kind == "raw":
                self._send_bytes(reply.status, reply.body)
            elif reply.kind == "drip":
                _drip(self, reply, json.dumps(_answer(provider, (), query)).encode())
            elif reply.kind == "flood":
                _flood(self, reply.size)
            else:
                self._send(200, _answer(provider, reply.places, query))

        def _send(self, status: int, body: Any, headers: tuple[tuple[str, str], ...] = ()) -> None:
            data = json.dumps(body, ensure_ascii=False).encode("utf-8")
            self._send_bytes(status, data, headers)

        def _send_bytes(
            self, status: int, data: bytes, headers: tuple[tuple[str, str], ...] = ()
        ) -> None:
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                for name, value in headers:
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass

        def log_message(self, format: str, *args: Any) -> None:
            """Keep test output clean."""

    return Handler


def _drip(handler: BaseHTTPRequestHandler, reply: Reply, data: bytes) -> None:
    data += b" " * (int(reply.seconds / reply.every) + 1)  # enough to drip all along
    head = (
        f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(data)}\r\nConnection: close\r\n\r\n"
    ).encode()
    stream = head + data if reply.drip_headers else data
    if not reply.drip_headers:
        handler.wfile.write(head)
    stop = time.monotonic() + reply.seconds
    try:
        while stream and time.monotonic() < stop:
            handler.wfile.write(stream[:1])
            handler.wfile.flush()
            stream = stream[1:]
            time.sleep(reply.every)
        handler.wfile.write(stream)
    except (BrokenPipeError, ConnectionResetError):
        pass
    handler.close_connection = True


def _flood(handler: BaseHTTPRequestHandler, size: int) -> None:
    chunk = b" " * 65536
    try:
        handler.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n")
        handler.wfile.write(b"Connection: close\r\n\r\n[")
        for _ in range(size // len(chunk)):
            handler.wfile.write(chunk)
        handler.wfile.write(b"]")
    except (BrokenPipeError, ConnectionResetError):
        pass
    handler.close_connection = True


def _query_text(provider: str, params: dict[str, str]) -> str:
    if provider == "nominatim":
        return params.get("q", "")
    if provider == "arcgis":
        return params.get("singleLine", "")
    if provider == "tianditu":
        return json.loads(params.get("ds", "{}")).get("keyWord", "")
    if provider == "tianditu_poi":
        return json.loads(params.get("postStr", "{}")).get("keyWord", "")
    if provider == "amap_poi":
        return params.get("keywords", "")
    return params.get("address", "")


def _answer(provider: str, places: tuple[Place, ...], query: str) -> Any:
    if provider == "nominatim":
        return [_nominatim(i, p) for i, p in enumerate(places)]
    if provider == "baidu":
        if not places:  # what Baidu really sends for an unknown address
            return {"status": 1, "msg": "Internal Service Error:无相关结果", "results": []}
        p = places[0]
        result = {
            "location": {"lng": p.lon, "lat": p.lat},
            "precise": 1,
            "confidence": 50,
            "comprehension": 100,
            "level": p.level or "村庄",
        }
        return {"status": 0, "result": result}
    if provider == "arcgis":
        return {
            "spatialReference": {"wkid": 4326, "latestWkid": 4326},
            "candidates": [_arcgis(p) for p in places],
        }
    if provider == "amap_poi":
        return {
            "status": "1",
            "count": str(len(places)),
            "info": "OK",
            "infocode": "10000",
            "suggestion": {"keywords": [], "cities": []},
            "pois": [_amap_poi(i, p) for i, p in enumerate(places)],
        }
    if provider == "tianditu_poi":
        return {
            "resultType": 1,
            "count": len(places),
            "keyWord": query,
            "pois": [_tianditu_poi(i, p) for i, p in enumerate(places)],
            "status": {"infocode": 1000, "cndesc": "服务正常"},
        }
    if provider == "amap":
        return {
            "status": "1",
            "info": "OK",
            "infocode": "10000",
            "count": str(len(places)),
            "geocodes": [_amap(p) for p in places],
        }
    if not places:
        return {"status": "101", "msg": "结果为空", "searchVersion": "6.4.0V"}
    p = places[0]
    location = {"lon": p.lon, "lat": p.lat, "level": p.level or "地名地址", "score": 100}
    return {"location": {**location, "keyWord": query}, "status": "0", "msg": "ok"}


def _nominatim(i: int, p: Place) -> dict[str, Any]:
    d = 0.005  # a village-sized box, about 1 km across
    kind = p.level or "village"
    return {
        "place_id": 1000 + i,
        "licence": "Data © OpenStreetMap contributors, ODbL 1.0. http://osm.org/copyright",
        "osm_type": "node",
        "osm_id": 5000 + i,
        "lat": f"{p.lat:.7f}",
        "lon": f"{p.lon:.7f}",
        "class": "place",
        "type": kind,
        "place_rank": 19,
        "importance": 0.2,
        "addresstype": kind,
        "name": p.label,
        "display_name": p.label,
        "boundingbox": [
            f"{p.lat - d:.7f}",
            f"{p.lat + d:.7f}",
            f"{p.lon - d:.7f}",
            f"{p.lon + d:.7f}",
        ],
    }


def _arcgis(p: Place) -> dict[str, Any]:
    d = 0.005
    return {
        "address": p.label,
        "location": {"x": p.lon, "y": p.lat},
        "score": 100,
        "attributes": {"Addr_type": p.level or "POI"},
        "extent": {"xmin": p.lon - d, "ymin": p.lat - d, "xmax": p.lon + d, "ymax": p.lat + d},
    }


def _amap(p: Place) -> dict[str, Any]:
    return {
        "formatted_address": p.label,
        "country": "中国",
        "province": "上海市",
        "citycode": "021",
        "city": "上海市",
        "district": "宝山区",
        "township": [],
        "neighborhood": {"name": [], "type": []},
        "building": {"name": [], "type": []},
        "adcode": "310113",
        "street": [],
        "number": [],
        "location": f"{p.lon:.6f},{p.lat:.6f}",
        "level": p.level or "村庄",
    }


def _amap_poi(i: int, p: Place) -> dict[str, Any]:
    return {
        "id": f"B0FFTEST{i:02d}",
        "parent": [],
        "name": p.label,
        "type": p.level or "科教文化服务;学校;小学",
        "typecode": "141203",
        "biz_type": [],
        "address": "罗店镇某路1号",
        "location": f"{p.lon:.6f},{p.lat:.6f}",
        "tel": [],
        "distance": [],
        "pname": "上海市",
        "cityname": "上海市",
        "adname": "宝山区",
        "adcode": "310113",
    }


def _tianditu_poi(i: int, p: Place) -> dict[str, Any]:
    return {
        "name": p.label,
        "phone": "",
        "address": "罗店镇某路1号",
        "lonlat": f"{p.lon:.6f},{p.lat:.6f}",
        "poiType": 101,
        "eaddress": "",
        "ename": "",
        "hotPointID": f"TDT{i:04d}",
        "province": "上海市",
        "provinceCode": "156310000",
        "city": "上海市",
        "cityCode": "156310000",
        "county": "宝山区",
        "countyCode": "156310113",
        "source": "0",
        "typeCode": "141203",
        "typeName": p.level or "小学",
    }


def _bad_key(provider: str) -> tuple[int, Any]:
    provider = provider.removesuffix("_poi")
    if provider == "amap":
        return 200, {"status": "0", "info": "INVALID_USER_KEY", "infocode": "10001"}
    if provider == "baidu":
        return 200, {"status": 200, "message": "APP不存在，AK有误请检查再重试"}
    if provider == "tianditu":
        return 403, {"code": 1, "msg": "非法key", "resolve": "请到API控制台获取合法key"}
    if provider == "arcgis":
        return 200, {"error": {"code": 498, "message": "Invalid Token", "details": []}}
    return 403, {"error": "access blocked"}  # Nominatim has no key; it blocks by policy
