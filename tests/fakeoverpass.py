"""A local stand-in for an Overpass API server, for tests that drive osmnx itself.

It answers ``GET /api/status`` in the plain-text form Overpass documents (osmnx reads the
fifth line for free slots) and ``POST /api/interpreter`` with an Overpass JSON document
(``{"version", "generator", "osm3s", "elements"}``), whatever the query: the test decides
the elements. Replies are scripted in order (the last one repeats), e.g. a 429 first.

:data:`LUODIAN` is the fixture: around 罗店镇 (121.31–121.38 E, 31.37–31.45 N).
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qsl

from fakegeo import _Server

STATUS = """Connected as: 2130706433
Current time: 2026-01-01T00:00:00Z
Announced endpoint: none
Rate limit: 2
2 slots available now.
Currently running queries (pid, space limit, time limit, start time):
"""


def _node(osm_id: int, lon: float, lat: float, **tags: str) -> dict[str, Any]:
    node: dict[str, Any] = {"type": "node", "id": osm_id, "lat": lat, "lon": lon}
    return {**node, "tags": tags} if tags else node


def _way(osm_id: int, nodes: list[int], **tags: str) -> dict[str, Any]:
    return {"type": "way", "id": osm_id, "nodes": nodes, "tags": tags}


def _relation(osm_id: int, outer: list[int], **tags: str) -> dict[str, Any]:
    members = [{"type": "way", "ref": ref, "role": "outer"} for ref in outer]
    return {"type": "relation", "id": osm_id, "members": members, "tags": tags}


# the coordinates of the fixture's nodes, by id (lon, lat)
NODES = {
    # 泽阳路, two ways meeting at 1002; an unnamed lane at 1004
    1001: (121.33, 31.4), 1002: (121.34, 31.401), 1003: (121.35, 31.402), 1004: (121.34, 31.405),
    # 马路河
    1011: (121.325, 31.43), 1012: (121.335, 31.428), 1013: (121.35, 31.431),
    # 罗店中学 (a closed way)
    1031: (121.336, 31.414), 1032: (121.339, 31.414), 1033: (121.339, 31.416),
    1034: (121.336, 31.416),
    # 美兰湖公园 (a closed way)
    1061: (121.345, 31.388), 1062: (121.352, 31.388), 1063: (121.352, 31.393),
    1064: (121.345, 31.393),
    # the town boundary: two outer ways making one ring
    1041: (121.312, 31.368), 1042: (121.378, 31.368), 1043: (121.378, 31.452),
    1044: (121.312, 31.452),
    # 外冈路, a road 10 km away in 嘉定区 (outside the town and its margin)
    1051: (121.2, 31.3), 1052: (121.21, 31.301),
}  # fmt: skip

ELEMENTS: list[dict[str, Any]] = [
    *(_node(i, lon, lat) for i, (lon, lat) in NODES.items()),
    _node(1021, 121.335, 31.44, place="village", name="光明村", alt_name="光明;光明村委会"),
    _node(1071, 121.338, 31.412, amenity="hospital", name="罗店医院", healthcare="hospital"),
    _node(1081, 121.205, 31.305, place="village", name="外冈村"),
    # inside the box the query asks for, but 3 km west of the outline: no place of the town
    _node(1091, 121.301, 31.362, place="village", name="外围村"),
    _way(101, [1001, 1002], highway="secondary", name="泽阳路", lanes="4"),
    _way(102, [1002, 1003], highway="secondary", name="泽阳路", lanes="2", oneway="no"),
    _way(103, [1002, 1004], highway="service"),
    _way(111, [1011, 1012, 1013], waterway="river", name="马路河", old_name="马路塘"),
    _way(121, [1031, 1032, 1033, 1034, 1031], amenity="school", name="罗店中学"),
    _way(161, [1061, 1062, 1063, 1064, 1061], leisure="park", name="美兰湖公园"),
    _way(131, [1051, 1052], highway="primary", name="外冈路"),
    _way(142, [1041, 1042, 1043]),
    _way(143, [1043, 1044, 1041]),
    _relation(141, [142, 143], type="boundary", boundary="administrative", admin_level="8",
              name="罗店镇", **{"name:zh": "罗店镇", "name:en": "Luodian"}),
    _relation(151, [142, 143], type="boundary", boundary="administrative", admin_level="6",
              name="宝山区"),
]  # fmt: skip
"""Overpass elements of the fixture: what ``out;`` returns after ``(._;>;);``."""


def document(elements: list[dict[str, Any]], remark: str | None = None) -> dict[str, Any]:
    """An Overpass JSON answer holding ``elements`` (and a remark, as a stopped query has)."""
    answer = {
        "version": 0.6,
        "generator": "Overpass API 0.7.62.1 084b4234",
        "osm3s": {
            "timestamp_osm_base": "2026-01-01T00:00:00Z",
            "copyright": "The data included in this document is from www.openstreetmap.org. "
            "The data is made available under ODbL.",
        },
        "elements": elements,
    }
    return answer if remark is None else {**answer, "remark": remark}


@dataclass(frozen=True)
class Reply:
    status: int = 200
    elements: tuple[dict[str, Any], ...] = ()
    headers: tuple[tuple[str, str], ...] = ()
    remark: str | None = None


def elements(items: list[dict[str, Any]] = ELEMENTS, *, remark: str | None = None) -> Reply:
    return Reply(200, tuple(items), remark=remark)


def http(status: int, *, retry_after: str | None = None) -> Reply:
    return Reply(status, headers=(("Retry-After", retry_after),) if retry_after else ())


class FakeOverpass:
    """``with FakeOverpass(http(429), elements()) as fake: ...fake.url...``."""

    def __init__(self, *replies: Reply) -> None:
        self.queries: list[str] = []
        self.status_requests = 0
        self._replies = list(replies) or [elements()]
        self._lock = threading.Lock()
        self._server = _Server(("127.0.0.1", 0), _handler_for(self))
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/api"

    def _next_reply(self, query: str) -> Reply:
        with self._lock:
            self.queries.append(query)
            return self._replies.pop(0) if len(self._replies) > 1 else self._replies[0]

    def __enter__(self) -> FakeOverpass:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def _handler_for(fake: FakeOverpass) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.rstrip("/") != "/api/status":
                self._send(404, b"not found", "text/plain")
                return
            with fake._lock:
                fake.status_requests += 1
            self._send(200, STATUS.encode(), "text/plain; charset=utf-8")

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", 0))
            form = dict(parse_qsl(self.rfile.read(length).decode("utf-8")))
            if self.path.rstrip("/") != "/api/interpreter" or "data" not in form:
                self._send(400, b"bad request", "text/plain")
                return
            reply = fake._next_reply(form["data"])
            if reply.status != 200:
                body = f"<html><body>HTTP {reply.status}</body></html>".encode()
                self._send(reply.status, body, "text/html", reply.headers)
                return
            data = json.dumps(
                document(list(reply.elements), reply.remark), ensure_ascii=False
            ).encode()
            self._send(200, data, "application/json")

        def _send(
            self, status: int, body: bytes, kind: str, headers: tuple[tuple[str, str], ...] = ()
        ) -> None:
            try:
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                for name, value in headers:
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass

        def log_message(self, format: str, *args: Any) -> None:
            """Keep test output clean."""

    return Handler
