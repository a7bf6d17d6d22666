"""Chinese map services as sourced places: ``luodian-map places fetch --source amap|tianditu``.

OpenStreetMap knows few of the places a town report names (schools, care homes, company
sites); AMap (高德) and Tianditu (天地图) know most of them as POIs. Each report name the
town's gazetteer cannot place better than a guess is searched once within the town's
district (its adcode), through the same geopy-style clients, rate limit, back-off and
SQLite cache as the online geocoders (:mod:`luodian_map.providers`). A POI is taken only
if it lies in the town (its outline widened by the outline's own uncertainty) and its name
is the report's name (exact, or a near spelling by the gazetteer's rules, once the
province, district and town are cut from its front): a search for 罗店医院 must not take
罗店医院停车场 or a pharmacy next door. AMap answers in GCJ-02 and is converted to WGS-84.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import geopandas as gpd
import shapely

from ..cache import GeocodeCache
from ..categories import CATEGORIES
from ..errors import InputError
from ..gazetteer import Gazetteer, same_place_name
from ..model import Item
from ..providers import DEFAULT_TIMEOUT_S, OnlineGeocoder, city_hint
from .sources import PLACE_COLUMNS, SOURCES_FOLDER, timestamp
from .town import TownArea, near_area

SERVICES = {
    "amap": {
        "search": "amap_poi",
        "url": "https://restapi.amap.com/v3/place/text",
        "attribution": "© 高德软件 AutoNavi (POI search, converted from GCJ-02 to WGS-84)",
        "licence": "AMap Web Service terms (https://lbs.amap.com/home/terms/)",
        "datum": "GCJ-02",
    },
    "tianditu": {
        "search": "tianditu_poi",
        "url": "https://api.tianditu.gov.cn/v2/search",
        "attribution": "© 国家地理信息公共服务平台 天地图 (POI search, CGCS2000)",
        "licence": "Tianditu service terms (https://www.tianditu.gov.cn/about/contact.html)",
        "datum": "CGCS2000",
    },
}
_ADMIN_END = re.compile(r"[省市区县镇乡]")
_TRAILING_QUALIFIER = re.compile(r"[(（][^()（）]*[)）]$")  # "罗店医院(南门)": a gate of it
_TAG_KEYS = ("name", "type", "typecode", "typeName", "address", "adname", "county", "pname",
             "cityname")  # fmt: skip


def fetch_poi(
    source: str,
    area: TownArea,
    items: Sequence[Item],
    *,
    timeout: float = DEFAULT_TIMEOUT_S,
    cache: str | Path | None = None,
    service_url: str | None = None,
    delay: float | None = None,
    max_tries: int = 3,
    now: datetime | None = None,
) -> tuple[gpd.GeoDataFrame, dict[str, Any]]:
    """POIs of AMap or Tianditu for the report names ``area`` cannot place yet.

    Parameters
    ----------
    source
        ``amap`` (key from ``AMAP_KEY``) or ``tianditu`` (``TIANDITU_KEY``).
    area
        The town; its gazetteer's district code limits the search.
    items
        Report items; see :func:`names_to_search` for which names are searched.
    timeout, max_tries
        Seconds per request; requests in all on time-outs, 429 and 5xx (with back-off).
    cache
        The SQLite answer cache (the geocoders'); a repeated name costs no request.
    service_url
        Base URL of the service (``scheme://host[:port]``), e.g. a proxy; default official.
    delay
        Seconds between requests (default: the service's, 0.4 s).
    now
        Retrieval time for the provenance (default: ``SOURCE_DATE_EPOCH``, else the clock).

    Returns
    -------
    tuple
        Places (:data:`~luodian_map.places.sources.PLACE_COLUMNS`, WGS-84, ``sourced``) and
        the place file's metadata (service, time, attribution, names not found).
    """
    service = SERVICES[source]
    gazetteer = area.gazetteer
    wanted = names_to_search(items, area, gazetteer)
    adcode = _adcode(gazetteer)
    where = urlsplit(service_url) if service_url else None
    store = GeocodeCache(cache) if cache is not None else None
    try:
        with OnlineGeocoder(
            service["search"],
            district=near_area(area),
            cache=store,
            city=adcode,
            timeout=timeout,
            min_delay_seconds=delay,
            max_tries=max_tries,
            accept=partial(_is_named, prefixes=_admin_prefixes(gazetteer)),
            scheme=where.scheme if where else None,
            domain=where.netloc if where else None,
        ) as online:
            found = online.geocode_many(list(wanted), context="")
    finally:
        if store is not None:
            store.close()
    hits = {name: c for name, c in found.items() if c is not None}
    records, points = [], []
    for name, candidate in hits.items():
        item = wanted[name]
        raw = candidate.raw or {}
        poi_name = candidate.label
        records.append({
            "name": name,
            "aliases": [poi_name] if poi_name and poi_name != name else [],
            "kind": item.kind or item.category,
            "category": item.category,
            "precision": "sourced",
            "uncertainty_m": candidate.uncertainty_m,
            "source": source,
            "source_id": str(raw.get("id") or raw.get("hotPointID") or ""),
            "basis": f"{source} POI {poi_name} ({candidate.level or 'type not stated'}), "
                     f"{service['datum']} converted to WGS-84; ±{candidate.uncertainty_m:g} m "
                     "for a place of its type",
            "tags": {k: str(raw[k]) for k in _TAG_KEYS if raw.get(k) not in (None, "", [])},
        })  # fmt: skip
        points.append(shapely.Point(candidate.lon, candidate.lat))
    places = gpd.GeoDataFrame(records, columns=list(PLACE_COLUMNS), geometry=points,
                              crs="EPSG:4326")  # fmt: skip
    metadata = {
        "source": source,
        "retrieved": timestamp(now),
        "service": service_url or service["url"],
        "query": {"area": adcode, "town": area.name, "names": len(wanted)},
        "attribution": service["attribution"],
        "licence": service["licence"],
        "found": len(hits),
        "not_found": sorted(set(wanted) - set(hits)),
        "from_cache": sum(c.from_cache for c in hits.values()),
    }
    return places, metadata


def names_to_search(
    items: Iterable[Item], area: TownArea, gazetteer: gpd.GeoDataFrame
) -> dict[str, Item]:
    """Report names of the town worth a POI search, each with its first item.

    Left out: town-level aggregates; names the gazetteer holds as ``surveyed`` or
    ``sourced`` already, or as the town or district; names it holds as a line or an area
    (a POI point could not replace them); and names it does not hold whose category is
    drawn as a line or an area (roads, rivers, parks: OpenStreetMap has their shapes).
    """
    items_by_name: dict[str, Item] = {}
    for item in items:
        if item.town == area.name and not item.aggregate:
            items_by_name.setdefault(item.name, item)
    matches = Gazetteer(gazetteer).match_many(items_by_name)
    wanted = {}
    for (name, item), match in zip(items_by_name.items(), matches, strict=True):
        if match is not None and match.method != "parent":
            row = match.row
            held = row["precision"] in ("surveyed", "sourced")
            if held or row["kind"] in ("town", "district") or row.geometry.geom_type != "Point":
                continue
        elif CATEGORIES[item.category].geometry != "Point":
            continue
        wanted[name] = item
    return wanted


def _adcode(gazetteer: gpd.GeoDataFrame) -> str:
    codes = gazetteer.loc[gazetteer["kind"] == "district", "code"].dropna().astype(str)
    adcode = city_hint(codes.iloc[0]) if not codes.empty else None
    if adcode is None:
        raise InputError(
            f"the gazetteer's district has no administrative code; a POI search is limited "
            f"to it by code (see {SOURCES_FOLDER}/ of the town)"
        )
    return adcode


def _admin_prefixes(gazetteer: gpd.GeoDataFrame) -> tuple[str, ...]:
    """Names of the district and the town as POI names begin with them ("上海市宝山区",
    "宝山区", "上海市", "罗店镇"), longest first; short forms ("宝山") are left alone, since
    宝山中心校 is not 罗店中心校."""
    rows = gazetteer[gazetteer["kind"].isin(["district", "town"])]
    names = [n for name, aliases in zip(rows["name"], rows["aliases"], strict=True)
             for n in (name, *aliases)]  # fmt: skip
    prefixes: set[str] = set()
    for name in names:
        cuts = [m.end() for m in _ADMIN_END.finditer(name)]
        prefixes.update(name[:cut] for cut in cuts)
        prefixes.update(name[start:cut] for start in cuts for cut in cuts if cut > start)
    return tuple(sorted(prefixes, key=len, reverse=True))


def _is_named(name: str, location: Any, *, prefixes: tuple[str, ...]) -> bool:
    """Whether the POI found for ``name`` is that place (see the module docstring)."""
    poi = _TRAILING_QUALIFIER.sub("", str(location.address or "").strip())
    return same_place_name(_without_prefix(name, prefixes), _without_prefix(poi, prefixes))


def _without_prefix(name: str, prefixes: tuple[str, ...]) -> str:
    changed = True
    while changed:
        changed = False
        for prefix in prefixes:
            if name.startswith(prefix) and len(name) > len(prefix):
                name, changed = name[len(prefix) :], True
                break
    return name
