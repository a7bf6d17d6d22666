"""Geocoding: place every item, as honestly as the data allows.

The chain, first hit wins, and each feature records the step that placed it
(``geocoder``): a planner's **overrides** → the **gazetteer** (exact, alias, fuzzy, then
the enclosing place) → an **online provider** through geopy, whose answers are kept in a
persistent **cache** → the **town** itself. Aggregates that the report states without a
place ("处置564亩低效产业用地") go straight to the town unless the gazetteer knows them.
Nothing is presented as better located than it is: ``precision`` and ``uncertainty_m``
travel with every feature, and whatever only the town could hold is listed as unlocated.
"""

from __future__ import annotations

import json
import logging
import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry

from ._process import Mapper
from .categories import CATEGORIES, PRECISIONS
from .errors import GeocodingError, InputError
from .gazetteer import Gazetteer, guess_uncertainty
from .gisfile import SURVEYED_UNCERTAINTY_M, check_lon_lat, read_layers, to_wgs84
from .layers import PROPERTIES
from .link import Entity, link_items, reviewed_years
from .model import Item

if TYPE_CHECKING:
    from .providers import OnlineGeocoder

log = logging.getLogger("luodian_map.geocode")

# A sub-place located by its enclosing place ("王家村沈六房" in 王家村) lies somewhere in it.
PARENT_EXTRA_UNCERTAINTY_M = 500.0


@dataclass(frozen=True)
class Placement:
    geometry: BaseGeometry | None  # None: nothing known about where the town is
    geocoder: str
    precision: str
    uncertainty_m: float | None


@dataclass(frozen=True)
class TownFrame:
    """Where a town's items may lie: its outline, and the district bounding every location.

    For a town the tool has no gazetteer for, the outline is its district's (if a known
    gazetteer has that district) or unknown (None): its items are then not on the map.
    """

    name: str | None
    outline: BaseGeometry | None
    district: BaseGeometry | None
    level: str = "town"  # "town", or "district" when only the district is known
    outline_uncertainty_m: float = 0.0
    district_name: str | None = None  # the gazetteer's district row, when there is one
    district_code: str | None = None  # its 12-digit statistical code

    @cached_property
    def radius_m(self) -> float | None:
        """How far off the town's own point can be: the radius of an unanchored guess there."""
        if self.outline is None:
            return None
        point = np.array([shapely.point_on_surface(self.outline)], dtype=object)
        return float(
            guess_uncertainty(point, np.array([0.0]), self.outline, self.outline_uncertainty_m)[0]
        )


def town_frame(gazetteer: Gazetteer, town: str | None = None) -> TownFrame:
    """The gazetteer's town (by name, else its only town) and its district."""
    gdf = gazetteer.gdf
    towns = gdf[gdf["kind"] == "town"]
    districts = gdf[gdf["kind"] == "district"]
    if districts.empty:
        raise InputError("gazetteer: no feature of kind 'district' to bound the locations")
    chosen = towns[towns["name"] == town] if town else towns.iloc[0:0]
    if chosen.empty and len(towns) == 1:
        chosen = towns
    row = chosen.iloc[0] if not chosen.empty else districts.iloc[0]
    name = chosen["name"].iloc[0] if not chosen.empty else None
    return TownFrame(
        name,
        row.geometry,
        shapely.union_all(districts.geometry.values),
        "town",
        float(row["uncertainty_m"]),
        *(_district_row(districts.iloc[0]) if len(districts) == 1 else (None, None)),
    )


def gazetteer_town(gazetteer: Gazetteer) -> str | None:
    """The town a gazetteer describes: the name of its feature of kind "town"."""
    towns = gazetteer.gdf[gazetteer.gdf["kind"] == "town"]["name"]
    return towns.iloc[0] if len(towns) == 1 else None


def district_frame(gazetteers: Iterable[Gazetteer], district: str | None) -> TownFrame:
    """For a town without a gazetteer: its district's outline, if any gazetteer has it."""
    for gazetteer in gazetteers:
        gdf = gazetteer.gdf
        found = gdf[(gdf["kind"] == "district") & (gdf["name"] == district)]
        if district and not found.empty:
            outline = found.geometry.iloc[0]
            uncertainty = float(found["uncertainty_m"].iloc[0])
            return TownFrame(
                None, outline, outline, "district", uncertainty, *_district_row(found.iloc[0])
            )
    return TownFrame(None, None, None, level="none")


def _district_row(row: pd.Series) -> tuple[str | None, str | None]:
    """The name and code of a gazetteer's district row, as :class:`TownFrame` keeps them."""
    code = row.get("code")
    return str(row["name"]), code if isinstance(code, str) else None


def load_overrides(
    path: str | Path, crs: str | None = None, *, layer: str | None = None
) -> gpd.GeoDataFrame:
    """A planner's own locations, by id or name, from any file :mod:`gisfile` reads.

    Parameters
    ----------
    path
        The overrides file.
    crs
        The coordinate system of every coordinate in the file (a datum such as ``gcj02``,
        an EPSG code, a PROJ string). By default each feature's ``crs`` property (the map
        page's edit tools write one), else the one the file states, else WGS-84.
    layer
        The layer to read from a file with several (a GeoPackage); KML and KMZ folders are
        read together.

    Returns
    -------
    geopandas.GeoDataFrame
        In WGS-84, with columns ``id``, ``name`` (text or None), ``precision`` and
        ``uncertainty_m`` (5 m, ``surveyed``, when the file leaves them empty).

    Raises
    ------
    InputError
        An unreadable file, several layers and none chosen, no id or name column, a
        feature with a bad ``precision``, ``uncertainty_m`` or ``crs`` (named), an id
        given twice, a name given twice without ids, coordinates outside China.
    """
    path = Path(path)
    layers = read_layers(path, layer=layer, what="overrides")
    if len(layers) > 1 and path.suffix.lower() not in (".kml", ".kmz"):
        names = ", ".join(each.name for each in layers)
        raise InputError(
            f"{path}: {len(layers)} layers ({names}); choose the one with the overrides "
            "(--overrides-layer NAME)"
        )
    frames = [_in_wgs84(each.frame, crs, path) for each in layers]
    frame = gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), crs="EPSG:4326")
    if not any(c in frame.columns for c in ("id", "name")):
        raise InputError(f"{path}: overrides need an 'id' or a 'name' column to match items")
    labels = _labels(frame)
    frame = frame[frame.geometry.notna() & ~frame.geometry.is_empty]
    if frame.empty:
        raise InputError(f"{path}: no feature with a geometry")
    check_lon_lat(frame.geometry, f"{path}")
    rows = list(zip(_values(frame, "precision"), _values(frame, "uncertainty_m"),
                    labels[frame.index], strict=True))  # fmt: skip
    result = pd.DataFrame(
        {
            "id": _texts(frame, "id"),
            "name": _texts(frame, "name"),
            "precision": [_precision(value, label, path) for value, _, label in rows],
            "uncertainty_m": [_uncertainty(value, label, path) for _, value, label in rows],
        }
    )
    _check_unique(result, path)
    geometry = shapely.make_valid(np.asarray(frame.geometry.values))
    return gpd.GeoDataFrame(result, geometry=list(geometry), crs="EPSG:4326")


def _in_wgs84(frame: gpd.GeoDataFrame, crs: str | None, path: Path) -> gpd.GeoDataFrame:
    """One layer in WGS-84: in ``crs`` if given, else each feature in the CRS its ``crs``
    property names, else in the file's."""
    if crs is not None or "crs" not in frame.columns:
        return to_wgs84(frame, crs, f"{path}", default="wgs84")[0]
    stated = pd.Series(_texts(frame, "crs"), index=frame.index, dtype=object).fillna("")
    labels = _labels(frame)
    parts = []
    for value in dict.fromkeys(stated):
        rows = frame[(stated == value).to_numpy()]
        try:
            parts.append(to_wgs84(rows, str(value) or None, f"{path}", default="wgs84")[0])
        except InputError as error:
            raise InputError(f"{path}: {labels[rows.index[0]]}: crs {value!r}: {error}") from None
    return gpd.GeoDataFrame(pd.concat(parts).sort_index(), crs="EPSG:4326")


def _texts(frame: pd.DataFrame, column: str) -> list[str | None]:
    """Ids, names or CRSs as text (``123`` and ``123.0`` as "123"), a missing or empty one
    as None."""
    return [_text(value) for value in _values(frame, column)]


def _text(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value) if str(value).strip() else None


def _labels(frame: pd.DataFrame) -> pd.Series:
    """How an error names each feature: its place in the file and its name or id."""
    pairs = zip(_texts(frame, "id"), _texts(frame, "name"), strict=True)
    labels = [f"feature {n} ({name or id_ or 'no id or name'})"
              for n, (id_, name) in enumerate(pairs, start=1)]  # fmt: skip
    return pd.Series(labels, index=frame.index)


def _values(frame: pd.DataFrame, column: str) -> list[Any]:
    return frame[column].tolist() if column in frame.columns else [None] * len(frame)


def _precision(value: Any, label: str, path: Path) -> str:
    text = _text(value)
    if text is None:
        return "surveyed"
    if text.strip().lower() not in PRECISIONS:
        raise InputError(
            f"{path}: {label}: precision {value!r} is not one of {', '.join(PRECISIONS)}"
        )
    return text.strip().lower()


def _uncertainty(value: Any, label: str, path: Path) -> float:
    if _text(value) is None:
        return SURVEYED_UNCERTAINTY_M
    try:
        metres = float(value) if not isinstance(value, bool) else math.nan
    except (TypeError, ValueError):
        metres = math.nan
    if not (math.isfinite(metres) and metres >= 0):
        raise InputError(
            f"{path}: {label}: uncertainty_m {value!r} is not a distance in metres "
            "(a number, 0 or more)"
        )
    return metres


def _check_unique(overrides: pd.DataFrame, path: Path) -> None:
    """An id given twice, or a name given twice by features without an id, would be
    matched by whichever comes first in the file: an error."""
    ids = overrides["id"].dropna()
    names = overrides.loc[overrides["id"].isna(), "name"].dropna()
    for key, values in (("id", ids), ("name", names)):
        twice = values[values.duplicated()]
        if not twice.empty:
            value = twice.iloc[0]
            count = int((values == value).sum())
            raise InputError(
                f"{path}: {key} {value!r} is given {count} times; keep one feature per "
                f"{key} (a MultiPolygon or MultiLineString for a place in parts)"
            )


def match_keys(entity: Entity) -> list[str]:
    """What an override can match an entity by, first match first: its id, its items' ids,
    its features' ids (as in ``items.csv`` and the map page's export), then its names."""
    return [
        f"id:{entity.id}",
        *(f"id:{item.id}" for item in entity.items),
        *(f"id:{entity.id}-{year}" for year in entity.years()),
        *(f"name:{name}" for name in entity.names),
    ]


def unmatched_overrides(overrides: gpd.GeoDataFrame, entities: Iterable[Entity]) -> list[str]:
    """The overrides that match no entity, each as ``id=… name=…``."""
    known = {key for entity in entities for key in match_keys(entity)}
    unmatched = []
    for id_, name in zip(overrides["id"], overrides["name"], strict=True):
        given = [(key, value) for key, value in (("id", id_), ("name", name)) if value]
        if not known.intersection(f"{key}:{value}" for key, value in given):
            unmatched.append(" ".join(f"{key}={value}" for key, value in given))
    return unmatched


class GeocoderChain:
    """Overrides → gazetteer → (cache +) online provider → town, for one town's entities."""

    def __init__(
        self,
        gazetteer: Gazetteer | None,
        frame: TownFrame,
        *,
        overrides: gpd.GeoDataFrame | None = None,
        online: OnlineGeocoder | None = None,
    ) -> None:
        self.gazetteer = gazetteer
        self.frame = frame
        self.online = online
        self._overrides: dict[str, pd.Series] = {}
        if overrides is not None:
            self._index_overrides(overrides)

    def _index_overrides(self, overrides: gpd.GeoDataFrame) -> None:
        if self.frame.district is not None:
            outside = overrides[~overrides.geometry.intersects(self.frame.district)]
            if not outside.empty:
                names = ", ".join(str(n) for n in outside["name"].fillna(outside["id"]).head(3))
                raise GeocodingError(
                    f"overrides: {len(outside)} geometries outside the district ({names})"
                )
        for _, row in overrides.iterrows():
            for key in ("id", "name"):
                if isinstance(row[key], str) and row[key]:
                    self._overrides.setdefault(f"{key}:{row[key]}", row)

    def place(self, entity: Entity) -> tuple[Placement, str | None]:
        """Where the entity is, and why it is only the town if so."""
        row = self._override(entity) if self._overrides else None
        if row is not None:
            return Placement(
                row.geometry, "overrides", row["precision"], float(row["uncertainty_m"])
            ), None
        gazetteer = self.gazetteer
        matches = (gazetteer.match(name) for name in entity.names) if gazetteer is not None else ()
        for match in matches:
            if match is not None and match.row["kind"] not in ("district", "town"):
                found = match.row
                parent = match.method == "parent"
                extra = PARENT_EXTRA_UNCERTAINTY_M if parent else 0.0
                return Placement(
                    found.geometry,
                    "gazetteer",
                    "approximate" if parent else found["precision"],
                    float(found["uncertainty_m"]) + extra,
                ), None
        if entity.items[-1].aggregate:
            return self._town, "the report states it for the whole town, without a place"
        if self.online is not None:
            candidate = self.online.geocode(entity.name, context=self._context(entity))
            if candidate is not None:
                # where the answer came from, not whether it was cached: a rebuild with a
                # warm cache gives the same layers
                return Placement(
                    shapely.Point(candidate.lon, candidate.lat),
                    candidate.provider,
                    candidate.precision,
                    candidate.uncertainty_m,
                ), None
            return self._town, f"{self.online.provider} found nothing in the district"
        return self._town, self._why_not_found()

    def _override(self, entity: Entity) -> pd.Series | None:
        keys = match_keys(entity)
        return next((self._overrides[k] for k in keys if k in self._overrides), None)

    def _why_not_found(self) -> str:
        if self.gazetteer is None:
            return "no gazetteer for this town under geodata/; no online provider was chosen"
        return "not in the gazetteer, and no online provider was chosen"

    def _context(self, entity: Entity) -> str:
        item = entity.items[-1]
        return f"{self.frame.district_name or item.district or ''}{item.town or ''}"

    @cached_property
    def _town(self) -> Placement:
        """The town itself: one placement, made once, for everything only the town holds."""
        if self.frame.outline is None:
            return Placement(None, "none", "town", None)
        return Placement(
            shapely.point_on_surface(self.frame.outline),
            self.frame.level,
            "town",
            self.frame.radius_m,
        )


def geocode_items(
    items: Sequence[Item],
    gazetteers: Gazetteer | Mapping[str | None, Gazetteer],
    *,
    overrides: gpd.GeoDataFrame | None = None,
    online: OnlineGeocoder | Callable[[TownFrame], OnlineGeocoder] | None = None,
    mapper: Mapper | None = None,
    strict: bool = False,
    warn: Callable[[str], None] | None = None,
) -> tuple[gpd.GeoDataFrame, list[dict[str, Any]]]:
    """Features (WGS-84, the docs/architecture.md properties) and those only the town could hold.

    Items are linked into entities first (see :mod:`link`); each entity is placed once and
    becomes one feature per year it is mentioned in. ``gazetteers`` maps town names to
    their gazetteer; a single gazetteer serves its own town. ``online`` is a geocoder, or
    a factory that makes one for a town (towns may lie in different districts).
    It is given the town's :class:`TownFrame` (the district polygon every answer must lie
    in, and the district's code that narrows the search).
    ``mapper`` places each town's entities as one task (e.g. on a Dask cluster); it is not
    used with ``online``, whose look-ups stay in this process: providers limit the
    requests per client, and their answers go to one cache file. Overrides that match no
    item are named in one line to ``warn`` (else the log), or with ``strict`` an error.
    """
    if isinstance(gazetteers, Gazetteer):
        gazetteers = {gazetteer_town(gazetteers): gazetteers}
    chains: dict[str | None, GeocoderChain] = {}
    for item in items:
        if item.town not in chains:
            gazetteer = gazetteers.get(item.town)
            frame = (
                town_frame(gazetteer, item.town)
                if gazetteer is not None
                else district_frame(gazetteers.values(), item.district)
            )
            chains[item.town] = GeocoderChain(
                gazetteer, frame, overrides=overrides, online=_online_for(online, frame)
            )
    reviewed = reviewed_years(items)
    records, geometries, unlocated = [], [], []
    entities = link_items(items, gazetteers)
    if overrides is not None:
        _report_unmatched(unmatched_overrides(overrides, entities), strict, warn)
    placements = _place(entities, chains, None if online is not None else mapper)
    for entity, (placement, reason) in zip(entities, placements, strict=True):
        mentions = entity.mentions()  # the same for every year's feature
        for year in entity.years():
            mention = entity.mention_for(year)
            feature_id = f"{entity.id}-{year}"
            records.append(
                {
                    "id": feature_id,
                    "name": entity.name,
                    "category": entity.category,
                    "category_label": CATEGORIES[entity.category].label_zh,
                    "year": mention.year,
                    "status": mention.status,
                    "report": mention.report,
                    "part": mention.part,
                    "section": mention.section,
                    "quote": mention.quote,
                    "quantities": [q.to_dict() for q in mention.quantities],
                    "geocoder": placement.geocoder,
                    "precision": placement.precision,
                    "uncertainty_m": placement.uncertainty_m,
                    "kind": mention.kind,
                    "aggregate": mention.aggregate,
                    "stated_count": mention.stated_count,
                    "town": mention.town,
                    "entity": entity.id,
                    "parent": entity.parent,
                    "mentions": mentions,
                    "follow_up": entity.follow_up(year, reviewed[entity.town]),
                }
            )
            geometries.append(placement.geometry)
            if reason is not None:
                unlocated.append(
                    {
                        "id": feature_id,
                        "name": entity.name,
                        "category": entity.category,
                        "year": year,
                        "report": mention.report,
                        "reason": reason,
                    }
                )
    features = gpd.GeoDataFrame(
        pd.DataFrame.from_records(records, columns=list(PROPERTIES)),
        # types-geopandas 1.1 leaves out the None (no geometry) that geopandas takes
        geometry=geometries,  # type: ignore[arg-type]
        crs="EPSG:4326",
    )
    _log_summary(features)
    return features, unlocated


def _report_unmatched(
    unmatched: list[str], strict: bool, warn: Callable[[str], None] | None
) -> None:
    if not unmatched:
        return
    shown = "; ".join(unmatched[:10]) + (
        f"; and {len(unmatched) - 10} more" if len(unmatched) > 10 else ""
    )
    message = f"overrides matching no item, not used ({len(unmatched)}): {shown}"
    if strict:
        raise InputError(f"{message} (--strict)")
    (warn or log.warning)(message)


def _place(
    entities: list[Entity], chains: dict[str | None, GeocoderChain], mapper: Mapper | None
) -> list[tuple[Placement, str | None]]:
    """Each entity's placement, in order: here, or one ``mapper`` task per town."""
    if mapper is None:
        return [chains[entity.town].place(entity) for entity in entities]
    by_town: dict[str | None, list[int]] = defaultdict(list)
    for index, entity in enumerate(entities):
        by_town[entity.town].append(index)
    towns = sorted(by_town, key=str)
    jobs = [(chains[town], [entities[i] for i in by_town[town]]) for town in towns]
    placements: list[Any] = [None] * len(entities)
    for town, placed in zip(towns, mapper(place_entities, jobs), strict=True):
        for index, placement in zip(by_town[town], placed, strict=True):
            placements[index] = placement
    return placements


def place_entities(
    job: tuple[GeocoderChain, list[Entity]],
) -> list[tuple[Placement, str | None]]:
    """Place one town's entities with its chain (a task for a ``Mapper``)."""
    chain, entities = job
    return [chain.place(entity) for entity in entities]


def _online_for(
    online: OnlineGeocoder | Callable[[TownFrame], OnlineGeocoder] | None, frame: TownFrame
) -> OnlineGeocoder | None:
    if online is None or frame.district is None:
        return None
    from .providers import OnlineGeocoder  # only here: geopy loads with it

    return online if isinstance(online, OnlineGeocoder) else online(frame)


def _log_summary(features: gpd.GeoDataFrame) -> None:
    counts = features.groupby("geocoder").size().to_dict() if len(features) else {}
    log.info("placed %d items: %s", len(features), json.dumps(counts, ensure_ascii=False))


def items_from_json(path: str | Path) -> list[Item]:
    """Items as ``luodian-map extract`` wrote them."""
    path = Path(path)
    try:
        data = json.loads(path.read_text("utf-8"))
        return [Item.from_dict(entry) for entry in _as_list(data)]
    except (ValueError, TypeError, KeyError) as error:
        raise InputError(
            f"{path}: not an items file written by 'luodian-map extract' ({error})"
        ) from None


def _as_list(data: Any) -> Iterable[dict[str, Any]]:
    if not isinstance(data, list):
        raise ValueError("expected a JSON array of items")
    return data
