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
from .categories import CATEGORIES
from .errors import GeocodingError, InputError
from .gazetteer import Gazetteer, guess_uncertainty
from .gisfile import SURVEYED_UNCERTAINTY_M, check_lon_lat, read_layers, to_wgs84
from .layers import PROPERTIES
from .link import Entity, link_items, reviewed_years
from .model import Item

if TYPE_CHECKING:
    from .providers import OnlineGeocoder

log = logging.getLogger("luodian_map.geocode")

METRIC_CRS = "EPSG:32651"  # UTM 51N: metres around Shanghai
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


def load_overrides(path: str | Path, crs: str | None = None) -> gpd.GeoDataFrame:
    """A planner's own locations, by id or name, from any file :mod:`gisfile` reads.

    ``crs`` is the coordinate system of the file's coordinates (a datum such as ``gcj02``,
    an EPSG code, a PROJ string); by default the one the file states, else WGS-84.
    Returned in WGS-84 with columns ``id``, ``name``, ``precision``, ``uncertainty_m``.
    """
    path = Path(path)
    where = f"{path}"
    frames = [to_wgs84(layer.frame, crs, where, default="wgs84")[0]
              for layer in read_layers(path, what="overrides")]  # fmt: skip
    frame = gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), crs="EPSG:4326")
    keys = [c for c in ("id", "name") if c in frame.columns]
    if not keys:
        raise InputError(f"{path}: overrides need an 'id' or a 'name' column to match items")
    frame = frame[frame.geometry.notna() & ~frame.geometry.is_empty]
    if frame.empty:
        raise InputError(f"{path}: no feature with a geometry")
    check_lon_lat(frame.geometry, where)
    geometry = shapely.make_valid(np.asarray(frame.geometry.values))
    result = pd.DataFrame(
        {
            "id": frame.get("id", None),
            "name": frame.get("name", None),
            "precision": frame.get("precision", pd.Series("surveyed", index=frame.index)),
            "uncertainty_m": frame.get(
                "uncertainty_m", pd.Series(SURVEYED_UNCERTAINTY_M, index=frame.index)
            ),
        }
    )
    result["precision"] = result["precision"].replace("", None).fillna("surveyed")
    result["uncertainty_m"] = pd.to_numeric(result["uncertainty_m"], errors="coerce").fillna(
        SURVEYED_UNCERTAINTY_M
    )
    return gpd.GeoDataFrame(result, geometry=list(geometry), crs="EPSG:4326")


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
        keys = [f"id:{entity.id}", *(f"id:{i.id}" for i in entity.items)]
        keys += [f"name:{name}" for name in entity.names]
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
    requests per client, and their answers go to one cache file.
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
