"""The gazetteer: every place of the town we can put on the map without asking anyone online.

A town's gazetteer is built from the sourced files in its ``sources/`` folder (the
district outline, metro stations, the list of village and residents' committees), as
``sources/gazetteer.toml`` names and attributes them (:data:`BUILD_FILE`), and from the hand
placements in its ``placements.csv``, and written to its ``gazetteer.geojson`` byte for byte
reproducibly, so that any change to a place shows up as a one-line diff in review.
``python -m luodian_map.gazetteer`` rebuilds the file of every town the package ships.

Every feature says how well it is located: ``precision`` is "sourced" for the converted
district outline and the metro stations and "approximate" for everything placed by hand
(including the committees, whose names and codes are sourced but whose points are not);
``uncertainty_m`` is an honest radius and ``basis`` says what the position rests on.

:class:`Gazetteer` matches names as a report writes them to these features (exact, alias,
fuzzy, or the enclosing "parent" place; see :meth:`Gazetteer.match`).
"""

from __future__ import annotations

import csv
import json
import math
import re
import tomllib
import unicodedata
from collections.abc import Hashable, Iterable, Mapping
from importlib import resources
from pathlib import Path
from typing import Any, NamedTuple

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely
from numpy.typing import ArrayLike
from rapidfuzz import fuzz, process
from shapely.geometry.base import BaseGeometry

from . import crs
from ._io import write_atomic
from .categories import CATEGORIES, PRECISIONS, PUBLIC_PRECISIONS
from .errors import InputError

PACKAGED_TOWNS = Path(str(resources.files("luodian_map").joinpath("data", "towns")))
"""The towns the package ships, one folder each as under a working folder's ``geodata/``."""
SOURCES = "sources"
PLACEMENTS = "placements.csv"
GAZETTEER = "gazetteer.geojson"
BUILD_FILE = "gazetteer.toml"
"""In a town's ``sources/``: the files the gazetteer is built from, the district's name,
code and aliases, the station names, and the attribution of each."""
GEODATA_DIR = PACKAGED_TOWNS / "luodian"
"""The town the package is built around: the default of :func:`load_gazetteer`."""
SOURCES_DIR = GEODATA_DIR / SOURCES
PLACEMENTS_CSV = GEODATA_DIR / PLACEMENTS
DEFAULT_PATH = GEODATA_DIR / GAZETTEER

COLUMNS = ("name", "aliases", "kind", "category", "code", "precision", "uncertainty_m",
           "source", "basis")  # fmt: skip
PLACEMENT_COLUMNS = ("name", "aliases", "kind", "category", "wkt", "uncertainty_m", "basis")
"""Required columns of ``placements.csv``; an optional ``anchor`` column names a sourced
feature a placement is tied to (see :func:`guess_uncertainty`)."""

# Sort order of the written file: containers first, then sourced points, then the rest.
_KIND_ORDER = {"district": 0, "town": 1, "metro_station": 2, "village_committee": 3,
               "residents_committee": 4}  # fmt: skip
_COMMITTEE_KINDS = ("village_committee", "residents_committee")
_COORD_DECIMALS = 6

# The tables and keys of BUILD_FILE with their types; a town without stations or
# committees leaves their table out.
_BUILD_KEYS: dict[str, dict[str, type | tuple[type, ...]]] = {
    "placements": {"source": str, "town_source": str, "town_min_uncertainty_m": (int, float)},
    "district": {"file": str, "crs": str, "name": str, "aliases": list, "code": str,
                 "uncertainty_m": (int, float), "source": str, "basis": str},
    "stations": {"file": str, "name": str, "aliases": list, "source": str},
    "committees": {"file": str, "source": str},
}  # fmt: skip
_OPTIONAL_TABLES = ("stations", "committees")
# Two station sources disagreeing by more than this means one of them is wrong.
_STATION_MAX_DISAGREEMENT_M = 150.0

_GEOD = pyproj.Geod(ellps="WGS84")
FUZZY_CUTOFF = 88.0
"""Edit-distance ratio (0-100) from which two spellings may name the same place."""
_ROUND_UP_M = 100


# --- names -----------------------------------------------------------------------------------

# Traditional (and a few variant) forms of characters common in Shanghai place names. Only
# one-to-one simplifications belong here; look-alike misprints (東 for 束) are aliases.
_TRADITIONAL = str.maketrans(
    "東羅蘭灣園區鎮號橋莊樓館廣場劉張陳韓華興豐龍寶慶業藥學鄉電車線濟遠營農廠會員處發風陽臺醫體門開濱義"
    "嶼禮歸環綠視縣與萬倉蘇滬黃馬鳥實寧壩閘涇溝澗錢鐘銀雲",
    "东罗兰湾园区镇号桥庄楼馆广场刘张陈韩华兴丰龙宝庆业药学乡电车线济远营农厂会员处发风阳台医体门开滨义"
    "屿礼归环绿视县与万仓苏沪黄马鸟实宁坝闸泾沟涧钱钟银云",
)
_BRACKETS = str.maketrans("[]【】〔〕〈〉{}", "()()()()()")
_IGNORED = re.compile(r"[\s\u00b7\u30fb\u2022\u2027\"'“”‘’《》「」『』]+")
_PARENTHETICAL = re.compile(r"\([^()]*\)")
_ORDINALS = re.compile(r"[0-9零一二三四五六七八九十百甲乙丙丁]")
# Generic tails of place names, longest first: two names with different tails are
# different kinds of place ("光明村" is a village, "光明居委会" a residents' committee).
_GENERIC_SUFFIXES = tuple(sorted(
    ("村民委员会", "居民委员会", "村委会", "居委会", "居委", "村", "新村", "公园", "广场", "中心",
     "支路", "路", "街", "弄", "河", "浜", "港", "湖", "湾", "镇", "站", "苑", "园", "区", "期",
     "桥", "医院", "学校", "小区", "高速"),
    key=len, reverse=True,
))  # fmt: skip


def normalise_name(name: str) -> str:
    """One spelling per name, so dictionary look-ups find what a report writes.

    Full-width forms become ASCII (NFKC), traditional characters simplified, brackets of
    every kind become ``()``, spaces, quotes and middle dots go, ASCII is case-folded.
    """
    text = unicodedata.normalize("NFKC", str(name)).translate(_TRADITIONAL).translate(_BRACKETS)
    return _IGNORED.sub("", text).casefold()


def same_place_name(name: str, other: str, *, cutoff: float = FUZZY_CUTOFF) -> bool:
    """Whether ``other`` names the place ``name`` names, by the rules of :class:`Gazetteer`.

    The same normalised name, or a near spelling (edit-distance ratio of at least
    ``cutoff``) with the same generic tail and ordinals. A longer name that starts with
    the other ("罗店医院停车场", "罗店医院") is a part or a neighbour, not the same place.
    """
    a, b = normalise_name(name), normalise_name(other)
    if a == b:
        return True
    return fuzz.ratio(a, b) >= cutoff and _same_kind_of_name(a, b) and _same_kind_of_name(b, a)


def _generic_suffix(name: str) -> str:
    return next((s for s in _GENERIC_SUFFIXES if name.endswith(s)), "")


def _same_kind_of_name(query: str, candidate: str) -> bool:
    """Whether a fuzzy hit may be the same place rather than a neighbour with a similar name."""
    if query.startswith(candidate):  # a longer, more specific name: the parent rule decides
        return False
    if _generic_suffix(query) != _generic_suffix(candidate):
        return False
    # "宝欣苑第一居委会" and "宝欣苑第七居委会" differ by one character but are different places.
    return _ORDINALS.findall(query) == _ORDINALS.findall(candidate)


# --- build -----------------------------------------------------------------------------------


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{path} not found") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{path} is not valid JSON: {exc}") from None


def _read_csv(path: Path, required: tuple[str, ...]) -> list[dict[str, str]]:
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.DictReader(handle)
            rows = list(reader)
            header = reader.fieldnames or []
    except FileNotFoundError:
        raise InputError(f"{path} not found") from None
    except UnicodeDecodeError as exc:
        raise InputError(f"{path} is not UTF-8 text: {exc}") from None
    missing = [c for c in required if c not in header]
    if missing:
        raise InputError(f"{path} lacks column(s) {', '.join(missing)}")
    return rows


def _geojson_geometry(data: Any, path: Path) -> BaseGeometry:
    """Accept a bare geometry, a Feature or a FeatureCollection (sources come in all three)."""
    try:
        if data.get("type") == "FeatureCollection":
            return shapely.union_all(
                [shapely.geometry.shape(f["geometry"]) for f in data["features"]]
            )
        if data.get("type") == "Feature":
            return shapely.geometry.shape(data["geometry"])
        return shapely.geometry.shape(data)
    except (AttributeError, KeyError, TypeError, ValueError, shapely.errors.GEOSException) as exc:
        raise InputError(f"{path} holds no readable geometry: {exc}") from None


def _read_build_file(sources_dir: Path) -> dict[str, dict[str, Any]]:
    """The tables of :data:`BUILD_FILE`, every key there with a value of its type."""
    path = sources_dir / BUILD_FILE
    try:
        spec = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{path} not found") from None
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise InputError(f"{path} is not valid TOML: {exc}") from None
    for table, keys in _BUILD_KEYS.items():
        if table not in spec and table in _OPTIONAL_TABLES:
            continue
        values = spec.get(table)
        if not isinstance(values, dict):
            raise InputError(f"{path}: no table [{table}]")
        for key, kind in keys.items():
            if not isinstance(values.get(key), kind):
                raise InputError(f"{path}: [{table}] {key} is missing or of the wrong type")
    return spec


def _district(sources_dir: Path, spec: Mapping[str, Any]) -> tuple[dict[str, Any], BaseGeometry]:
    path = sources_dir / spec["file"]
    geometry = _geojson_geometry(_read_json(path), path)
    outline = crs.transform_geometry(geometry, spec["crs"], "wgs84")
    if not outline.is_valid or outline.is_empty:
        raise InputError(f"{path}: the district outline is not a valid polygon")
    props = {
        "name": spec["name"],
        "aliases": list(spec["aliases"]),
        "kind": "district",
        "category": None,
        "code": spec["code"],
        "precision": "sourced",
        "uncertainty_m": spec["uncertainty_m"],
        "source": spec["source"],
        "basis": spec["basis"],
    }
    return props, outline


def _stations(
    sources_dir: Path, spec: Mapping[str, Any]
) -> list[tuple[dict[str, Any], BaseGeometry]]:
    """WGS-84 rows give the points; the BD-09 rows (same station order) name and check them."""
    path = sources_dir / spec["file"]
    rows = _read_csv(path, ("crs", "station", "lon", "lat"))
    bd = [r for r in rows if r["crs"].startswith("BD-09")]
    wgs = [r for r in rows if r["crs"].startswith("WGS-84")]
    if len(bd) != len(wgs) or not wgs:
        raise InputError(f"{path}: expected the same stations in BD-09 and WGS-84 rows")
    try:
        bd_xy = np.array([[float(r["lon"]), float(r["lat"])] for r in bd])
        wgs_xy = np.array([[float(r["lon"]), float(r["lat"])] for r in wgs])
    except ValueError as exc:
        raise InputError(f"{path}: bad coordinate: {exc}") from None
    lon, lat = crs.convert(bd_xy[:, 0], bd_xy[:, 1], "bd09", "wgs84")
    gaps = np.asarray(_GEOD.inv(lon, lat, wgs_xy[:, 0], wgs_xy[:, 1])[2])
    if gaps.max() > _STATION_MAX_DISAGREEMENT_M:
        worst = int(gaps.argmax())
        raise InputError(
            f"{path}: station {bd[worst]['station']} differs by {gaps[worst]:.0f} m between sources"
        )
    # types-shapely: points() of an (n, 2) array is an array (the stub allows a Point)
    points: np.ndarray = shapely.points(wgs_xy)  # type: ignore[assignment]
    out = []
    for b, w, gap, point in zip(bd, wgs, gaps, points, strict=True):
        names = {"zh": b["station"].strip(), "en": w["station"].strip()}
        props = {
            "name": spec["name"].format_map(names),
            "aliases": [a.format_map(names) for a in spec["aliases"]],
            "kind": "metro_station",
            "category": "transport",
            "code": None,
            "precision": "sourced",
            # The point stands for a station about 200 m long; never claim better than 50 m.
            "uncertainty_m": max(50, math.ceil(gap / 10.0) * 10),
            "source": spec["source"],
            "basis": f"WGS-84 row; the other source's BD-09 row, converted, lies {gap:.0f} m away",
        }
        out.append((props, point))
    return out


def _committees(sources_dir: Path, spec: Mapping[str, Any]) -> dict[str, tuple[str, str, str]]:
    """Short name → (code, full name, kind); a village committee is known by its village."""
    path = sources_dir / spec["file"]
    out: dict[str, tuple[str, str, str]] = {}
    for row in _read_csv(path, ("code", "name")):
        code, full = row["code"].strip(), row["name"].strip()
        if not re.fullmatch(r"\d{12}", code):
            raise InputError(f"{path}: {full} has code {code!r}, not 12 digits")
        if full.endswith("村村委会"):
            out[full.removesuffix("村委会")] = (code, full, "village_committee")
        elif full.endswith("居委会"):
            out[full] = (code, full, "residents_committee")
        else:
            raise InputError(f"{path}: {full} is neither a 村委会 nor a 居委会")
    return out


def _committee_aliases(short: str, full: str, kind: str) -> list[str]:
    if kind == "village_committee":
        return [full, f"{short}村民委员会", f"{short}委会"]
    stem = full.removesuffix("居委会")
    return [full, f"{stem}居民委员会", f"{stem}居委"]


def _placements(path: Path, source: str) -> list[tuple[dict[str, Any], BaseGeometry]]:
    rows = _read_csv(path, PLACEMENT_COLUMNS)
    try:
        geoms = shapely.from_wkt([r["wkt"] for r in rows], on_invalid="raise")
    except shapely.errors.GEOSException as exc:
        raise InputError(f"{path}: unreadable WKT: {exc}") from None
    out = []
    for line, (row, geom) in enumerate(zip(rows, geoms, strict=True), start=2):
        name, kind = row["name"].strip(), row["kind"].strip()
        category = row["category"].strip() or None
        anchor = (row.get("anchor") or "").strip() or None
        stated = row["uncertainty_m"].strip()
        try:
            uncertainty = float(stated) if stated else 0.0
        except ValueError:
            uncertainty = math.nan
        problem = (
            "no name" if not name
            else "no kind" if not kind
            else f"unknown category {category!r}" if category and category not in CATEGORIES
            else "uncertainty_m must be a positive number"
            if not (uncertainty > 0 or (uncertainty == 0 and not stated and not anchor))
            else "empty or invalid geometry" if geom is None or geom.is_empty or not geom.is_valid
            else None
        )  # fmt: skip
        if problem:
            raise InputError(f"{path} line {line} ({name or '?'}): {problem}")
        props = {
            "name": name,
            "aliases": [a.strip() for a in row["aliases"].split("|") if a.strip()],
            "kind": kind,
            "category": category,
            "code": None,
            "precision": "approximate",
            "uncertainty_m": int(uncertainty) if uncertainty.is_integer() else uncertainty,
            "source": source,
            "basis": row["basis"].strip(),
            "anchor": anchor,
        }
        out.append((props, geom))
    return out


def guess_uncertainty(
    geoms: np.ndarray,
    stated_m: ArrayLike,
    outline: BaseGeometry,
    outline_uncertainty_m: float,
    anchor_gap_m: np.ndarray | None = None,
) -> np.ndarray:
    """The honest radius of hand placements (metres, rounded up to 100 m).

    A guess with no sourced anchor only knows that the place is in the town: its radius is
    the farthest distance from any point of its geometry to any point of the town outline,
    plus the outline's own uncertainty, so wherever in the town the place really is, it
    lies inside. It may state a wider radius, never a tighter one.

    A guess tied to a sourced anchor states how far from the anchor the place may lie (its
    reach); its radius is its farthest distance to the anchor plus the anchor's uncertainty
    (``anchor_gap_m``) plus that reach, and never more than the unanchored radius, which
    holds as well.

    Parameters
    ----------
    geoms
        The placements' geometries (WGS-84).
    stated_m
        The radius an unanchored placement states (0 for none), or an anchored one's reach.
    outline
        The town outline (WGS-84) the places lie in.
    outline_uncertainty_m
        How far the outline itself may be off.
    anchor_gap_m
        Farthest distance to the anchor plus the anchor's uncertainty; NaN for a guess
        without an anchor.

    Returns
    -------
    numpy.ndarray
        One radius per placement, in metres.
    """
    town = farthest_distance_m(geoms, outline) + outline_uncertainty_m
    stated = np.asarray(stated_m, dtype=float)
    gap = np.full(len(town), np.nan) if anchor_gap_m is None else np.asarray(anchor_gap_m, float)
    radius = np.where(np.isfinite(gap), np.minimum(gap + stated, town), np.maximum(stated, town))
    rounded: np.ndarray = np.ceil(radius / _ROUND_UP_M) * _ROUND_UP_M
    return rounded


def farthest_distance_m(geoms: np.ndarray, targets: Any) -> np.ndarray:
    """The largest geodesic distance (m) between any point of each geometry and any point
    of its target (one geometry for all, or one per geometry; WGS-84)."""
    geoms = np.asarray(geoms, dtype=object)
    targets = np.broadcast_to(np.asarray(targets, dtype=object), geoms.shape)
    # The farthest pair of two sets lies on the vertices of their convex hulls.
    own, i = shapely.get_coordinates(shapely.convex_hull(geoms), return_index=True)
    other, j = shapely.get_coordinates(shapely.convex_hull(targets), return_index=True)
    pairs = pd.DataFrame({"i": i, "x": own[:, 0], "y": own[:, 1]}).merge(
        pd.DataFrame({"i": j, "tx": other[:, 0], "ty": other[:, 1]}), on="i"
    )
    pairs["d"] = _GEOD.inv(pairs["x"], pairs["y"], pairs["tx"], pairs["ty"])[2]
    return pairs.groupby("i")["d"].max().reindex(range(len(geoms))).to_numpy()


def _honest_uncertainty(
    records: list[dict[str, Any]],
    geoms: np.ndarray,
    anchors: list[str | None],
    path: Path,
    town_min_uncertainty_m: float,
) -> None:
    """Set the ``uncertainty_m`` of every hand placement by :func:`guess_uncertainty`, the
    town outline's to at least ``town_min_uncertainty_m``."""
    kinds = np.array([r["kind"] for r in records])
    if (kinds == "town").sum() != 1:
        raise InputError(f"{path}: needs exactly one placement of kind town")
    town = records[int(np.flatnonzero(kinds == "town")[0])]
    town["uncertainty_m"] = max(town["uncertainty_m"], town_min_uncertainty_m)
    sourced = {r["name"]: k for k, r in enumerate(records) if r["precision"] in PUBLIC_PRECISIONS}
    guesses = [
        k for k, r in enumerate(records) if r["precision"] == "approximate" and r is not town
    ]
    unknown = [
        (records[k]["name"], anchors[k]) for k in guesses if anchors[k] not in (None, *sourced)
    ]
    if unknown:
        name, anchor = unknown[0]
        raise InputError(f"{path}: {name}: anchor {anchor!r} is not a sourced feature")
    anchored = [k for k in guesses if anchors[k] is not None]
    gap = pd.Series(np.nan, index=guesses)
    if anchored:
        target = [sourced[anchors[k]] for k in anchored]
        gap[anchored] = farthest_distance_m(geoms[anchored], geoms[target]) + [
            records[t]["uncertainty_m"] for t in target
        ]
    radius = guess_uncertainty(
        geoms[guesses],
        [records[k]["uncertainty_m"] for k in guesses],
        geoms[kinds == "town"][0],
        town["uncertainty_m"],
        gap.to_numpy(),
    )
    for k, value in zip(guesses, radius.tolist(), strict=True):
        records[k]["uncertainty_m"] = int(value)


def _check_unique_keys(records: list[dict[str, Any]]) -> None:
    owner: dict[str, str] = {}
    for rec in records:
        keys = {normalise_name(k) for k in [rec["name"], *rec["aliases"]]}
        for key in keys:
            if owner.setdefault(key, rec["name"]) != rec["name"]:
                raise InputError(
                    f"the name or alias {key!r} is used by {owner[key]} and {rec['name']}"
                )


def build_gazetteer(
    sources_dir: str | Path = SOURCES_DIR, placements_csv: str | Path = PLACEMENTS_CSV
) -> gpd.GeoDataFrame:
    """Assemble the gazetteer from the sources and the hand placements (WGS-84, sorted).

    ``sources_dir`` holds :data:`BUILD_FILE`, which names its files (district outline,
    stations, committees) and says what the code cannot know: the district's name, code
    and aliases, the station names, the attribution of each source.

    Committees take their code and full name from the committee list and their point from
    the placement of the same short name; every committee must have one. A hand-drawn
    ``town`` polygon is clipped to the district outline, so its edge along the district
    border is the sourced border rather than a hand-drawn one.
    """
    sources_dir, placements_csv = Path(sources_dir), Path(placements_csv)
    spec = _read_build_file(sources_dir)
    district, outline = _district(sources_dir, spec["district"])
    committee_spec: dict[str, Any] = spec.get("committees", {})
    committees = _committees(sources_dir, committee_spec) if committee_spec else {}
    features: list[tuple[dict[str, Any], BaseGeometry]] = [(district, outline)]
    if "stations" in spec:
        features += _stations(sources_dir, spec["stations"])
    placed: set[str] = set()
    hand = spec["placements"]
    for props, geom in _placements(placements_csv, hand["source"]):
        if props["kind"] in _COMMITTEE_KINDS:
            if props["name"] not in committees:
                listed = committee_spec.get("file", "no committee list")
                raise InputError(f"{placements_csv}: {props['name']} is not in {listed}")
            code, full, kind = committees[props["name"]]
            if kind != props["kind"]:
                raise InputError(f"{placements_csv}: {props['name']} is a {kind}")
            sourced = _committee_aliases(props["name"], full, kind)
            props.update(code=code, source=committee_spec["source"],
                         aliases=list(dict.fromkeys([*sourced, *props["aliases"]])))  # fmt: skip
            placed.add(props["name"])
        elif props["kind"] == "town":
            geom = shapely.intersection(geom, outline)
            if geom.is_empty:
                raise InputError(
                    f"{placements_csv}: town {props['name']} lies outside the district"
                )
            props["source"] = hand["town_source"]
        features.append((props, geom))
    unplaced = sorted(set(committees) - placed)
    if unplaced:
        raise InputError(f"{placements_csv}: no placement for {', '.join(unplaced)}")
    records = [p for p, _ in features]
    anchors = [r.pop("anchor", None) for r in records]
    for rec in records:
        rec["aliases"] = [a for a in dict.fromkeys(rec["aliases"]) if a != rec["name"]]
    _check_unique_keys(records)
    geoms = np.array([g for _, g in features], dtype=object)
    # Snap to the written precision here, so the frame equals what a reload gives back.
    geoms = shapely.orient_polygons(shapely.set_precision(geoms, 10.0**-_COORD_DECIMALS))
    invalid = [r["name"] for r, ok in zip(records, shapely.is_valid(geoms), strict=True) if not ok]
    if invalid:
        raise InputError(f"invalid geometry after rounding: {', '.join(invalid)}")
    _honest_uncertainty(records, geoms, anchors, placements_csv, hand["town_min_uncertainty_m"])
    return _sorted_frame(records, list(geoms))


# --- write / load ----------------------------------------------------------------------------


def _json_value(value: Any) -> Any:
    if isinstance(value, list | tuple | np.ndarray):
        return [str(v) for v in value]
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def write_gazetteer(gdf: gpd.GeoDataFrame, path: str | Path = DEFAULT_PATH) -> Path:
    """RFC 7946 GeoJSON, one feature per line, written by ``json`` so the bytes are stable."""
    geoms = shapely.transform(gdf.geometry.to_numpy(), lambda c: np.round(c, _COORD_DECIMALS))
    lines = []
    for props, geom in zip(gdf[list(COLUMNS)].to_dict("records"), geoms, strict=True):
        feature = {
            "type": "Feature",
            "properties": {k: _json_value(v) for k, v in props.items()},
            "geometry": shapely.geometry.mapping(geom),
        }
        lines.append(json.dumps(feature, ensure_ascii=False, separators=(",", ":")))
    text = '{"type":"FeatureCollection","features":[\n' + ",\n".join(lines) + "\n]}\n"
    return write_atomic(path, text)


def load_gazetteer(path: str | Path | None = None) -> gpd.GeoDataFrame:
    """Read and validate a gazetteer file, so a broken one fails here and not mid-geocoding."""
    path = Path(path) if path is not None else DEFAULT_PATH
    data = _read_json(path)
    if not isinstance(data, dict) or data.get("type") != "FeatureCollection" \
            or not isinstance(data.get("features"), list):  # fmt: skip
        raise InputError(f"gazetteer {path} is not a GeoJSON FeatureCollection")
    crs_name = str((data.get("crs") or {}).get("properties", {}).get("name", "CRS84"))
    if not crs_name.upper().endswith(("CRS84", "4326")):
        raise InputError(f"gazetteer {path} is in {crs_name}; it must be WGS-84 (RFC 7946)")
    features = data["features"]
    try:
        props = [dict(f["properties"]) for f in features]
        geoms = [shapely.geometry.shape(f["geometry"]) for f in features]
    except (AttributeError, KeyError, TypeError, ValueError, shapely.errors.GEOSException) as exc:
        raise InputError(f"gazetteer {path} has a malformed feature: {exc}") from None
    for i, prop in enumerate(props):
        missing = [c for c in COLUMNS if c not in prop]
        if missing:
            raise InputError(f"gazetteer {path}: feature {i} lacks {', '.join(missing)}")
    gdf = gpd.GeoDataFrame(props, columns=list(COLUMNS), geometry=geoms, crs="EPSG:4326")
    _validate(gdf, path)
    return gdf


def _validate(gdf: gpd.GeoDataFrame, path: Path) -> None:
    names = gdf["name"]
    if not names.map(lambda n: isinstance(n, str) and bool(n.strip())).all():
        raise InputError(f"gazetteer {path}: a feature has no name")
    duplicated = sorted(set(names[names.duplicated()]))
    if duplicated:
        raise InputError(f"gazetteer {path}: duplicate names {', '.join(duplicated)}")
    if not gdf["aliases"].map(lambda a: isinstance(a, list)).all():
        raise InputError(f"gazetteer {path}: aliases must be lists of names")
    bad_precision = sorted(set(gdf["precision"]) - set(PRECISIONS))
    if bad_precision:
        raise InputError(f"gazetteer {path}: unknown precision {bad_precision}")
    uncertainty = pd.to_numeric(gdf["uncertainty_m"], errors="coerce")
    if not (np.isfinite(uncertainty) & (uncertainty >= 0)).all():
        raise InputError(f"gazetteer {path}: uncertainty_m must be a number of metres")
    geoms = gdf.geometry.to_numpy()
    broken = names[shapely.is_empty(geoms) | ~shapely.is_valid(geoms)]
    if len(broken):
        raise InputError(f"gazetteer {path}: invalid geometry for {', '.join(broken)}")
    xmin, ymin, xmax, ymax = gdf.total_bounds
    if xmin < -180 or xmax > 180 or ymin < -90 or ymax > 90:
        raise InputError(f"gazetteer {path}: coordinates are not WGS-84 longitude/latitude")


def load_town_gazetteer(path: str | Path, *, without: str | None = None) -> gpd.GeoDataFrame:
    """A town's gazetteer file with the town's place files laid over it.

    The place files are ``sources/*.geojson`` beside the gazetteer file (see
    :mod:`luodian_map.places.sources`); they are fetched or imported once and read offline
    by every build. See :func:`merge_places` for how they combine. ``without`` leaves out
    the place file of that name.
    """
    from .places.sources import read_place_files

    path = Path(path)
    places = read_place_files(path.parent)
    if without is not None:
        places = places[places["file"] != without]
    return merge_places(load_gazetteer(path), places)


def merge_places(gdf: gpd.GeoDataFrame, places: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Lay place files over a gazetteer: real geometry replaces the guess of the same place.

    Each place is matched by its name and aliases (exact, alias or fuzzy, as report names
    are; never by the enclosing "parent" place). A match held with a lower precision
    (``approximate``, or ``sourced`` under a ``surveyed`` place) takes the place's geometry,
    precision, uncertainty, source and basis, keeps its own name, code and kind, and gains
    the place's name as an alias. Places are taken in priority order (surveyed, then
    sourced; see :func:`~luodian_map.places.sources.read_place_files`), so the first one to
    claim a feature wins. A place matching nothing is added under its own name unless an
    earlier place took that name. An area is replaced by areas only, and the town and the
    district only by a place of the same kind, so that a village node named like the town
    cannot shrink the town to a point.

    Parameters
    ----------
    gdf
        A gazetteer frame (:data:`COLUMNS`, WGS-84).
    places
        Place files as read by :func:`~luodian_map.places.sources.read_place_files`.

    Returns
    -------
    geopandas.GeoDataFrame
        The merged gazetteer, same columns, sorted as :func:`build_gazetteer` sorts.
    """
    if places.empty:
        return gdf
    # pandas-stubs key records by Hashable; the COLUMNS are str
    records: list[dict[str, Any]] = gdf[list(COLUMNS)].to_dict("records")  # type: ignore[assignment]
    geoms: list[BaseGeometry] = list(gdf.geometry)
    rank = {p: i for i, p in enumerate(PRECISIONS)}
    matcher = Gazetteer(gdf)
    place_names = [[name, *aliases] for name, aliases in zip(places["name"], places["aliases"],
                                                             strict=True)]  # fmt: skip
    flat = matcher.match_many([n for names in place_names for n in names])
    taken = {normalise_name(k) for r in records for k in [r["name"], *r["aliases"]]}
    claimed: set[int] = set()
    position = 0
    for place, names in zip(places.to_dict("records"), place_names, strict=True):
        matches = flat[position : position + len(names)]
        position += len(names)
        hit = next((m for m in matches if m is not None and m.method != "parent"), None)
        source = " ".join(filter(None, (place["source"], place["source_id"])))
        source = f"{source} ({place['file']})"
        if hit is not None:
            # a unique index: one position (pandas-stubs also allow a slice or a mask)
            target: int = matcher.gdf.index.get_loc(hit.row.name)  # type: ignore[assignment]
            if target in claimed or rank[place["precision"]] >= rank[records[target]["precision"]]:
                continue
            if not _may_replace(records[target]["kind"], geoms[target], place):
                continue
            claimed.add(target)
            record = records[target]
            record.update(precision=place["precision"], uncertainty_m=place["uncertainty_m"],
                          source=source, basis=place["basis"] or source)  # fmt: skip
            record["aliases"] = list(dict.fromkeys(
                [*record["aliases"], *(n for n in names if n != record["name"])]
            ))  # fmt: skip
            geoms[target] = place["geometry"]
            continue
        keys = {normalise_name(n) for n in names}
        if keys & taken:
            continue
        taken |= keys
        records.append({
            "name": place["name"], "aliases": list(place["aliases"]), "kind": place["kind"],
            "category": place["category"], "code": None, "precision": place["precision"],
            "uncertainty_m": place["uncertainty_m"], "source": source,
            "basis": place["basis"] or source,
        })  # fmt: skip
        geoms.append(place["geometry"])
    return _sorted_frame(records, geoms)


def _may_replace(kind: str, geom: BaseGeometry, place: Mapping[Hashable, Any]) -> bool:
    if kind in ("town", "district") and place["kind"] != kind:
        return False
    return bool(shapely.get_dimensions(geom) < 2 or shapely.get_dimensions(place["geometry"]) == 2)


def _sorted_frame(records: list[dict[str, Any]], geoms: list[BaseGeometry]) -> gpd.GeoDataFrame:
    """Containers first, then sourced points, then the rest; a stable order for the file."""
    gdf = gpd.GeoDataFrame(records, columns=list(COLUMNS), geometry=geoms, crs="EPSG:4326")
    order = sorted(
        range(len(records)),
        key=lambda i: (_KIND_ORDER.get(records[i]["kind"], len(_KIND_ORDER)),
                       _text(records[i]["kind"]), _text(records[i]["code"]), records[i]["name"]),
    )  # fmt: skip
    return gdf.iloc[order].reset_index(drop=True)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


# --- matching --------------------------------------------------------------------------------


def town_gazetteers(geodata: str | Path) -> dict[str, Path]:
    """Each town's gazetteer, by town name: ``geodata/<folder>/gazetteer.geojson``, then
    the towns the package ships (:data:`PACKAGED_TOWNS`).

    The folder name is free; the town is the name of the gazetteer's feature of kind
    "town", so a report selects its gazetteer by the town it names itself. A town under
    ``geodata`` replaces the packaged town of the same name, place files and all.
    """
    found: dict[str, Path] = {}
    for folder in (Path(geodata), PACKAGED_TOWNS):
        for path in sorted(folder.glob("*/gazetteer.geojson")):
            found.setdefault(gazetteer_file_town(path), path)
    return found


def gazetteer_file_town(path: str | Path) -> str:
    """The town a gazetteer file describes: its one feature of kind "town"."""
    try:
        features = json.loads(Path(path).read_text("utf-8"))["features"]
    except (ValueError, KeyError, TypeError) as error:
        raise InputError(f"{path}: not a GeoJSON FeatureCollection ({error})") from None
    towns: list[str] = [
        f["properties"]["name"]
        for f in features
        if (f.get("properties") or {}).get("kind") == "town"
    ]
    if len(towns) != 1:
        raise InputError(f"{path}: a town gazetteer needs exactly one feature of kind town")
    return towns[0]


class Match(NamedTuple):
    """A gazetteer row for a name, how it was found and how sure the match is (0-100).

    ``method`` is "exact" (the feature's name), "alias", "fuzzy" (a near spelling of a
    name or alias) or "parent": the name is a more specific place inside the feature
    ("王家村沈六房" in 王家村, "美兰西湖公园二期" in 美兰西湖公园, "祁北支路(潘泾路-潘泾河)" on
    祁北支路). A parent match locates the enclosing place only: a geocoder should keep the
    parent's geometry as an area of search and not present it as the named place itself
    (e.g. report its centroid with an uncertainty covering the parent).
    """

    row: pd.Series
    method: str
    score: float


class Gazetteer:
    """Name → feature matcher; built once, then fast enough for every mention of a corpus.

    Exact and alias look-ups are dictionary hits on normalised names; fuzzy matching uses
    ``rapidfuzz`` with plain edit-distance ratio, so a shorter name contained in a longer
    one never scores as the same place; results are cached per normalised name.
    """

    def __init__(
        self,
        gdf: gpd.GeoDataFrame | None = None,
        *,
        fuzzy_cutoff: float = FUZZY_CUTOFF,
        min_parent_chars: int = 2,
    ) -> None:
        self.gdf = load_gazetteer() if gdf is None else gdf
        self.fuzzy_cutoff = fuzzy_cutoff
        self.min_parent_chars = min_parent_chars
        # Rows are materialised once: building a Series per match would dominate the cost.
        self._rows = [row for _, row in self.gdf.iterrows()]
        self._names: dict[str, int] = {}
        self._aliases: dict[str, int] = {}
        for i, (name, aliases) in enumerate(
            zip(self.gdf["name"], self.gdf["aliases"], strict=True)
        ):
            self._names.setdefault(normalise_name(name), i)
            for alias in aliases:
                self._aliases.setdefault(normalise_name(alias), i)
        self._keys = {**self._aliases, **self._names}
        self._choices = list(self._keys)
        self._choice_rows = list(self._keys.values())
        self._cache: dict[str, tuple[int, str, float] | None] = {}

    def match(self, name: str) -> Match | None:
        """Best feature for ``name``, or None when nothing in the gazetteer is that place."""
        return self.match_many([name])[0]

    def match_many(self, names: Iterable[str]) -> list[Match | None]:
        """:meth:`match` for many names at once: one rapidfuzz ``cdist`` for all the new ones."""
        queries = [normalise_name(n) for n in names]
        new = [q for q in dict.fromkeys(queries) if q and q not in self._cache]
        unknown = [q for q in new if q not in self._keys]
        hits = self._fuzzy_hits(unknown) if unknown else {}
        for query in new:
            self._cache[query] = self._find(query, hits.get(query, []))
        return [self._result(self._cache.get(q)) for q in queries]

    def _result(self, found: tuple[int, str, float] | None) -> Match | None:
        return None if found is None else Match(self._rows[found[0]], found[1], found[2])

    def _fuzzy_hits(self, queries: list[str]) -> dict[str, list[tuple[int, float]]]:
        """Choices scoring at least the cutoff for each query, best first."""
        scores = process.cdist(queries, self._choices, scorer=fuzz.ratio,
                               score_cutoff=self.fuzzy_cutoff, dtype=np.float32)  # fmt: skip
        rows, cols = np.nonzero(scores)
        order = np.lexsort((-scores[rows, cols], rows))
        hits: dict[str, list[tuple[int, float]]] = {}
        for r, c in zip(rows[order].tolist(), cols[order].tolist(), strict=True):
            hits.setdefault(queries[r], []).append((c, float(scores[r, c])))
        return hits

    def _find(self, query: str, fuzzy: list[tuple[int, float]]) -> tuple[int, str, float] | None:
        if query in self._names:
            return self._names[query], "exact", 100.0
        if query in self._aliases:
            return self._aliases[query], "alias", 100.0
        for choice, score in fuzzy:
            if _same_kind_of_name(query, self._choices[choice]):
                return self._choice_rows[choice], "fuzzy", round(score, 1)
        core = _PARENTHETICAL.sub("", query)  # "(一期)", "(潘泾路-潘泾河)": qualifiers
        for end in range(len(core), self.min_parent_chars - 1, -1):
            if end == len(query):
                continue  # the whole query was looked up above
            row = self._keys.get(core[:end])
            if row is not None:
                return row, "parent", round(100.0 * end / len(query), 1)
        return None


def rebuild_packaged_towns() -> list[Path]:
    """Build and write the gazetteer of every packaged town with a :data:`BUILD_FILE`."""
    return [
        write_gazetteer(build_gazetteer(folder / SOURCES, folder / PLACEMENTS), folder / GAZETTEER)
        for folder in sorted(PACKAGED_TOWNS.iterdir())
        if (folder / SOURCES / BUILD_FILE).is_file()
    ]


if __name__ == "__main__":
    for written in rebuild_packaged_towns():
        print(written)
