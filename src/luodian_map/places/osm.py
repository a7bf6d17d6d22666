"""OpenStreetMap places of a town: from an Overpass server or from an ``.osm``/``.osm.pbf`` file.

Both paths go through osmnx (:func:`osmnx.features_from_polygon` over the box around the
town's outline plus a margin, :func:`osmnx.features_from_xml` for a file), keep the
features that meet the outline plus margin, and map them through one tag table,
:data:`TAG_RULES`, which says which OSM features a town's report can name and what they
are (``kind``) and which category they serve. The result has the columns of
:data:`~luodian_map.places.sources.PLACE_COLUMNS`, precision ``sourced``: OSM is mapped
from imagery and local knowledge, not surveyed for the planner.

OSM data is © OpenStreetMap contributors and available under the Open Database Licence
(ODbL 1.0); every place file written from it says so.
"""

from __future__ import annotations

import contextlib
import math
import os
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple
from xml.etree import ElementTree as ET
from xml.sax import SAXException

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry

from ..errors import InputError, LuodianMapError
from .town import TownArea

ATTRIBUTION = "© OpenStreetMap contributors, ODbL 1.0"
LICENCE = "ODbL-1.0 (https://opendatacommons.org/licenses/odbl/1-0/)"
BUFFER_M = 1000.0
"""Margin around the town outline: features this close are fetched too (at least the
outline's own uncertainty, since a hand-drawn outline may cut through the town)."""
ALIAS_TAGS = ("name:zh", "alt_name", "old_name", "official_name")
_LINE_M = 15.0
_CONNECT_S = 10.0  # a server that does not accept a connection by then is not there
_NOT_TAGS = {"element", "id", "geometry", "visible", "version", "changeset", "timestamp", "uid",
             "user"}  # fmt: skip
"""Columns of an osmnx features frame that are element attributes, not tags."""


class TagRule(NamedTuple):
    """One line of the tag table: OSM features with ``key`` in ``values`` are a ``kind``.

    ``values`` None means any value. ``node_m`` and ``area_m`` are the honest radius of a
    node and of an area of this kind (lines: 15 m); ``note`` says why, when a rule departs
    from the defaults. ``own_town`` keeps only the feature named like the town (its
    administrative boundary).
    """

    key: str
    values: tuple[str, ...] | None
    kind: str
    category: str | None
    node_m: float = 25.0
    area_m: float = 20.0
    note: str = ""
    own_town: bool = False


_PLACE_NODE = "a place node is the label point of a settlement, not its extent"
_BOUNDARY = "OSM township boundaries in China are drawn from public maps, not surveyed"
TAG_RULES: tuple[TagRule, ...] = (
    TagRule("boundary", ("administrative",), "town", None, 25.0, 100.0, _BOUNDARY, True),
    TagRule("highway", None, "road", "road"),
    TagRule("waterway", ("river", "canal", "stream", "drain"), "river", "ecology"),
    TagRule("railway", ("station", "halt"), "station", "transport"),
    TagRule("public_transport", ("station",), "station", "transport"),
    TagRule("amenity", ("school", "kindergarten"), "school", "facility"),
    TagRule("amenity", ("hospital", "clinic"), "health", "facility"),
    TagRule("healthcare", None, "health", "facility"),
    TagRule("amenity", ("social_facility",), "social", "facility"),
    TagRule("amenity", ("community_centre",), "culture", "facility"),
    TagRule("leisure", ("pitch", "sports_centre"), "sport", "facility"),
    TagRule("leisure", ("park", "garden"), "park", "park"),
    TagRule("landuse", ("recreation_ground",), "park", "park"),
    TagRule("place", ("village", "hamlet"), "village", "village", 300.0, 20.0, _PLACE_NODE),
    TagRule("place", ("neighbourhood",), "estate", None, 300.0, 20.0, _PLACE_NODE),
    TagRule("landuse", ("residential",), "estate", None),
    TagRule("landuse", ("industrial",), "industrial", "industry"),
    TagRule("landuse", ("commercial",), "commercial", "industry"),
)
"""What a town's report can name, in priority order (the first rule a feature meets wins).

Every feature needs a name (``name``, else ``name:zh``); so unnamed roads and land use,
which OSM has plenty of, never enter a place file."""


def query_tags() -> dict[str, bool | str | list[str]]:
    """The osmnx ``tags`` argument for :data:`TAG_RULES` (a key with any value → True)."""
    tags: dict[str, bool | str | list[str]] = {}
    for rule in TAG_RULES:
        known = tags.get(rule.key, [])
        if rule.values is None or not isinstance(known, list):  # True: any value
            tags[rule.key] = True
        else:
            tags[rule.key] = sorted({*known, *rule.values})
    return tags


class OverpassError(LuodianMapError):
    """The Overpass server could not be reached, stayed busy, or answered badly."""


class _Busy(Exception):
    """Overpass answered 429 (rate limit) or 504 (server overloaded)."""

    def __init__(self, status: int, retry_after: float | None) -> None:
        super().__init__(status)
        self.status = status
        self.retry_after = retry_after


def fetch_osm(
    area: TownArea,
    *,
    overpass_url: str = "https://overpass-api.de/api",
    timeout: float = 180.0,
    retries: int = 3,
    backoff: float = 1.0,
    retrieved: datetime | None = None,
) -> tuple[gpd.GeoDataFrame, dict[str, Any]]:
    """Fetch a town's named OSM features from an Overpass server.

    Parameters
    ----------
    area
        The town (see :func:`~luodian_map.places.town.find_town`); features meeting its
        outline buffered by :data:`BUFFER_M` (or the outline's uncertainty) are kept.
    overpass_url
        Base URL of the Overpass API, ending in ``/api`` (osmnx's ``settings.overpass_url``).
    timeout
        Seconds per HTTP request, and the server-side query timeout.
    retries
        Further tries when the server answers 429 or 504, waiting ``Retry-After`` when it
        says, else ``backoff`` × 2ⁿ seconds (osmnx then waits for a free slot itself).
    backoff
        First back-off in seconds.
    retrieved
        The time to record as the query time; default ``$SOURCE_DATE_EPOCH`` when set (for
        reproducible files), else now.

    Returns
    -------
    tuple[geopandas.GeoDataFrame, dict]
        The places (:data:`~luodian_map.places.sources.PLACE_COLUMNS`, WGS-84) and the
        provenance for the place file.

    Raises
    ------
    OverpassError
        When the server cannot be reached, stays busy, times out or answers badly.
    """
    import osmnx as ox
    import requests

    # the query asks for the box around the area: 4 corners instead of dozens of vertices
    # in each of its ~80 statements; osm_places then keeps what meets the area itself
    box = shapely.box(*_near_town(area).bounds)
    tags = query_tags()
    url = overpass_url.rstrip("/")
    with _osmnx_settings(url, timeout, _has_status(url, timeout)):
        for attempt in range(retries + 1):
            try:
                features = ox.features_from_polygon(box, tags)
                break
            except _Busy as busy:
                if attempt == retries:
                    raise OverpassError(
                        f"Overpass at {url} is busy (HTTP {busy.status}) after "
                        f"{retries + 1} tries; try later or another --overpass-url"
                    ) from None
                wait = busy.retry_after
                time.sleep(backoff * 2**attempt if wait is None else wait)
            except requests.Timeout:
                raise OverpassError(f"Overpass at {url} did not answer in {timeout:g} s") from None
            except requests.RequestException as exc:
                raise OverpassError(f"cannot reach Overpass at {url}: {_reason(exc)}") from None
            except (ox._errors.InsufficientResponseError, ox._errors.ResponseStatusCodeError) as e:
                raise OverpassError(f"Overpass at {url}: {_one_line(e)}") from None
    places = osm_places(features, area)
    metadata = {
        "source": "osm",
        "retrieved": _iso(retrieved or _now()),
        "attribution": ATTRIBUTION,
        "licence": LICENCE,
        "overpass_url": url,
        "query": {"tags": tags, "area": f"{area.name} outline + {_margin(area):g} m"},
    }
    return places, metadata


def read_osm_file(path: str | Path, area: TownArea) -> tuple[gpd.GeoDataFrame, dict[str, Any]]:
    """The town's named features in an OSM extract, mapped as :func:`fetch_osm` maps them.

    Parameters
    ----------
    path
        An OSM XML file (``.osm``) or an OSM PBF file (``.osm.pbf``, read with pyosmium:
        a country extract works, but cutting the town out first with ``osmium extract``
        is much faster).
    area
        The town; features meeting its outline plus margin are kept.

    Returns
    -------
    tuple[geopandas.GeoDataFrame, dict]
        The places (precision ``sourced``) and the provenance for the place file.

    Raises
    ------
    InputError
        When the file is not OSM data or holds no mapped feature in the town.
    """
    import osmnx as ox

    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    polygon = _near_town(area)
    with _osmnx_settings(None, 180.0, rate_limit=False), contextlib.ExitStack() as stack:
        xml = path
        if path.name.lower().endswith(".pbf"):
            folder = stack.enter_context(tempfile.TemporaryDirectory(prefix="luodian-osm-"))
            xml = _pbf_to_xml(path, Path(folder) / "extract.osm", polygon)
        elif not path.name.lower().endswith(".osm"):
            raise InputError(f"{path}: not an OSM file (.osm or .osm.pbf)")
        try:
            features = ox.features_from_xml(xml, polygon=polygon, tags=query_tags())
        except ox._errors.InsufficientResponseError:
            raise InputError(
                f"{path}: no named OSM feature of the mapped kinds in or near {area.name}"
            ) from None
        except (ET.ParseError, SAXException, KeyError, ValueError) as exc:
            raise InputError(f"{path}: not readable as OSM XML: {_one_line(exc)}") from None
    places = osm_places(features, area)
    if places.empty:
        raise InputError(f"{path}: no named OSM feature of the mapped kinds in or near {area.name}")
    modified = datetime.fromtimestamp(path.stat().st_mtime, tz=UTC)
    metadata = {
        "source": "osm",
        "file": path.name,
        "file_modified": _iso(modified),
        "attribution": ATTRIBUTION,
        "licence": LICENCE,
        "query": {"tags": query_tags(), "area": f"{area.name} outline + {_margin(area):g} m"},
    }
    return places, metadata


def osm_places(features: gpd.GeoDataFrame, area: TownArea) -> gpd.GeoDataFrame:
    """osmnx features (one column per tag) → the places of a town, by :data:`TAG_RULES`.

    Features that do not meet the town's outline plus margin, unnamed and unmapped ones
    are dropped; the lines of one kind and name (the ways of a road or a river) become one
    feature whose ``source_id`` lists their ids.
    """
    town = area.name
    frame = features.reset_index()
    frame = frame[~(frame.geometry.isna() | frame.geometry.is_empty)]
    frame = frame[frame.intersects(_near_town(area))]

    def column(key: str) -> pd.Series:
        return frame[key] if key in frame else pd.Series(None, index=frame.index, dtype=object)

    names = column("name").where(column("name").notna(), column("name:zh"))
    names = names.map(lambda n: n.strip() if isinstance(n, str) else "")
    is_town = (column("name") == town) | (column("name:zh") == town)
    masks = [
        (column(r.key).isin(r.values) if r.values else column(r.key).notna())
        & (is_town if r.own_town else True)
        for r in TAG_RULES
    ]
    rule = pd.Series(np.select(masks, np.arange(len(TAG_RULES)), -1), index=frame.index)
    keep = (rule >= 0) & (names != "")
    frame, rule, names = frame[keep], rule[keep], names[keep]
    tag_columns = [c for c in frame.columns if c not in _NOT_TAGS]
    places = gpd.GeoDataFrame(
        {
            "name": names,
            "aliases": _aliases(frame, names),
            "kind": rule.map(lambda i: TAG_RULES[i].kind),
            "category": rule.map(lambda i: TAG_RULES[i].category),
            "rule": rule,
            "source_id": frame["element"] + "/" + frame["id"].astype(str),
            "order": frame["id"].astype("int64"),
            "tags": _tag_dicts(frame[tag_columns]),
        },
        geometry=frame.geometry.to_numpy(),
        crs=features.crs or "EPSG:4326",
    )
    places = _merge_lines(places.sort_values(["order", "source_id"]))
    return _with_uncertainty(places).drop(columns=["rule", "order"]).reset_index(drop=True)


# --- helpers ---------------------------------------------------------------------------------


def _margin(area: TownArea) -> float:
    return max(BUFFER_M, float(area.outline_uncertainty_m))


def _near_town(area: TownArea) -> shapely.Polygon | shapely.MultiPolygon:
    """The town outline plus the margin (simplified to 50 m)."""
    outline = gpd.GeoSeries([area.outline], crs="EPSG:4326")
    metric = outline.estimate_utm_crs()
    buffered = outline.to_crs(metric).buffer(_margin(area)).simplify(50.0)
    near = buffered.to_crs("EPSG:4326").iloc[0]
    assert isinstance(near, shapely.Polygon | shapely.MultiPolygon)  # a buffer is an area
    return near


def _aliases(frame: pd.DataFrame, names: pd.Series) -> pd.Series:
    columns = [c for c in ALIAS_TAGS if c in frame]
    if not columns:
        return pd.Series([[] for _ in range(len(frame))], index=frame.index, dtype=object)
    values = frame[columns].stack().dropna().astype(str).str.split(";").explode().str.strip()
    values = values[values.notna() & (values != "")]
    listed = values.groupby(level=0).agg(lambda s: sorted(set(s)))
    listed = listed.reindex(frame.index).map(lambda a: a if isinstance(a, list) else [])
    return pd.Series(
        [[a for a in aliases if a != name] for aliases, name in zip(listed, names, strict=True)],
        index=frame.index,
        dtype=object,
    )


def _tag_dicts(tags: pd.DataFrame) -> pd.Series:
    # pandas-stubs: stack() of a frame with one level of columns is a Series, and agg() may
    # give any object per group (here the tags of one element as a dict)
    stacked: pd.Series = tags.stack().dropna()  # type: ignore[assignment]
    stacked = stacked[stacked.map(lambda v: isinstance(v, str | int | float))].astype(str)
    dicts = stacked.groupby(level=0).agg(lambda s: s.droplevel(0).to_dict())  # type: ignore[type-var]
    return dicts.reindex(tags.index).map(lambda d: d if isinstance(d, dict) else {})


def _merge_lines(places: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """One feature per kind and name for lines: the ways of a road or river, merged."""
    is_line = shapely.get_dimensions(places.geometry.to_numpy()) == 1
    lines, others = places[is_line], places[~is_line]
    if lines.empty:
        return places
    merged = lines.dissolve(
        by=["kind", "name"],
        aggfunc={
            "aliases": lambda s: sorted({a for aliases in s for a in aliases}),
            "category": "first",
            "rule": "first",
            "source_id": ",".join,
            "order": "first",
            "tags": _merged_tags,
        },
        sort=True,
    ).reset_index()
    return gpd.GeoDataFrame(pd.concat([others, merged], ignore_index=True), crs=places.crs)


def _merged_tags(tags: pd.Series) -> dict[str, str]:
    """Tags of several ways: each key once, differing values joined by ";" as OSM does."""
    values: dict[str, list[str]] = {}
    for tag_dict in tags:
        for key, value in tag_dict.items():
            values.setdefault(key, [])
            if value not in values[key]:
                values[key].append(value)
    return {key: ";".join(v) for key, v in values.items()}


def _with_uncertainty(places: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Radius by geometry (node, line, area) and rule; the basis says what it rests on."""
    dims = shapely.get_dimensions(places.geometry.to_numpy())
    rules = [TAG_RULES[i] for i in places["rule"]]
    meters = [(r.node_m, _LINE_M, r.area_m)[d] for r, d in zip(rules, dims, strict=True)]
    basis = [
        f"OpenStreetMap {_BASIS[d][0]}, ±{m:g} m: "
        + (r.note if r.note and m != _DEFAULT_M[d] else _BASIS[d][1])
        for r, d, m in zip(rules, dims, meters, strict=True)
    ]
    return places.assign(uncertainty_m=meters, precision="sourced", source="osm", basis=basis)


_DEFAULT_M = (TagRule._field_defaults["node_m"], _LINE_M, TagRule._field_defaults["area_m"])
_BASIS = (
    ("node", "where on the site the point was put, and the offset of the imagery it was "
     "mapped from"),
    ("line (the ways of its name, merged)", "the width of the road or river around its "
     "mapped centre line, and the imagery offset"),
    ("area", "tracing from imagery, and the imagery offset"),
)  # fmt: skip


@contextlib.contextmanager
def _osmnx_settings(url: str | None, timeout: float, rate_limit: bool) -> Iterator[None]:
    """osmnx settings for one fetch: no cache or log files in the working folder, no DNS
    look-ups over the internet, 429/504 raised to our retry loop; restored afterwards."""
    import osmnx as ox

    wanted: dict[str, Any] = {
        "use_cache": False,
        "log_file": False,
        "log_console": False,
        "doh_url_template": None,
        "requests_timeout": timeout,
        "overpass_rate_limit": rate_limit,
        "overpass_settings": f"[out:json][timeout:{math.ceil(timeout)}]{{maxsize}}",
        "requests_kwargs": {"hooks": {"response": [_check_response]}},
    }
    if url is not None:
        wanted["overpass_url"] = url
    saved = {name: getattr(ox.settings, name) for name in wanted}
    for name, value in wanted.items():
        setattr(ox.settings, name, value)
    try:
        yield
    finally:
        for name, value in saved.items():
            setattr(ox.settings, name, value)


def _check_response(response: Any, *args: Any, **kwargs: Any) -> None:
    """A requests response hook: 429/504 become :class:`_Busy` (osmnx would retry forever),
    and a query the server stopped (a "runtime error" remark beside partial data, with
    status 200) an :class:`OverpassError`, so that no partial file is written."""
    if response.status_code in (429, 504):
        retry_after = response.headers.get("Retry-After", "")
        raise _Busy(response.status_code, float(retry_after) if retry_after.isdigit() else None)
    if response.ok and '"remark"' in response.text[-2000:]:
        remark = str(response.json().get("remark", ""))
        if "error" in remark.lower():
            raise OverpassError(f"Overpass stopped the query: {_one_line(remark)}")


def _has_status(url: str, timeout: float) -> bool:
    """Whether the server answers ``/status`` (osmnx waits for a free slot through it).

    Raises :class:`OverpassError` at once when the server cannot be reached at all.
    """
    import osmnx as ox
    import requests

    try:
        response = requests.get(
            f"{url}/status",
            timeout=(min(_CONNECT_S, timeout), timeout),
            headers={"User-Agent": ox.settings.http_user_agent},
        )
    except requests.Timeout:
        raise OverpassError(f"Overpass at {url} did not answer in {timeout:g} s") from None
    except requests.RequestException as exc:
        raise OverpassError(f"cannot reach Overpass at {url}: {_reason(exc)}") from None
    return response.ok and "slot" in response.text.lower()


def _pbf_to_xml(pbf: Path, xml: Path, polygon: BaseGeometry) -> Path:
    """The mapped, named features of a PBF file near ``polygon``, with the nodes and ways
    they need, as OSM XML (osmnx reads that). Relations are kept by their tags; osmnx's
    polygon filter drops those elsewhere."""
    try:
        import osmium
    except ImportError:
        raise InputError(f"{pbf}: reading .osm.pbf needs pyosmium (pip install osmium)") from None

    west, south, east, north = polygon.bounds
    keys = sorted({r.key for r in TAG_RULES})

    def near(location: Any) -> bool:
        return (
            bool(location.valid())
            and west <= location.lon <= east
            and south <= location.lat <= north
        )

    try:
        processor = (
            osmium.FileProcessor(str(pbf))
            .with_locations()
            .with_filter(osmium.filter.KeyFilter(*keys))
        )
        with osmium.BackReferenceWriter(str(xml), ref_src=str(pbf), overwrite=True) as writer:
            for obj in processor:
                if "name" not in obj.tags and "name:zh" not in obj.tags:
                    continue
                if (
                    (isinstance(obj, osmium.osm.Node) and near(obj.location))
                    or (
                        isinstance(obj, osmium.osm.Way) and any(near(n.location) for n in obj.nodes)
                    )
                    or (
                        isinstance(obj, osmium.osm.Relation)
                        and obj.tags.get("type") in ("boundary", "multipolygon")
                    )
                ):
                    writer.add(obj)
    except RuntimeError as exc:
        raise InputError(f"{pbf}: not readable as OSM PBF: {_one_line(exc)}") from None
    return xml


def _now() -> datetime:
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch:
        return datetime.fromtimestamp(int(epoch), tz=UTC)
    return datetime.now(tz=UTC)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _reason(exc: BaseException) -> str:
    """The innermost cause of a connection error, e.g. "Connection refused"."""
    while exc.__context__ is not None and not isinstance(exc.__context__, KeyError):
        exc = exc.__context__
    text = str(exc.args[-1] if exc.args else exc)
    return _one_line(text.split("] ")[-1] if "] " in text else text)


def _one_line(value: object) -> str:
    text = " ".join(str(value).split())
    return text if len(text) <= 200 else text[:197] + "…"
