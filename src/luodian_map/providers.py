"""Online geocoders: the last step of the chain, used only when the user turns them on.

Five providers sit behind one small wrapper, :class:`OnlineGeocoder`, and so do the
two POI searches (:data:`PLACE_SEARCHES`: AMap place/text, Tianditu v2 search) that
``luodian-map places fetch`` uses. Nominatim, Baidu and
ArcGIS are geopy's own clients; AMap (高德) and Tianditu (天地图) have no geopy client, so
:class:`Amap` and :class:`Tianditu` are written here in geopy's shape (build the URL, one
``_call_geocoder``, parse into :class:`~geopy.location.Location`, map the provider's error
codes onto geopy's exceptions) so that everything above them treats all five alike.

The wrapper owns what geopy leaves to its caller: the persistent cache (a hit costs no
request and no rate-limit wait), the rate limit, bounded exponential back-off on timeouts,
429 and 5xx, conversion of GCJ-02 / BD-09 answers to WGS-84, and the district check —
光明村 and 王家村 exist all over China, so any answer outside the district is rejected
and logged, however confident the provider is, and so is a cached one.

No reply is trusted either: every client reads through :class:`BoundedAdapter` (the
timeout is a deadline for the whole request, at most :data:`MAX_REPLY_BYTES` are read) and
parses through a guard, so a reply of the wrong shape is an :class:`UnusableReply` and one
error line naming the provider, never a traceback.

How far an answer may be from the real place (``uncertainty_m``) comes from what the
provider says about its own answer; see :func:`answer_uncertainty`.
"""

from __future__ import annotations

import hashlib
import http.client
import io
import json
import logging
import math
import os
import re
import socket
import sys
import time
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import partial
from types import TracebackType
from typing import Any
from urllib.parse import urlencode

import numpy as np
import shapely
from geopy.adapters import AdapterHTTPError, URLLibAdapter
from geopy.exc import (
    GeocoderAuthenticationFailure,
    GeocoderInsufficientPrivileges,
    GeocoderParseError,
    GeocoderQueryError,
    GeocoderQuotaExceeded,
    GeocoderRateLimited,
    GeocoderServiceError,
    GeocoderTimedOut,
    GeocoderUnavailable,
    GeopyError,
)
from geopy.extra.rate_limiter import RateLimiter
from geopy.geocoders import ArcGIS, BaiduV3, Nominatim
from geopy.geocoders.base import DEFAULT_SENTINEL, Geocoder
from geopy.location import Location
from geopy.point import Point
from shapely.geometry.base import BaseGeometry
from tqdm import tqdm

from . import __version__
from .cache import NO_RESULT, OTHER_NAME, OUTSIDE_DISTRICT, CachedAnswer, GeocodeCache
from .categories import PROVIDER_NAMES
from .crs import convert, normalise_crs_name
from .errors import GeocodingError

__all__ = [
    "MAX_REPLY_BYTES",
    "PLACE_SEARCHES",
    "PROVIDERS",
    "Amap",
    "AmapPlaceSearch",
    "BoundedAdapter",
    "Candidate",
    "OnlineGeocoder",
    "Tianditu",
    "TiandituPlaceSearch",
    "UnusableReply",
    "answer_uncertainty",
    "city_hint",
    "make_provider",
    "with_context",
]

logger = logging.getLogger("luodian_map.geocode")

DEFAULT_TIMEOUT_S = 5.0
USER_AGENT = f"luodian-map/{__version__}"
# Below this many names a progress bar is more noise than help.
PROGRESS_MIN_NAMES = 10
# Suffixes that end an administrative unit in a Chinese address (上海市|宝山区|罗店镇).
_ADMIN_ENDINGS = "省市区县镇乡"


# --------------------------------------------------------------------------------------
# what a server may send: a deadline per request, a cap on the reply, defensive parsing
# --------------------------------------------------------------------------------------

# The largest reply read, in bytes. A geocoding answer is a few kB (a POI page of 20
# places about 15 kB); anything near this is not an answer, and is not read further.
MAX_REPLY_BYTES = 4 * 1024 * 1024
_READ_CHUNK = 64 * 1024
# What a reply of the wrong shape raises while it is read into places.
_SHAPE_ERRORS = (TypeError, ValueError, KeyError, AttributeError, IndexError)


class UnusableReply(GeocoderParseError):
    """A reply that is too large, not JSON, or not in the shape the service documents."""


class _DeadlineSocket:
    """A connected socket whose every read waits at most until one deadline.

    A socket timeout bounds each read, so a server sending one byte per second holds a
    request for ever; here each read may only use the time the request has left.
    """

    def __init__(self, sock: socket.socket, deadline: float) -> None:
        self._sock = sock
        self._deadline = deadline

    def recv_into(self, buffer: Any, nbytes: int = 0, flags: int = 0) -> int:
        left = self._deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("timed out")
        self._sock.settimeout(left)
        return self._sock.recv_into(buffer, nbytes, flags)

    def makefile(self, mode: str = "rb", *args: Any, **kwargs: Any) -> io.BufferedReader:
        # http.client reads the status line, the headers and the body through this file
        if mode != "rb":
            raise ValueError(f"mode {mode!r}: only 'rb' is used by http.client")
        raw = socket.SocketIO(self, "rb")  # type: ignore[arg-type]
        self._sock._io_refs += 1  # type: ignore[attr-defined]  # as socket.makefile does
        return io.BufferedReader(raw)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


class _DeadlineHTTPConnection(http.client.HTTPConnection):
    """An HTTP connection whose ``timeout`` is a deadline for the whole request."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        seconds = self.timeout if isinstance(self.timeout, int | float) else DEFAULT_TIMEOUT_S
        self._deadline = time.monotonic() + seconds

    def connect(self) -> None:
        self.timeout = max(self._deadline - time.monotonic(), 0.001)
        super().connect()
        self.sock = _DeadlineSocket(self.sock, self._deadline)


class _DeadlineHTTPSConnection(_DeadlineHTTPConnection, http.client.HTTPSConnection):
    """The same over TLS (the socket is wrapped once it is encrypted)."""


class _DeadlineHTTPHandler(urllib.request.HTTPHandler):
    def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(_DeadlineHTTPConnection, req)


class _DeadlineHTTPSHandler(urllib.request.HTTPSHandler):
    def __init__(self, context: Any) -> None:
        super().__init__(context=context)
        self._ssl_context = context

    def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(_DeadlineHTTPSConnection, req, context=self._ssl_context)


class BoundedAdapter(URLLibAdapter):
    """geopy's urllib adapter, made safe against what a server may send.

    - ``timeout`` is a deadline for the whole request (connecting, headers and body), not
      for each read, so a server that drips its reply cannot hold a run;
    - at most :data:`MAX_REPLY_BYTES` are read; a larger reply is refused unread;
    - a reply that is not JSON, nests too deeply or holds ``NaN`` is an
      :class:`UnusableReply`, not a traceback.

    Pass it as ``adapter_factory`` to any geopy geocoder (geopy's documented extension
    point). Like geopy's, it honours ``proxies`` given as a dict, or the environment's.
    """

    def __init__(self, *, proxies: Any, ssl_context: Any) -> None:
        super().__init__(proxies=proxies, ssl_context=ssl_context)
        opener = urllib.request.build_opener(
            _DeadlineHTTPHandler(),
            _DeadlineHTTPSHandler(ssl_context),
            urllib.request.ProxyHandler(proxies if isinstance(proxies, dict) else None),
        )
        self.urlopen = opener.open

    def get_json(self, url: str, *, timeout: float, headers: dict[str, str]) -> Any:
        text = self.get_text(url, timeout=timeout, headers=headers)
        try:
            return json.loads(text, parse_constant=_no_constant)
        except RecursionError:
            raise UnusableReply("JSON nested too deeply") from None
        except ValueError as exc:
            raise UnusableReply(f"not JSON ({_one_line(exc)})") from None

    def _decode_page(self, page: Any) -> str:
        try:
            length = page.headers.get("Content-Length", "")
            if length.isdigit() and int(length) > MAX_REPLY_BYTES:
                raise UnusableReply(f"{_size(int(length))} announced, more than {_size()}")
            body = bytearray()
            while chunk := page.read(_READ_CHUNK):
                body += chunk
                if len(body) > MAX_REPLY_BYTES:
                    raise UnusableReply(f"more than {_size()}; not read further")
        except TimeoutError:
            raise GeocoderTimedOut("Service timed out") from None
        except (OSError, http.client.HTTPException) as exc:  # e.g. the connection dropped
            raise GeocoderUnavailable(f"reply cut short ({_one_line(exc)})") from None
        finally:
            page.close()
        encoding = page.headers.get_content_charset() or "utf-8"
        try:
            return body.decode(encoding)
        except (LookupError, ValueError):
            raise UnusableReply(f"not {encoding} text") from None


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _size(n: int = MAX_REPLY_BYTES) -> str:
    return f"{n / 2**20:.3g} MiB"


class _Guarded(Geocoder):
    """A geocoder whose parsing of a reply of the wrong shape raises :class:`UnusableReply`.

    Each client reads a reply into places with ``reply["location"]["lat"]`` and the like;
    a reply of another shape (``{"foo": [1, 2, 3]}``, ``"NaN"`` coordinates, a list where
    a dict belongs) would raise whatever Python raises there.
    """

    def _call_geocoder(self, url: str, callback: Callable[[Any], Any], **kwargs: Any) -> Any:
        def parse(page: Any) -> Any:
            try:
                return callback(page)
            except _SHAPE_ERRORS as exc:
                raise UnusableReply(_shape_error(exc)) from exc

        return super()._call_geocoder(url, parse, **kwargs)


def _shape_error(exc: BaseException) -> str:
    return f"not in the documented shape ({type(exc).__name__}: {_one_line(exc)})"


class _Nominatim(_Guarded, Nominatim):
    """geopy's Nominatim, guarded; its answer is a JSON array (or an error object)."""

    def _parse_json(self, places: Any, exactly_one: bool) -> Any:
        if not isinstance(places, list) and not (isinstance(places, dict) and "error" in places):
            raise TypeError(f"a JSON array was expected, not {type(places).__name__}")
        return super()._parse_json(places, exactly_one)


class _ArcGIS(_Guarded, ArcGIS):
    """geopy's ArcGIS, guarded."""


# --------------------------------------------------------------------------------------
# geopy-style clients for the two providers geopy lacks
# --------------------------------------------------------------------------------------

# AMap infocodes (https://lbs.amap.com/api/webservice/guide/tools/info), grouped by what
# the caller should do about them.
_AMAP_AUTH = {"10001", "10002", "10005", "10006", "10007", "10008", "10009", "10013"}
_AMAP_PRIVILEGES = {"10012"}
_AMAP_QUOTA = {"10003", "10010", "10029", "10044", "10045"}
_AMAP_RATE = {"10004", "10014", "10015", "10019", "10020", "10021"}
_AMAP_BUSY = {"10016", "10017"}
_AMAP_QUERY = {"20000", "20001", "20002", "20011", "20012"}


class _KeyedGeocoder(_Guarded):
    """A geopy geocoder of a Chinese web service: an API key, a host and one path."""

    api_path = ""
    default_domain = ""

    def __init__(
        self,
        api_key: str,
        *,
        domain: str | None = None,
        scheme: str | None = None,
        timeout: Any = DEFAULT_SENTINEL,
        proxies: Any = DEFAULT_SENTINEL,
        user_agent: str | None = None,
        ssl_context: Any = DEFAULT_SENTINEL,
        adapter_factory: Any = None,
    ) -> None:
        super().__init__(
            scheme=scheme,
            timeout=timeout,
            proxies=proxies,
            user_agent=user_agent,
            ssl_context=ssl_context,
            adapter_factory=adapter_factory,
        )
        self.api_key = api_key
        self.domain = (domain or self.default_domain).strip("/")
        self.api = f"{self.scheme}://{self.domain}{self.api_path}"


class Amap(_KeyedGeocoder):
    """AMap (高德) Web Service geocoding; coordinates come back in GCJ-02.

    Documentation at https://lbs.amap.com/api/webservice/guide/api/georegeo
    """

    api_path = "/v3/geocode/geo"
    default_domain = "restapi.amap.com"

    def geocode(
        self,
        query: str,
        *,
        exactly_one: bool = True,
        city: str | None = None,
        timeout: Any = DEFAULT_SENTINEL,
    ) -> Location | list[Location] | None:
        """Geocode ``query``; ``city`` (name, citycode or adcode) narrows the search."""
        params = {"key": self.api_key, "address": query, "output": "JSON"}
        if city:
            params["city"] = city
        url = f"{self.api}?{urlencode(params)}"
        callback = partial(self._parse_json, exactly_one=exactly_one)
        return self._call_geocoder(url, callback, timeout=timeout)

    def _parse_json(
        self, page: dict[str, Any], exactly_one: bool
    ) -> Location | list[Location] | None:
        if str(page.get("status")) != "1":
            _raise_amap_error(page)
        places = [
            Location(place.get("formatted_address") or "", _amap_point(place), place)
            for place in page.get("geocodes") or []
            if isinstance(place.get("location"), str) and "," in place["location"]
        ]
        if not places:
            return None
        return places[0] if exactly_one else places


def _amap_point(place: dict[str, Any]) -> tuple[float, float]:
    lon, lat = (float(v) for v in place["location"].split(",")[:2])
    return lat, lon


def _raise_amap_error(page: dict[str, Any]) -> None:
    code = str(page.get("infocode", ""))
    message = f"{page.get('info', 'error')} (infocode {code})"
    if code in _AMAP_AUTH:
        raise GeocoderAuthenticationFailure(message)
    if code in _AMAP_PRIVILEGES:
        raise GeocoderInsufficientPrivileges(message)
    if code in _AMAP_RATE:
        raise GeocoderRateLimited(message)
    if code in _AMAP_QUOTA:
        raise GeocoderQuotaExceeded(message)
    if code in _AMAP_BUSY:
        raise GeocoderUnavailable(message)
    if code in _AMAP_QUERY:
        raise GeocoderQueryError(message)
    raise GeocoderServiceError(message)


class Tianditu(_KeyedGeocoder):
    """Tianditu (天地图) geocoder; coordinates come back in CGCS2000 (≈ WGS-84).

    Documentation at http://lbs.tianditu.gov.cn/server/geocodinginterface.html
    """

    api_path = "/geocoder"
    default_domain = "api.tianditu.gov.cn"

    def geocode(
        self,
        query: str,
        *,
        exactly_one: bool = True,
        timeout: Any = DEFAULT_SENTINEL,
    ) -> Location | list[Location] | None:
        """Geocode ``query``; the service answers with at most one place."""
        ds = json.dumps({"keyWord": query}, ensure_ascii=False)
        url = f"{self.api}?{urlencode({'ds': ds, 'tk': self.api_key})}"
        callback = partial(self._parse_json, exactly_one=exactly_one)
        return self._call_geocoder(url, callback, timeout=timeout)

    def _parse_json(
        self, page: dict[str, Any], exactly_one: bool
    ) -> Location | list[Location] | None:
        status = str(page.get("status"))
        if status == "101":  # documented "结果为空"
            return None
        if status != "0":
            raise GeocoderServiceError(f"{page.get('msg', 'error')} (status {status})")
        place = page.get("location") or {}
        if place.get("lon") in (None, "") or place.get("lat") in (None, ""):
            return None
        label = place.get("keyWord") or ""
        location = Location(label, (float(place["lat"]), float(place["lon"])), place)
        return location if exactly_one else [location]

    def _geocoder_exception_handler(self, error: Exception) -> None:
        # A bad or wrong-type key is HTTP 403 with {"code": 1, "msg": "非法key", ...}.
        if isinstance(error, AdapterHTTPError) and error.status_code == 403:
            try:
                body = json.loads(error.text or "")
            except (ValueError, RecursionError):
                return
            if isinstance(body, dict) and "msg" in body:
                raise GeocoderAuthenticationFailure(
                    f"{body['msg']} (code {body.get('code')})"
                ) from error


class AmapPlaceSearch(Amap):
    """AMap (高德) Web Service keyword search for POIs; coordinates in GCJ-02.

    ``city`` is an adcode (宝山区: 310113) and the search is limited to it. One page of
    up to 20 POIs comes back, in AMap's order of relevance. Documentation at
    https://lbs.amap.com/api/webservice/guide/api/search
    """

    api_path = "/v3/place/text"

    def geocode(
        self,
        query: str,
        *,
        exactly_one: bool = False,
        city: str | None = None,
        timeout: Any = DEFAULT_SENTINEL,
    ) -> Location | list[Location] | None:
        """POIs matching ``query`` in the area ``city``; a Location's address is the POI name."""
        params = {"key": self.api_key, "keywords": query, "offset": "20", "page": "1",
                  "extensions": "base", "output": "JSON"}  # fmt: skip
        if city:
            params.update(city=city, citylimit="true")
        url = f"{self.api}?{urlencode(params)}"
        callback = partial(self._parse_json, exactly_one=exactly_one)
        return self._call_geocoder(url, callback, timeout=timeout)

    def _parse_json(
        self, page: dict[str, Any], exactly_one: bool
    ) -> Location | list[Location] | None:
        if str(page.get("status")) != "1":
            _raise_amap_error(page)
        places = [
            Location(str(poi.get("name") or ""), _amap_point(poi), poi)
            for poi in page.get("pois") or []
            if isinstance(poi.get("location"), str) and "," in poi["location"]
        ]
        if not places:
            return None
        return places[0] if exactly_one else places


class TiandituPlaceSearch(Tianditu):
    """Tianditu (天地图) v2 search within one administrative area; CGCS2000 (≈ WGS-84).

    ``city`` is the area's adcode; the service wants it as a 9-digit national code
    (``156`` + adcode) in ``specify`` with ``queryType`` 12. Documentation at
    http://lbs.tianditu.gov.cn/server/search2.html
    """

    api_path = "/v2/search"

    def geocode(
        self,
        query: str,
        *,
        exactly_one: bool = False,
        city: str | None = None,
        timeout: Any = DEFAULT_SENTINEL,
    ) -> Location | list[Location] | None:
        """POIs matching ``query`` in the area ``city``; a Location's address is the POI name."""
        post = {"keyWord": query, "queryType": "12", "start": "0", "count": "20", "show": "2"}
        if city:
            post["specify"] = f"156{city}"
        post_str = json.dumps(post, ensure_ascii=False)
        url = f"{self.api}?{urlencode({'postStr': post_str, 'type': 'query', 'tk': self.api_key})}"
        callback = partial(self._parse_json, exactly_one=exactly_one)
        return self._call_geocoder(url, callback, timeout=timeout)

    def _parse_json(
        self, page: dict[str, Any], exactly_one: bool
    ) -> Location | list[Location] | None:
        status = page.get("status") or {}
        code = str(status.get("infocode", "")) if isinstance(status, dict) else str(status)
        if code != "1000":
            message = status.get("cndesc", "error") if isinstance(status, dict) else "error"
            raise GeocoderServiceError(f"{message} (infocode {code})")
        places = []
        for poi in page.get("pois") or []:
            parts = str(poi.get("lonlat") or "").replace(",", " ").split()
            if len(parts) == 2:
                lon, lat = (float(v) for v in parts)
                places.append(Location(str(poi.get("name") or ""), (lat, lon), poi))
        if not places:
            return None
        return places[0] if exactly_one else places


class _BaiduV3(_Guarded, BaiduV3):
    """geopy's BaiduV3 with a configurable host and "no result" read as no result.

    geopy hard-codes api.map.baidu.com, and it turns Baidu's answer for an unknown
    address (status 1, "无相关结果") into a server error, which would stop a whole run.
    """

    def __init__(self, api_key: str, *, domain: str = "api.map.baidu.com", **kwargs: Any):
        super().__init__(api_key, **kwargs)
        self.api = f"{self.scheme}://{domain}{self.api_path}"
        self.reverse_api = f"{self.scheme}://{domain}{self.reverse_path}"

    def _parse_json(self, page: dict[str, Any], exactly_one: bool = True) -> Any:
        if page.get("status") == 1 and "无相关结果" in str(page.get("msg", "")):
            return None
        return super()._parse_json(page, exactly_one=exactly_one)


# --------------------------------------------------------------------------------------
# the provider registry
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Spec:
    crs: str  # the datum the provider answers in
    env_key: str | None  # environment variable holding the API key
    min_delay_s: float  # default spacing of requests (provider policy or quota)
    many: bool  # ask for several candidates (so one outside the district is not fatal)
    persist: bool  # may answers be stored on disk (provider terms)


PROVIDERS: dict[str, _Spec] = dict(
    zip(
        PROVIDER_NAMES,
        (
            # Nominatim usage policy: at most 1 request per second, and cache the results.
            _Spec("WGS-84", None, 1.0, many=True, persist=True),
            # Baidu / AMap / Tianditu personal keys allow a few queries per second.
            _Spec("BD-09", "BAIDU_MAP_AK", 0.4, many=False, persist=True),
            # ArcGIS forbids storing results unless the request is authenticated and sets
            # forStorage=true, which geopy's anonymous client does not: keep them in memory.
            _Spec("WGS-84", None, 0.25, many=True, persist=False),
            _Spec("GCJ-02", "AMAP_KEY", 0.4, many=True, persist=True),  # amap
            _Spec("CGCS2000", "TIANDITU_KEY", 0.4, many=False, persist=True),  # tianditu
        ),
        strict=True,
    )
)
PLACE_SEARCHES: dict[str, _Spec] = {
    # POI searches: several candidates each, judged by name as well as by place.
    "amap_poi": _Spec("GCJ-02", "AMAP_KEY", 0.4, many=True, persist=True),
    "tianditu_poi": _Spec("CGCS2000", "TIANDITU_KEY", 0.4, many=True, persist=True),
}


def _spec(name: str) -> _Spec:
    try:
        return PROVIDERS[name] if name in PROVIDERS else PLACE_SEARCHES[name]
    except KeyError:
        valid = ", ".join(PROVIDERS)
        raise GeocodingError(f"unknown geocoding provider {name!r}; use one of: {valid}") from None


def make_provider(
    name: str,
    *,
    domain: str | None = None,
    scheme: str | None = None,
    timeout: float = DEFAULT_TIMEOUT_S,
    user_agent: str = USER_AGENT,
) -> Geocoder:
    """Build the geopy client for ``name``, with its API key read from the environment.

    Every client reads through :class:`BoundedAdapter` (geopy's urllib adapter with a
    deadline and a size cap; the requests adapter would silently retry read timeouts inside
    urllib3, multiplying our own bounded retries and back-off), and every reply of the
    wrong shape is an :class:`UnusableReply`.
    """
    spec = _spec(name)
    key = ""
    if spec.env_key:
        key = os.environ.get(spec.env_key, "").strip()
        if not key:
            raise GeocodingError(f"{name}: set {spec.env_key} to use this provider")
    common: dict[str, Any] = {
        "scheme": scheme,
        "timeout": timeout,
        "user_agent": user_agent,
        "adapter_factory": BoundedAdapter,
    }
    if domain:
        common["domain"] = domain
    if name == "nominatim":
        return _Nominatim(**common)
    if name == "arcgis":
        return _ArcGIS(**common)
    if name == "baidu":
        return _BaiduV3(key, **common)
    if name == "amap":
        return Amap(key, **common)
    if name == "amap_poi":
        return AmapPlaceSearch(key, **common)
    if name == "tianditu_poi":
        return TiandituPlaceSearch(key, **common)
    return Tianditu(key, **common)


# --------------------------------------------------------------------------------------
# how far off an answer may be
# --------------------------------------------------------------------------------------

# Match levels named by AMap, Baidu and Tianditu, in metres: roughly the radius around
# the returned point within which the named place lies. Sized for Luodian (≈46 km², 20
# villages, roads several km long): a point for a site is its representative point, a
# point for a road or a village is somewhere on or in it.
_CN_LEVEL_M: dict[str, float] = {
    # an address or a unit within a building: the door
    "门牌号": 50, "门址": 50, "单元号": 50, "楼层": 50, "房间": 50,
    "道路交叉路口": 100, "交叉路口": 100,
    # a point of interest: schools, clinics, offices, stations span up to ~300 m
    "兴趣点": 150, "公交地铁站点": 150, "公交站台、地铁站": 150, "商务大厦": 150,
    "政府机构": 150, "教育": 150, "医疗": 150, "生活服务": 150, "休闲娱乐": 150,
    "餐饮": 150, "宾馆": 150, "购物": 150, "金融": 150, "汽车服务": 150, "加油站": 150,
    "停车场": 150, "火车站": 150, "长途汽车站": 150, "桥": 150, "收费站": 150,
    # estates, lanes and large sites (parks, industrial parks, scenic spots)
    "地产小区": 300, "住宅区": 300, "小巷": 300,
    "绿地": 500, "旅游景点": 500, "工业园区": 500, "港口": 500, "码头": 500,
    # whole roads, villages and business districts
    "道路": 1000, "村庄": 1000, "热点商圈": 1000, "商圈": 1000,
    # Tianditu's usual level: a gazetteer name or address of unstated kind
    "地名地址": 1000,
    "开发区": 2000,
    # administrative units: the unit's centre, off by up to its radius
    "乡镇": 4000, "区县": 15000, "市": 50000, "城市": 50000, "省": 50000, "省份": 50000,
    "国家": 1_000_000,
}  # fmt: skip
_UNKNOWN_LEVEL_M = 2000.0

# A POI search answers with the place's own point (its door, its centre), so the radius
# is the size of such a place: words of the POI type (AMap "科教文化服务;学校;小学",
# Tianditu "小学"), first match wins; a shop, an office or a building otherwise.
_POI_TYPE_M = (
    (("村庄", "自然村", "行政村", "道路", "街道", "河流", "乡镇", "开发区"), 1000.0),
    (("产业园", "工业园", "园区", "风景", "景区", "景点", "码头", "港口"), 500.0),
    (("公园", "广场", "住宅", "小区", "社区", "体育场馆", "高尔夫"), 300.0),
    (("学校", "小学", "中学", "高中", "幼儿园", "大学", "医院", "养老", "福利院",
      "地铁站", "火车站", "监狱"), 100.0),
)  # fmt: skip
_POI_DEFAULT_M = 50.0

# Baidu documents its ``confidence`` as the absolute error of the point:
# 100 → <20 m, ≥90 → <50 m, …, ≥20 → <10 km.
_BAIDU_CONFIDENCE_M = (
    (100, 20), (90, 50), (80, 100), (75, 200), (70, 300), (60, 500), (50, 1000),
    (40, 2000), (30, 5000), (25, 8000), (20, 10000),
)  # fmt: skip

# ArcGIS Addr_type (the match kind) in metres.
_ARCGIS_ADDR_TYPE_M: dict[str, float] = {
    "Subaddress": 30, "PointAddress": 30, "LatLong": 10, "XY-XY": 10, "YX-YX": 10,
    "StreetAddress": 100, "StreetAddressExt": 100, "StreetInt": 100, "StreetMidBlock": 100,
    "DistanceMarker": 100, "POI": 150, "StreetName": 1000,
    "Locality": 3000, "PostalLoc": 3000, "PostalExt": 3000, "Postal": 3000,
}  # fmt: skip
_MIN_EXTENT_M = 30.0


def answer_uncertainty(provider: str, raw: dict[str, Any]) -> tuple[str | None, float]:
    """The provider's own match level and how far (m) the point may be from the place.

    - AMap, Tianditu: from the match level (``_CN_LEVEL_M``); unknown levels 2 km.
    - Baidu: the larger of its documented ``confidence`` error and its level's size, since
      a 20 m-accurate point for a village still says nothing about where in the village.
    - Nominatim: half the diagonal of the result's bounding box (OSM's extent of the
      place), at least 30 m.
    - ArcGIS: from ``Addr_type``; otherwise half the diagonal of the candidate's extent.
    - POI searches (``amap_poi``, ``tianditu_poi``): from the POI type (``_POI_TYPE_M``).
    """
    if provider in PLACE_SEARCHES:
        level = _text(raw.get("type")) or _text(raw.get("typeName"))
        size = next((m for words, m in _POI_TYPE_M if any(w in (level or "") for w in words)),
                    _POI_DEFAULT_M)  # fmt: skip
        return level, size
    if provider == "nominatim":
        level = _text(raw.get("addresstype")) or _text(raw.get("type"))
        box = raw.get("boundingbox")
        if box and len(box) == 4:
            south, north, west, east = (float(v) for v in box)
            return level, max(_MIN_EXTENT_M, _half_diagonal_m(west, south, east, north))
        return level, _UNKNOWN_LEVEL_M
    if provider == "arcgis":
        level = _text((raw.get("attributes") or {}).get("Addr_type"))
        if level in _ARCGIS_ADDR_TYPE_M:
            return level, float(_ARCGIS_ADDR_TYPE_M[level])
        ext = raw.get("extent")
        if ext:
            half = _half_diagonal_m(ext["xmin"], ext["ymin"], ext["xmax"], ext["ymax"])
            return level, max(_MIN_EXTENT_M, half)
        return level, _UNKNOWN_LEVEL_M
    level = _text(raw.get("level"))
    # a float, as the cache gives it back: a cached answer must not write 150.0 for 150
    level_m = float(_CN_LEVEL_M.get(level, _UNKNOWN_LEVEL_M)) if level else _UNKNOWN_LEVEL_M
    if provider == "baidu":
        confidence = raw.get("confidence")
        if isinstance(confidence, int | float) and not isinstance(confidence, bool):
            for threshold, metres in _BAIDU_CONFIDENCE_M:
                if confidence >= threshold:
                    return level, (max(float(metres), level_m) if level else float(metres))
    return level, level_m


def _text(value: Any) -> str | None:
    """A level or type the provider named: a non-empty string, else None (AMap sends [])."""
    return value if isinstance(value, str) and value else None


def _half_diagonal_m(west: float, south: float, east: float, north: float) -> float:
    """Haversine half-diagonal; plenty accurate for a search-result box."""
    radius = 6_371_008.8
    phi1, phi2 = math.radians(south), math.radians(north)
    d_phi, d_lam = phi2 - phi1, math.radians(east - west)
    a = math.sin(d_phi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(d_lam / 2) ** 2
    return radius * math.asin(min(1.0, math.sqrt(a)))


# --------------------------------------------------------------------------------------
# the wrapper used by the geocoder chain
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Candidate:
    """A place an online provider found for a name, already in WGS-84 and in the district."""

    lon: float
    lat: float
    provider: str
    label: str  # the provider's own address or label for the place
    uncertainty_m: float
    level: str | None = None  # the provider's match level ("村庄", "POI", "village")
    query: str = ""  # the text sent, with context
    precision: str = "sourced"
    from_cache: bool = False  # answered from the persistent cache, not the network
    raw: dict[str, Any] | None = field(default=None, compare=False)  # the provider's answer


def city_hint(code: str | None) -> str | None:
    """The 6-digit adcode of a gazetteer's 12-digit district code, as AMap and Tianditu take
    it for the area to search ("310113000000" → "310113"); None for anything else."""
    if code is None or not re.fullmatch(r"\d{12}", code):
        return None
    return code[:6]


def with_context(name: str, context: str) -> str:
    """Prefix the administrative context once: "罗店镇光明村" → "上海市宝山区罗店镇光明村"."""
    name = name.strip()
    if not context or name.startswith(context):
        return name
    for cut in range(1, len(context)):
        # only overlaps that start at a unit boundary (…市|宝山区…), never mid-name
        if context[cut - 1] in _ADMIN_ENDINGS and name.startswith(context[cut:]):
            return context[:cut] + name
    return context + name


class OnlineGeocoder:
    """One online provider, made safe for a batch run over a town's place names.

    Parameters
    ----------
    provider
        One of :data:`PROVIDERS`.
    district
        The district polygon in WGS-84; every candidate outside it is rejected and logged.
    cache
        Persistent answers; a hit costs no request and no rate-limit wait.
    viewbox
        ``(min_lon, min_lat, max_lon, max_lat)`` WGS-84 box Nominatim is bounded to;
        defaults to the district's bounds.
    city
        The area hint of providers that take one (AMap, the POI searches): the district's
        adcode (see :func:`city_hint`); None searches the whole country, bounded only by the
        district check.
    min_delay_seconds
        Spacing of network requests; defaults to the provider's policy (1 s Nominatim).
    max_tries, backoff_seconds, max_backoff_seconds
        Timeouts, 429 and 5xx are retried up to ``max_tries`` requests in all, waiting
        ``backoff_seconds`` × 2ⁿ (or the server's Retry-After) up to the maximum.
    accept
        ``accept(name, location)``: whether a candidate inside the district is the place
        asked for (a POI search for 罗店医院 must not take a shop beside it).
    """

    def __init__(
        self,
        provider: str,
        *,
        district: BaseGeometry,
        cache: GeocodeCache | None = None,
        viewbox: tuple[float, float, float, float] | None = None,
        city: str | None = None,
        domain: str | None = None,
        scheme: str | None = None,
        timeout: float = DEFAULT_TIMEOUT_S,
        min_delay_seconds: float | None = None,
        max_tries: int = 3,
        backoff_seconds: float = 1.0,
        max_backoff_seconds: float = 30.0,
        accept: Callable[[str, Location], bool] | None = None,
    ) -> None:
        if max_tries < 1:
            raise ValueError("max_tries must be at least 1")
        self.provider = provider
        self._spec = _spec(provider)
        self.district = district
        shapely.prepare(district)
        self.cache = cache
        self.timeout = timeout
        self.max_tries = max_tries
        self.backoff_seconds = backoff_seconds
        self.max_backoff_seconds = max_backoff_seconds
        self._accept = accept
        self._crs = normalise_crs_name(self._spec.crs)
        self._geocoder = make_provider(provider, domain=domain, scheme=scheme, timeout=timeout)
        delay = self._spec.min_delay_s if min_delay_seconds is None else min_delay_seconds
        # The limiter wraps only the network call: cache hits never wait for a slot.
        # Its own retries are off; ours below back off exponentially and only on
        # errors worth retrying (a rejected key is not).
        self._limited: Callable[..., Any] = RateLimiter(
            self._geocoder.geocode,
            min_delay_seconds=delay,
            max_retries=0,
            error_wait_seconds=delay,
            swallow_exceptions=False,
        )
        bounds = viewbox or tuple(district.bounds)
        self._kwargs = self._query_kwargs(bounds, city)
        self._region = hashlib.sha1(
            f"{shapely.normalize(district).wkb_hex}|{bounds}|{city}".encode()
        ).hexdigest()[:16]
        self._memo: dict[str, Candidate | None] = {}

    def _query_kwargs(self, bounds: tuple[float, ...], city: str | None) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"exactly_one": not self._spec.many}
        if self.provider == "nominatim":
            west, south, east, north = bounds
            kwargs.update(
                viewbox=[Point(south, west), Point(north, east)],
                bounded=True,
                country_codes="cn",
                limit=5,
                language="zh-CN",
            )
        elif self.provider == "arcgis":
            kwargs["out_fields"] = "Addr_type"
        elif self.provider in ("amap", *PLACE_SEARCHES) and city:
            kwargs["city"] = city
        return kwargs

    # -- public -----------------------------------------------------------------------

    def geocode(self, name: str, *, context: str = "") -> Candidate | None:
        """The provider's place for ``name`` inside the district, or None.

        ``context`` is the administrative prefix of the place ("宝山区罗店镇"), sent once
        in front of the name (see :func:`with_context`).

        Raises :class:`GeocodingError` (one line) when the provider cannot be used: bad
        key, quota spent, or no answer after the bounded retries.
        """
        query = with_context(name, context)
        if query in self._memo:
            return self._memo[query]
        cache = self.cache if self._spec.persist else None
        if cache is not None:
            cached = cache.get(self.provider, query, region=self._region)
            if cached is not None and self._trusted(name, cached, cache):
                return self._from_cache(cached)
        locations = self._ask(query)
        candidate, chosen, reason = self._choose(name, query, locations)
        if cache is not None:
            cache.put(self._to_cache(query, candidate, chosen, reason))
        else:
            self._memo[query] = candidate
        return candidate

    def geocode_many(
        self, names: Iterable[str], *, context: str = ""
    ) -> dict[str, Candidate | None]:
        """Geocode each distinct name in order, with a progress bar on a terminal."""
        unique = list(dict.fromkeys(names))
        quiet = len(unique) < PROGRESS_MIN_NAMES or not sys.stderr.isatty()
        with tqdm(unique, desc=f"geocoding ({self.provider})", unit="name", disable=quiet) as bar:
            return {name: self.geocode(name, context=context) for name in bar}

    def close(self) -> None:
        self._geocoder.__exit__(None, None, None)

    def __enter__(self) -> OnlineGeocoder:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- network ------------------------------------------------------------------------

    def _ask(self, query: str) -> list[Location]:
        """One rate-limited request, retried with back-off; always a list of places."""
        attempt = 1
        while True:
            try:
                found = self._limited(query, **self._kwargs)
            except GeopyError as exc:
                reason, retry_after = self._transient(exc)
                if reason is None:
                    raise GeocodingError(self._fatal_message(exc)) from exc
                if attempt == self.max_tries:
                    raise GeocodingError(
                        f"{self.provider}: no answer after {self.max_tries} tries ({reason})"
                    ) from exc
                wait = max(self.backoff_seconds * 2 ** (attempt - 1), retry_after or 0.0)
                wait = min(wait, self.max_backoff_seconds)
                attempt += 1
                logger.info(
                    "%s: %s; retrying in %.2g s (try %d of %d)",
                    self.provider, reason, wait, attempt, self.max_tries,
                )  # fmt: skip
                time.sleep(wait)
                continue
            if found is None:
                return []
            return found if isinstance(found, list) else [found]

    def _transient(self, exc: GeopyError) -> tuple[str | None, float | None]:
        """Why a retry may help (None when it cannot) and the server's Retry-After."""
        status = exc.__cause__.status_code if isinstance(exc.__cause__, AdapterHTTPError) else None
        if isinstance(exc, GeocoderRateLimited):
            what = f"HTTP {status}" if status else _one_line(exc)
            return f"rate limited: {what}", exc.retry_after
        if isinstance(exc, GeocoderTimedOut):
            return (f"HTTP {status}" if status else f"timed out after {self.timeout:g} s"), None
        if isinstance(exc, GeocoderUnavailable):
            return f"unavailable: {_one_line(exc)}", None
        if isinstance(exc, GeocoderServiceError) and status is not None and status >= 500:
            return f"HTTP {status}", None
        return None, None

    def _fatal_message(self, exc: GeopyError) -> str:
        detail = _one_line(exc)
        if isinstance(exc, GeocoderAuthenticationFailure | GeocoderInsufficientPrivileges):
            hint = f"; check {self._spec.env_key}" if self._spec.env_key else ""
            return f"{self.provider}: the service refused the request ({detail}){hint}"
        if isinstance(exc, GeocoderQuotaExceeded):
            return f"{self.provider}: quota exceeded ({detail})"
        if isinstance(exc, UnusableReply):
            return f"{self.provider}: unusable reply: {detail}"
        return f"{self.provider}: {type(exc).__name__}: {detail}"

    # -- answers --------------------------------------------------------------------------

    def _choose(
        self, name: str, query: str, locations: list[Location]
    ) -> tuple[Candidate | None, Location | None, str | None]:
        """The first acceptable candidate inside the district, converted to WGS-84, its
        source, and why there is none (a reason of :mod:`~luodian_map.cache`)."""
        if not locations:
            return None, None, NO_RESULT
        lon, lat = convert(
            np.array([loc.longitude for loc in locations]),
            np.array([loc.latitude for loc in locations]),
            self._crs,
            "wgs84",
        )
        inside = shapely.intersects_xy(self.district, lon, lat)
        reason = OUTSIDE_DISTRICT
        for i, loc in enumerate(locations):
            if not inside[i]:
                logger.warning(
                    "%s: rejected %s → %r at %.6f, %.6f (WGS-84): outside the district",
                    self.provider, name, loc.address, lon[i], lat[i],
                )  # fmt: skip
                continue
            if self._accept is not None and not self._accept(name, loc):
                logger.info("%s: rejected %s → %r: another place", self.provider, name,
                            loc.address)  # fmt: skip
                reason = OTHER_NAME
                continue
            try:
                level, uncertainty = answer_uncertainty(self.provider, loc.raw)
                if not math.isfinite(uncertainty):
                    raise ValueError(f"the extent gives an uncertainty of {uncertainty} m")
            except _SHAPE_ERRORS as exc:
                raise GeocodingError(
                    f"{self.provider}: unusable reply: {_shape_error(exc)}"
                ) from exc
            candidate = Candidate(
                lon=float(lon[i]),
                lat=float(lat[i]),
                provider=self.provider,
                label=str(loc.address or ""),
                uncertainty_m=uncertainty,
                level=level,
                query=query,
                raw=loc.raw,
            )
            return candidate, loc, None
        return None, None, reason

    def _to_cache(
        self,
        query: str,
        candidate: Candidate | None,
        source: Location | None,
        reason: str | None,
    ) -> CachedAnswer:
        if candidate is None or source is None:
            return CachedAnswer.miss(
                self.provider, query, reason=reason or NO_RESULT, region=self._region
            )
        return CachedAnswer.hit(
            self.provider,
            query,
            lon=candidate.lon,
            lat=candidate.lat,
            label=candidate.label,
            crs=self._crs,
            level=candidate.level,
            uncertainty_m=candidate.uncertainty_m,
            raw=source.raw,
            region=self._region,
        )

    def _trusted(self, name: str, answer: CachedAnswer, cache: GeocodeCache) -> bool:
        """Whether a stored answer passes the checks of a fresh one (the district, the
        name); one that does not is rejected, and asked again."""
        if not answer.found:
            return True
        assert answer.lon is not None and answer.lat is not None  # a found answer has its point
        why = None
        if not shapely.intersects_xy(self.district, answer.lon, answer.lat):
            why = f"{answer.lon:.6f}, {answer.lat:.6f} is outside the district"
        elif self._accept is not None:
            location = Location(answer.label or "", (answer.lat, answer.lon), answer.raw or {})
            if not self._accept(name, location):
                why = f"{answer.label!r} is another place"
        if why is None:
            return True
        cache.reject(self.provider, answer.query, region=self._region, why=why)
        return False

    def _from_cache(self, answer: CachedAnswer) -> Candidate | None:
        if not answer.found:
            return None
        assert answer.lon is not None and answer.lat is not None  # a found answer has its point
        return Candidate(
            lon=float(answer.lon),
            lat=float(answer.lat),
            provider=self.provider,
            label=answer.label or "",
            uncertainty_m=float(answer.uncertainty_m or _UNKNOWN_LEVEL_M),
            level=answer.level,
            query=answer.query,
            from_cache=True,
            raw=answer.raw,
        )


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 200 else text[:199] + "…"
