"""Spatial checks of task coverage: how much of the report is on the map, where the town's
work lands, and which places the report leaves out.

:func:`run_checks` takes the features (``layers.read_layers``) and the gazetteer and
returns a :class:`CoverageReport` of plain tables; :func:`write_coverage` writes it as
``coverage.json``, ``coverage.md`` (with charts) and ``coverage.html`` (a map), and
:func:`failed_thresholds` says which thresholds of the config a strict run misses.

Every distance, area and length is measured in a projected CRS in metres (``metric_crs``,
UTM 51N by default) through a spatial index; distances are straight lines, so "walking
distance" is the usual planning approximation, not a route. Town-level features have no
place of their own and take part only where a name can speak for them.
"""

from __future__ import annotations

import re
from typing import Any, cast

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry

from ..categories import GUESS_PRECISIONS, PRECISIONS
from ..errors import InputError
from ..gazetteer import Gazetteer, normalise_name
from ..geocode import gazetteer_town, town_frame
from ..layers import mention_list, quantity_list
from .config import CheckConfig, load_check_config
from .report import (
    COMMITTEE_KINDS,
    FOLLOW_UP,
    KIND_LABELS,
    PRECISION_ORDER,
    CoverageReport,
    _category_rank,
    _label,
)

WGS84 = "EPSG:4326"
NEEDS_SURVEY = GUESS_PRECISIONS  # approximate, town: a guess needs a surveyed location

# Stated quantities that a geometry can be measured against, in square metres / metres.
AREA_UNITS = {"亩": 2000.0 / 3.0, "公顷": 1e4, "平方米": 1.0, "万平方米": 1e4, "平方公里": 1e6}
LENGTH_UNITS = {"公里": 1e3, "千米": 1e3, "米": 1.0}
# A residents' committee's short name is what a report writes ("罗南" for 罗南居委会).
_COMMITTEE_SUFFIX = re.compile(r"(居民委员会|居委会|居委)$")
_MATCH_ORDER = {"name": 0, "quote": 1, "distance": 2}
_REQUIRED = ("id", "name", "category", "year", "report", "quote", "precision")


# --------------------------------------------------------------------------- inputs
def _quantity_list(value: Any) -> list[dict[str, Any]]:
    """The quantities a geometry can be measured against: those with a numeric value."""
    return [q for q in quantity_list(value) if isinstance(q.get("value"), int | float)]


def _prepare(features: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """One tidy frame: WGS-84, id order, typed columns, and whether each has a place."""
    missing = [c for c in _REQUIRED if c not in features.columns]
    if missing:
        raise InputError(f"features lack column(s) {', '.join(missing)}")
    unknown = sorted(set(features["precision"].dropna()) - set(PRECISIONS))
    if unknown:
        raise InputError(f"features have unknown precision {unknown}")
    f = features if features.crs is not None else features.set_crs(WGS84)
    f = f.to_crs(WGS84).sort_values("id", kind="stable").reset_index(drop=True)

    def column(name: str, default: Any) -> pd.Series:
        """Optional columns: layers written before a property existed still check."""
        return f[name] if name in f.columns else pd.Series(default, index=f.index, dtype=object)

    years = pd.to_numeric(f["year"], errors="coerce")
    if years.isna().any():
        raise InputError(f"features without a year: {', '.join(f.loc[years.isna(), 'id'])}")
    f = f.assign(
        year=years.astype(int),
        uncertainty_m=pd.to_numeric(column("uncertainty_m", None), errors="coerce"),
        stated_count=pd.to_numeric(column("stated_count", None), errors="coerce")
        .round()
        .astype("Int64"),
        aggregate=column("aggregate", False).fillna(False).astype(bool),
        kind=column("kind", None),
        quantities=column("quantities", None).map(_quantity_list),
        status=column("status", None),
        town=column("town", None),
        mentions=column("mentions", None).map(mention_list),
        follow_up=column("follow_up", None),
        part=column("part", None).fillna(
            column("status", None).map({"planned": "plan"}).fillna("review")
        ),
    )
    f["uncertainty_m"] = f["uncertainty_m"].fillna(0.0).astype(float)
    f["kind"] = f["kind"].where(f["kind"].notna(), None)
    f["has_geometry"] = f.geometry.notna() & ~f.geometry.is_empty
    f["placed"] = f["has_geometry"] & (f["precision"] != "town")
    f["guess"] = f["precision"].isin(GUESS_PRECISIONS)
    return f


def _item(row: pd.Series) -> dict[str, Any]:
    return {
        "id": row["id"],
        "name": row["name"],
        "category": row["category"],
        "year": row["year"],
        "report": row["report"],
    }


def _town(
    f: gpd.GeoDataFrame, gazetteer_gdf: gpd.GeoDataFrame
) -> tuple[str | None, BaseGeometry, gpd.GeoDataFrame, list[str]]:
    """The gazetteer's town, its outline, and the features of that town.

    A gazetteer describes one town, so features of other towns (a multi-town build) are
    set aside for their own gazetteers; the district outline stands in for a town the
    gazetteer does not draw.
    """
    gazetteer = Gazetteer(gazetteer_gdf)
    towns = f["town"].dropna()
    wanted = gazetteer_town(gazetteer) or (str(towns.mode().iloc[0]) if len(towns) else None)
    frame = town_frame(gazetteer, wanted)
    notes = []
    if frame.name is None:
        notes.append(
            f"the gazetteer has no outline of {wanted or 'the town'}: "
            "the district outline stands in for it"
        )
    others = f["town"].notna() & (f["town"] != wanted)
    if others.any():
        names = "、".join(sorted(f.loc[others, "town"].unique()))
        notes.append(f"{int(others.sum())} feature(s) of {names} are left to their own gazetteers")
    outline = cast(BaseGeometry, frame.outline)  # a town frame has an outline
    return frame.name, outline, f[~others].reset_index(drop=True), notes


def _committees(gazetteer_gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    rows = gazetteer_gdf[gazetteer_gdf["kind"].isin(COMMITTEE_KINDS)]
    rows = rows.assign(
        _order=rows["kind"].map(COMMITTEE_KINDS.index), _code=rows["code"].fillna("").astype(str)
    )
    rows = rows.sort_values(["_order", "_code", "name"], kind="stable")
    return rows.drop(columns=["_order", "_code"]).reset_index(drop=True).to_crs(WGS84)


# --------------------------------------------------------------------------- checks
def _located(f: gpd.GeoDataFrame) -> list[dict[str, Any]]:
    """Per report, year and category: items and how well each is placed."""
    counts = (
        f.groupby(["report", "year", "category", "precision"], dropna=False)
        .size()
        .unstack("precision", fill_value=0)
        .reindex(columns=list(PRECISION_ORDER), fill_value=0)
        .reset_index()
    )
    counts = counts.assign(_order=[_category_rank(c) for c in counts["category"]])
    counts = counts.sort_values(["report", "year", "_order"], kind="stable")
    items = counts[list(PRECISION_ORDER)].sum(axis=1)
    return [
        {
            "report": r["report"],
            "year": r["year"],
            "category": r["category"],
            "category_label": _label(r["category"]),
            "items": int(n),
            **{p: int(r[p]) for p in PRECISION_ORDER},
            "unplaced": int(r["town"]),
            "located_share": round(1 - r["town"] / n, 3),
        }
        for (_, r), n in zip(counts.iterrows(), items, strict=True)
    ]


def _needs_survey(f: gpd.GeoDataFrame) -> list[dict[str, Any]]:
    rows = f[f["precision"].isin(NEEDS_SURVEY)]
    return [
        {**_item(r), "precision": r["precision"], "uncertainty_m": r["uncertainty_m"]}
        for _, r in rows.iterrows()
    ]


def _stated_vs_named(f: gpd.GeoDataFrame) -> list[dict[str, Any]]:
    """Counts the report states but does not fill with names: the unnamed rest."""
    listed = f[f["stated_count"].notna() & ~f["aggregate"]].assign(
        _key=lambda d: d["name"].map(normalise_name)
    )
    rows = []
    keys = ["report", "year", "category", "quote", "stated_count"]
    for key, group in listed.groupby(keys, sort=True):
        report, year, category, quote, stated = cast("tuple[Any, ...]", key)
        named = group["_key"].nunique()
        if named < stated:
            rows.append(
                {
                    "report": report,
                    "year": year,
                    "category": category,
                    "category_label": _label(category),
                    "type": "list",
                    "stated": int(stated),
                    "named": int(named),
                    "unnamed": int(stated - named),
                    "names": sorted(group["name"].unique()),
                    "ids": sorted(group["id"]),
                    "basis": "stated_count",
                    "quote": quote,
                }
            )
    for _, r in f[f["aggregate"] & f["stated_count"].notna()].iterrows():
        stated = int(r["stated_count"])
        rows.append(
            {
                "report": r["report"],
                "year": r["year"],
                "category": r["category"],
                "category_label": _label(r["category"]),
                "type": "aggregate",
                "stated": int(stated),
                "named": 0,
                "unnamed": int(stated),
                "names": [r["name"]],
                "ids": [r["id"]],
                "basis": "stated_count",
                "quote": r["quote"],
            }
        )
    return sorted(
        rows, key=lambda r: (r["report"], r["year"], _category_rank(r["category"]), r["ids"][0])
    )


def _quantities_vs_geometry(
    f: gpd.GeoDataFrame, metric: gpd.GeoSeries, config: CheckConfig
) -> list[dict[str, Any]]:
    """A stated area or length against the polygon or line that represents it."""
    records = [
        {"pos": i, **q}
        for i, qs in enumerate(f["quantities"])
        for q in qs
        if q.get("unit") in AREA_UNITS or q.get("unit") in LENGTH_UNITS
    ]
    if not records:
        return []
    q = pd.DataFrame(records)
    geoms = metric.values[q["pos"].to_numpy()]
    types = shapely.get_type_id(geoms)
    is_area = q["unit"].isin(list(AREA_UNITS)).to_numpy()
    factor = q["unit"].map({**AREA_UNITS, **LENGTH_UNITS}).to_numpy(dtype=float)
    measured = np.where(is_area, shapely.area(geoms), shapely.length(geoms)) / factor
    stated = q["value"].to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.maximum(stated / measured, measured / stated)
    fits = np.where(is_area, np.isin(types, (3, 6)), np.isin(types, (1, 2, 5)))
    flag = np.where(is_area, config.area_ratio_flag, config.length_ratio_flag)
    town = (f["precision"].to_numpy() == "town")[q["pos"].to_numpy()]
    status = np.select(
        [town, ~fits, ratio >= flag],
        ["town-level", np.where(is_area, "no polygon", "no line"), "flagged"],
        "ok",
    )
    compared = (status == "ok") | (status == "flagged")
    rows = []
    for i, (_, r) in enumerate(q.iterrows()):  # q has a RangeIndex
        feature = f.iloc[r["pos"]]
        rows.append(
            {
                **_item(feature),
                "precision": feature["precision"],
                "quantity": r.get("text") or f"{r['value']}{r['unit']}",
                "unit": r["unit"],
                "stated": float(r["value"]),
                "measured": round(float(measured[i]), 2) if compared[i] else None,
                "ratio": round(float(ratio[i]), 2) if compared[i] else None,
                "status": str(status[i]),
            }
        )
    return rows


def _outside_town(
    f: gpd.GeoDataFrame, metric: gpd.GeoSeries, outline_m: BaseGeometry
) -> list[dict[str, Any]]:
    """How far each feature reaches beyond the outline: its farthest vertex outside.

    A vertex (not the whole geometry) so that a line or polygon straying out is caught
    even where it also touches the town.
    """
    geoms = metric.values
    coords, owner = shapely.get_coordinates(geoms, return_index=True)
    shapely.prepare(outline_m)
    outside = ~shapely.contains_xy(outline_m, coords[:, 0], coords[:, 1])
    distance = np.zeros(len(coords))
    distance[outside] = shapely.distance(shapely.points(coords[outside]), outline_m)
    farthest = np.zeros(len(geoms))
    np.maximum.at(farthest, owner, distance)
    rows = [
        {
            **_item(r),
            "precision": r["precision"],
            "uncertainty_m": r["uncertainty_m"],
            "distance_m": round(float(d)),
            "outside": bool(d > r["uncertainty_m"]),
        }
        for (_, r), d in zip(f.iterrows(), farthest, strict=True)
        if d > 0.5  # below the six-decimal rounding of the layers: on the line, not outside
    ]
    return rows


def _committee_keys(committees: gpd.GeoDataFrame) -> list[list[str]]:
    """Every spelling of each committee a report may use: name, aliases, short name."""
    keys = []
    for name, kind, aliases in zip(
        committees["name"], committees["kind"], committees["aliases"], strict=True
    ):
        spellings = [name, *(aliases if isinstance(aliases, list) else [])]
        if kind == "residents_committee":
            spellings.append(_COMMITTEE_SUFFIX.sub("", name))
        keys.append(sorted({k for k in map(normalise_name, spellings) if len(k) >= 2}))
    return keys


def _village_coverage(
    f: gpd.GeoDataFrame,
    metric: gpd.GeoSeries,
    committees: gpd.GeoDataFrame,
    committees_m: gpd.GeoSeries,
    config: CheckConfig,
) -> list[dict[str, Any]]:
    """Which tasks of each year touch each committee, by name or by distance."""
    names = f["name"].map(normalise_name)
    quotes = f["quote"].fillna("").map(normalise_name)
    pairs = []
    for c, keys in enumerate(_committee_keys(committees)):
        if not keys:
            continue
        pattern = "|".join(map(re.escape, keys))
        in_name = names.str.contains(pattern, regex=True).to_numpy()
        in_quote = quotes.str.contains(pattern, regex=True).to_numpy()
        pairs += [(c, i, "name") for i in np.flatnonzero(in_name)]
        pairs += [(c, i, "quote") for i in np.flatnonzero(in_quote & ~in_name)]
    placed = np.flatnonzero(f["placed"].to_numpy())
    tree = gpd.GeoSeries(metric.values[placed]).sindex
    near_c, near_i = tree.query(
        committees_m.values, predicate="dwithin", distance=config.village_distance_m
    )
    pairs += [(c, placed[i], "distance") for c, i in zip(near_c, near_i, strict=True)]
    hits = pd.DataFrame(pairs, columns=["committee", "pos", "match"])
    hits = (
        hits.assign(_rank=hits["match"].map(_MATCH_ORDER))
        .sort_values(["committee", "pos", "_rank"])
        .drop_duplicates(["committee", "pos"])
    )
    hits = hits.assign(
        id=f["id"].to_numpy()[hits["pos"].to_numpy(dtype=np.intp)],
        name=f["name"].to_numpy()[hits["pos"].to_numpy(dtype=np.intp)],
        year=f["year"].to_numpy()[hits["pos"].to_numpy(dtype=np.intp)],
    )
    items: dict[int, list[dict[str, Any]]] = {}
    for record in hits[["committee", "id", "name", "year", "match"]].to_dict("records"):
        items.setdefault(record.pop("committee"), []).append(cast("dict[str, Any]", record))
    years = sorted(int(y) for y in f["year"].dropna().unique())
    counts = pd.crosstab(hits["committee"], hits["year"]).reindex(
        index=range(len(committees)), columns=years, fill_value=0
    )
    return [
        {
            "committee": name,
            "kind": kind,
            "code": code if pd.notna(code) else None,
            "tasks": len(items.get(c, [])),
            "by_year": {str(y): int(n) for y, n in zip(years, counts.loc[c], strict=True)},
            "items": items.get(c, []),
        }
        for c, (name, kind, code) in enumerate(
            zip(committees["name"], committees["kind"], committees["code"], strict=True)
        )
    ]


def _service_reach(
    f: gpd.GeoDataFrame,
    metric: gpd.GeoSeries,
    committees: gpd.GeoDataFrame,
    committees_m: gpd.GeoSeries,
    config: CheckConfig,
) -> list[dict[str, Any]]:
    """Share of residents' committees within walking distance of each kind of facility,
    with the reviewed facilities only (before) and with the planned ones added (after).

    Facilities and committee points whose position is a guess (approximate or town level)
    are left out unless ``config.reach_include_guesses``: a circle drawn round a point
    kilometres off says nothing about who lives within it."""
    keep = config.reach_include_guesses
    usable = ~committees["precision"].isin(GUESS_PRECISIONS) | keep
    residents = np.flatnonzero(((committees["kind"] == "residents_committee") & usable).to_numpy())
    facilities = f["category"].eq("facility") & f["kind"].isin(config.reach_kinds)
    used = f["placed"] & (~f["guess"] | keep)
    placed = np.flatnonzero((facilities & used).to_numpy())
    tree = gpd.GeoSeries(metric.values[placed]).sindex
    near_c, near_i = tree.query(
        committees_m.values[residents], predicate="dwithin", distance=config.walk_distance_m
    )
    hits = pd.DataFrame(
        {
            "committee": residents[near_c],
            "kind": f["kind"].values[placed[near_i]],
            "part": f["part"].values[placed[near_i]],
        }
    )
    total = len(residents)
    rows = []
    for kind in config.reach_kinds:
        of_kind = facilities & f["kind"].eq(kind)
        mine = hits[hits["kind"] == kind]
        before = set(mine.loc[mine["part"] == "review", "committee"])
        after = set(mine["committee"])
        rows.append(
            {
                "kind": kind,
                "kind_label": KIND_LABELS.get(kind, kind),
                "committees": total,
                "facilities_before": int((of_kind & used & f["part"].eq("review")).sum()),
                "facilities_after": int((of_kind & used).sum()),
                "town_level": int((of_kind & ~f["placed"]).sum()),
                "guesses": int((of_kind & f["guess"]).sum()),
                "reached_before": len(before),
                "reached_after": len(after),
                "share_before": round(len(before) / total, 3) if total else None,
                "share_after": round(len(after) / total, 3) if total else None,
                "unreached_after": [
                    committees["name"].iloc[c] for c in residents if c not in after
                ],
            }
        )
    return rows


def _flood_works(
    f: gpd.GeoDataFrame, metric: gpd.GeoSeries, config: CheckConfig
) -> list[dict[str, Any]]:
    """Each flood-prone point with the planned works near enough to drain or raise it."""
    flood = np.flatnonzero(f["category"].eq("flood_point").to_numpy())
    works = np.flatnonzero(
        (
            f["placed"] & f["part"].eq("plan") & f["category"].isin(config.flood_work_categories)
        ).to_numpy()
    )
    located = flood[f["placed"].to_numpy()[flood]]
    tree = gpd.GeoSeries(metric.values[works]).sindex
    near_p, near_w = tree.query(
        metric.values[located], predicate="dwithin", distance=config.flood_work_distance_m
    )
    pairs = pd.DataFrame({"pos": located[near_p], "work": works[near_w]})
    pairs["distance_m"] = shapely.distance(
        metric.values[pairs["pos"].to_numpy()], metric.values[pairs["work"].to_numpy()]
    ).round()
    pairs = pairs.sort_values(["pos", "distance_m", "work"])
    rows = []
    for pos in flood:
        point = f.iloc[pos]
        near = pairs[pairs["pos"] == pos]
        works_near = None  # a town-level point has no place to measure from
        if point["placed"]:
            works_near = [
                {
                    "id": f["id"].iloc[w],
                    "name": f["name"].iloc[w],
                    "category": f["category"].iloc[w],
                    "year": f["year"].iloc[w],
                    "distance_m": int(d),
                }
                for w, d in zip(near["work"], near["distance_m"], strict=True)
            ]
        rows.append({**_item(point), "precision": point["precision"], "works": works_near})
    return rows


def _guess_inputs(
    f: gpd.GeoDataFrame, committees: gpd.GeoDataFrame, config: CheckConfig
) -> dict[str, dict[str, Any]]:
    """For each figure measured by distance, how many of its inputs are guesses
    (approximate or town level) and whether they were left out.

    Inputs: facilities of the reach kinds and residents' committees (service reach);
    flood-prone points and the planned works of the flood categories (flood works);
    committees and tasks (village coverage by distance)."""
    committee_guess = committees["precision"].isin(GUESS_PRECISIONS)
    residents = committees["kind"] == "residents_committee"
    facilities = f["category"].eq("facility") & f["kind"].isin(config.reach_kinds)
    flood = f["category"].eq("flood_point")
    works = f["part"].eq("plan") & f["category"].isin(config.flood_work_categories)

    def count(features: pd.Series, points: pd.Series, excluded: bool) -> dict[str, Any]:
        return {
            "inputs": int(features.sum() + points.sum()),
            "guesses": int((features & f["guess"]).sum() + (points & committee_guess).sum()),
            "excluded": excluded,
        }

    none = pd.Series(False, index=committees.index)
    return {
        "service_reach": count(facilities, residents, not config.reach_include_guesses),
        "flood_works": count(flood | works, none, False),
        "villages": count(pd.Series(True, index=f.index), ~none, False),
    }


def _reports(f: gpd.GeoDataFrame) -> list[str]:
    """Every report the features draw on, including mentions merged into linked features."""
    found = set(f["report"].dropna())
    found |= {m["report"] for ms in f["mentions"] for m in ms if m.get("report")}
    return sorted(found)


def _follow_up(f: gpd.GeoDataFrame) -> list[dict[str, Any]]:
    """Tasks one report plans for a year, and what a later report's review says of them.

    Linked layers (``link.py``) already carry the answer in ``follow_up``; otherwise a
    plan item counts as followed up when a review of its year in another report has an
    item of the same normalised name, or names it in a quote.
    """
    if f["follow_up"].notna().any():
        return _linked_follow_up(f)
    plan = f[f["part"] == "plan"].assign(_key=lambda d: d["name"].map(normalise_name))
    review = f[f["part"] == "review"].assign(
        _key=lambda d: d["name"].map(normalise_name),
        _quote=lambda d: d["quote"].fillna("").map(normalise_name),
    )
    pairs = plan[["id", "report", "year", "_key"]].merge(
        review[["report", "year", "status", "_key", "_quote"]], on="year", suffixes=("", "_later")
    )
    pairs = pairs[pairs["report"] != pairs["report_later"]]
    same_name = (pairs["_key"] == pairs["_key_later"]).to_numpy()
    in_quote = np.array(
        [k in q for k, q in zip(pairs["_key"], pairs["_quote"], strict=True)], dtype=bool
    )
    reviewed = pairs.groupby("id")["report_later"].agg(lambda s: ", ".join(sorted(set(s))))
    matched = same_name | in_quote
    found = pairs[matched].assign(_how=np.where(same_name[matched], "name", "quote"))
    # The best evidence first: a same-name item, then the latest report's.
    found = found.sort_values(["id", "_how", "report_later"], ascending=[True, True, False])
    found = found.drop_duplicates("id").set_index("id")
    rows = []
    for _, r in plan.iterrows():
        if r["id"] in found.index:
            hit = found.loc[r["id"]]
            status = "delivered" if hit["status"] == "completed" else "in_progress"
            later, how = hit["report_later"], hit["_how"]
        elif r["id"] in reviewed.index:
            status, later, how = "not_mentioned", reviewed[r["id"]], None
        else:
            status, later, how = "pending", None, None
        rows.append({**_item(r), "status": status, "later_report": later, "match": how})
    return rows


def _linked_follow_up(f: gpd.GeoDataFrame) -> list[dict[str, Any]]:
    """The links' verdicts, with the reports that planned and reviewed each year."""
    reviewed_by: dict[int, set[str]] = {}
    for mentions in f["mentions"]:
        for m in mentions:
            if m.get("part") == "review" and m.get("report"):
                reviewed_by.setdefault(m.get("year"), set()).add(m["report"])
    rows = []
    for _, r in f[f["follow_up"].notna()].iterrows():
        of_year = [m for m in r["mentions"] if m.get("year") == r["year"]]
        planned = sorted({m["report"] for m in of_year if m.get("part") == "plan"})
        later = sorted({m["report"] for m in of_year if m.get("part") == "review"})
        if r["follow_up"] == "not_mentioned":  # silent: the reviews that leave it out
            later = sorted(reviewed_by.get(r["year"], ()))
        rows.append(
            {
                **_item(r),
                "report": ", ".join(planned) or r["report"],
                "status": r["follow_up"],
                "later_report": ", ".join(later) or None,
                "match": "linked",
            }
        )
    return rows


# --------------------------------------------------------------------------- run
def run_checks(
    features: gpd.GeoDataFrame,
    gazetteer_gdf: gpd.GeoDataFrame,
    config: CheckConfig | None = None,
) -> CoverageReport:
    """Run every check on the features of one or more reports.

    Parameters
    ----------
    features : GeoDataFrame
        The layers (``layers.read_layers``): one row per feature with the properties of
        docs/architecture.md.
    gazetteer_gdf : GeoDataFrame
        The gazetteer (``gazetteer.load_gazetteer``): the town outline, the district and
        the village and residents' committees.
    config : CheckConfig, optional
        Thresholds and distances; the packaged defaults otherwise.
    """
    config = config or load_check_config()
    town, outline, f, notes = _town(_prepare(features), gazetteer_gdf)
    metric = f.geometry.to_crs(config.metric_crs)
    outline_m = gpd.GeoSeries([outline], crs=WGS84).to_crs(config.metric_crs).iloc[0]
    committees = _committees(gazetteer_gdf)
    committees_m = committees.geometry.to_crs(config.metric_crs)
    if committees.empty:
        notes.append("the gazetteer lists no village or residents' committees")

    located = _located(f)
    placed = cast(gpd.GeoSeries, metric[f["has_geometry"]])
    outside = _outside_town(f[f["has_geometry"]], placed, outline_m)
    villages = _village_coverage(f, metric, committees, committees_m, config)
    reach = _service_reach(f, metric, committees, committees_m, config)
    quantities = _quantities_vs_geometry(f, metric, config)
    stated = _stated_vs_named(f)
    flood = _flood_works(f, metric, config)
    reports = _reports(f)
    follow_up = _follow_up(f) if len(reports) > 1 else []
    if len(reports) < 2:
        notes.append(
            "follow-up across reports needs two or more reports; "
            f"the features come from {len(reports)}"
        )

    checks = {
        "located": located,
        "needs_survey": _needs_survey(f),
        "stated_vs_named": stated,
        "quantities": quantities,
        "outside_town": outside,
        "villages": villages,
        "service_reach": reach,
        "flood_works": flood,
        "follow_up": follow_up,
    }
    summary = _summary(f, checks, reports)
    summary["guess_inputs"] = _guess_inputs(f, committees, config)
    frames = _frames(f, metric, committees, villages, outside, outline, config)
    return CoverageReport(town, summary, checks, notes, config, frames)


def _summary(
    f: gpd.GeoDataFrame, checks: dict[str, list[dict[str, Any]]], reports: list[str]
) -> dict[str, Any]:
    items = len(f)
    placed = int((f["precision"] != "town").sum())
    precision = f["precision"].value_counts()
    villages = checks["villages"]
    uncovered = [v for v in villages if v["tasks"] == 0]
    quantities = checks["quantities"]
    follow = pd.Series([r["status"] for r in checks["follow_up"]], dtype=object)
    return {
        "reports": reports,
        "items": items,
        "located": placed,
        "located_share": round(placed / items, 3) if items else None,
        "by_precision": {p: int(precision.get(p, 0)) for p in PRECISION_ORDER},
        "needs_survey": len(checks["needs_survey"]),
        "unnamed_items": sum(r["unnamed"] for r in checks["stated_vs_named"]),
        "quantities_compared": sum(r["status"] in ("ok", "flagged") for r in quantities),
        "quantities_flagged": sum(r["status"] == "flagged" for r in quantities),
        "features_outside": sum(r["outside"] for r in checks["outside_town"]),
        "features_beyond_outline_within_uncertainty": sum(
            not r["outside"] for r in checks["outside_town"]
        ),
        "committees": len(villages),
        "committees_without_task": len(uncovered),
        "without_task_by_kind": {
            k: sum(v["kind"] == k for v in uncovered) for k in COMMITTEE_KINDS
        },
        "service_reach": {
            r["kind"]: {"before": r["share_before"], "after": r["share_after"]}
            for r in checks["service_reach"]
        },
        "flood_points": len(checks["flood_works"]),
        "flood_points_without_works": sum(r["works"] == [] for r in checks["flood_works"]),
        "follow_up": {s: int((follow == s).sum()) for s in FOLLOW_UP} if len(reports) > 1 else None,
    }


def _frames(
    f: gpd.GeoDataFrame,
    metric: gpd.GeoSeries,
    committees: gpd.GeoDataFrame,
    villages: list[dict[str, Any]],
    outside: list[dict[str, Any]],
    outline: BaseGeometry,
    config: CheckConfig,
) -> dict[str, gpd.GeoDataFrame]:
    """Geometries for the map and the charts, in WGS-84."""
    tasks = committees[["name", "kind", "geometry"]].assign(
        tasks=[v["tasks"] for v in villages],
        by_year=[v["by_year"] for v in villages],
    )
    reach = f["category"].eq("facility") & f["kind"].isin(config.reach_kinds) & f["placed"]
    reach &= ~f["guess"] | config.reach_include_guesses
    buffers = gpd.GeoDataFrame(
        f.loc[reach, ["id", "name", "kind", "part", "year"]].reset_index(drop=True),
        geometry=cast(gpd.GeoSeries, metric[reach])
        .buffer(config.walk_distance_m)
        .to_crs(WGS84)
        .values,
        crs=WGS84,
    )
    far = f[f["id"].isin([r["id"] for r in outside if r["outside"]])]
    distance = {r["id"]: r["distance_m"] for r in outside}
    beyond = gpd.GeoDataFrame(
        far[["id", "name", "category", "year", "uncertainty_m"]]
        .assign(distance_m=far["id"].map(distance))
        .reset_index(drop=True),
        geometry=far.geometry.representative_point().values,
        crs=WGS84,
    )
    return {
        "outline": gpd.GeoDataFrame({"name": ["town"]}, geometry=[outline], crs=WGS84),
        "committees": tasks,
        "reach": buffers,
        "outside": beyond,
    }
