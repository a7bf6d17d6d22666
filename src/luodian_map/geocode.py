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
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry

from .crs import normalise_crs_name, transform_geometry
from .errors import GeocodingError, InputError
from .gazetteer import Gazetteer
from .layers import PROPERTIES
from .model import Item

if TYPE_CHECKING:
    from .providers import OnlineGeocoder

log = logging.getLogger("luodian_map.geocode")

METRIC_CRS = "EPSG:32651"  # UTM 51N: metres around Shanghai
# China's extent, to tell swapped lon/lat from coordinates that are merely wrong.
CHINA_BOUNDS = (73.0, 3.0, 136.0, 54.0)
SURVEYED_UNCERTAINTY_M = 5.0
# A sub-place located by its enclosing place ("王家村沈六房" in 王家村) lies somewhere in it.
PARENT_EXTRA_UNCERTAINTY_M = 500.0


@dataclass(frozen=True)
class Placement:
    geometry: BaseGeometry
    geocoder: str
    precision: str
    uncertainty_m: float


@dataclass(frozen=True)
class TownFrame:
    """The town's outline and the district that bounds every acceptable location."""

    name: str | None
    outline: BaseGeometry
    district: BaseGeometry

    @property
    def radius_m(self) -> float:
        """The radius of a circle as large as the town: how far off a town-level point is."""
        area = gpd.GeoSeries([self.outline], crs="EPSG:4326").to_crs(METRIC_CRS).area.iloc[0]
        return round(math.sqrt(area / math.pi), -1)


def town_frame(gazetteer: Gazetteer, town: str | None) -> TownFrame:
    """The town (by name, else the gazetteer's only town) and its district."""
    gdf = gazetteer.gdf
    towns = gdf[gdf["kind"] == "town"]
    districts = gdf[gdf["kind"] == "district"]
    if districts.empty:
        raise InputError("gazetteer: no feature of kind 'district' to bound the locations")
    chosen = towns[towns["name"] == town] if town else towns.iloc[0:0]
    if chosen.empty and len(towns) == 1:
        chosen = towns
    outline = chosen.geometry.iloc[0] if not chosen.empty else districts.geometry.iloc[0]
    name = chosen["name"].iloc[0] if not chosen.empty else None
    return TownFrame(name, outline, shapely.union_all(districts.geometry.values))


def load_overrides(path: str | Path, crs: str = "wgs84") -> gpd.GeoDataFrame:
    """A planner's own locations: GeoJSON, GeoPackage or CSV (``lon``, ``lat``), by id or name.

    Returned in WGS-84 with columns ``id``, ``name``, ``precision``, ``uncertainty_m``.
    """
    path = Path(path)
    source_crs = normalise_crs_name(crs)
    frame = _read_overrides(path)
    keys = [c for c in ("id", "name") if c in frame.columns]
    if not keys:
        raise InputError(f"{path}: overrides need an 'id' or a 'name' column to match items")
    frame = frame[frame.geometry.notna() & ~frame.geometry.is_empty]
    if frame.empty:
        raise InputError(f"{path}: no feature with a geometry")
    _check_lon_lat(frame.geometry, path)
    geometry = shapely.make_valid(np.asarray(frame.geometry.values))
    geometry = transform_geometry(geometry, source_crs, "wgs84")
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
    result["precision"] = result["precision"].fillna("surveyed")
    result["uncertainty_m"] = pd.to_numeric(result["uncertainty_m"], errors="coerce").fillna(
        SURVEYED_UNCERTAINTY_M
    )
    return gpd.GeoDataFrame(result, geometry=list(geometry), crs="EPSG:4326")


def _read_overrides(path: Path) -> gpd.GeoDataFrame:
    if not path.exists():
        raise InputError(f"{path}: overrides file not found")
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            table = pd.read_csv(path, encoding="utf-8-sig", dtype={"id": str, "name": str})
            missing = {"lon", "lat"} - set(table.columns)
            if missing:
                raise InputError(f"{path}: CSV overrides need columns lon and lat")
            lon = pd.to_numeric(table["lon"], errors="coerce")
            lat = pd.to_numeric(table["lat"], errors="coerce")
            if lon.isna().any() or lat.isna().any():
                raise InputError(f"{path}: lon/lat must be numbers in every row")
            return gpd.GeoDataFrame(table, geometry=gpd.points_from_xy(lon, lat))
        if suffix in (".geojson", ".json", ".gpkg"):
            return gpd.read_file(path)
    except InputError:
        raise
    except Exception as error:  # the readers raise many types for one cause: a broken file
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise InputError(f"{path}: cannot read overrides ({reason})") from None
    raise InputError(f"{path}: overrides must be .geojson, .gpkg or .csv")


def _check_lon_lat(geometries: gpd.GeoSeries, path: Path) -> None:
    """Coordinates must lie in China; swapped ones are recognised and named as such."""
    coords = shapely.get_coordinates(np.asarray(geometries.values))
    west, south, east, north = CHINA_BOUNDS
    lon, lat = coords[:, 0], coords[:, 1]
    inside = (lon >= west) & (lon <= east) & (lat >= south) & (lat <= north)
    if inside.all():
        return
    bad = coords[~inside][0]
    swapped = west <= bad[1] <= east and south <= bad[0] <= north
    hint = "lon and lat look swapped" if swapped else "outside China"
    raise InputError(f"{path}: coordinate ({bad[0]:g}, {bad[1]:g}) is {hint}; expected lon, lat")


class GeocoderChain:
    """Overrides → gazetteer → (cache +) online provider → town, for a list of items."""

    def __init__(
        self,
        gazetteer: Gazetteer,
        frame: TownFrame,
        *,
        overrides: gpd.GeoDataFrame | None = None,
        online: OnlineGeocoder | None = None,
    ) -> None:
        self.gazetteer = gazetteer
        self.frame = frame
        self.online = online
        self._by_id: dict[str, BaseGeometry] = {}
        self._by_name: dict[str, BaseGeometry] = {}
        self._override_rows: dict[str, pd.Series] = {}
        if overrides is not None:
            self._index_overrides(overrides)

    def _index_overrides(self, overrides: gpd.GeoDataFrame) -> None:
        outside = overrides[~overrides.geometry.intersects(self.frame.district)]
        if not outside.empty:
            names = ", ".join(str(n) for n in outside["name"].fillna(outside["id"]).head(3))
            raise GeocodingError(
                f"overrides: {len(outside)} geometries outside the district ({names})"
            )
        for _, row in overrides.iterrows():
            for key, table in (("id", self._by_id), ("name", self._by_name)):
                if isinstance(row[key], str) and row[key]:
                    table.setdefault(row[key], row.geometry)
                    self._override_rows.setdefault(f"{key}:{row[key]}", row)

    def place(self, item: Item) -> tuple[Placement, str | None]:
        """Where the item is, and why it is only the town if so."""
        for key, table in (("id", self._by_id), ("name", self._by_name)):
            value = getattr(item, key)
            if value in table:
                row = self._override_rows[f"{key}:{value}"]
                return Placement(
                    table[value], "overrides", row["precision"], float(row["uncertainty_m"])
                ), None
        match = self.gazetteer.match(item.name)
        if match is not None and match.row["kind"] not in ("district", "town"):
            row = match.row
            extra = PARENT_EXTRA_UNCERTAINTY_M if match.method == "parent" else 0.0
            precision = "approximate" if match.method == "parent" else row["precision"]
            return Placement(
                row.geometry, "gazetteer", precision, float(row["uncertainty_m"]) + extra
            ), None
        if item.aggregate:
            return self._town(), "the report states it for the whole town, without a place"
        if self.online is not None:
            candidate = self.online.geocode(item.name, context=self._context())
            if candidate is not None:
                step = "cache" if candidate.from_cache else candidate.provider
                return Placement(
                    shapely.Point(candidate.lon, candidate.lat),
                    step,
                    candidate.precision,
                    candidate.uncertainty_m,
                ), None
            return (
                self._town(),
                f"not in the gazetteer; {self.online.provider} found nothing in the district",
            )
        return self._town(), "not in the gazetteer, and no online provider was chosen"

    def _context(self) -> str:
        return f"上海市宝山区{self.frame.name or ''}"

    def _town(self) -> Placement:
        return Placement(
            shapely.point_on_surface(self.frame.outline), "town", "town", self.frame.radius_m
        )


def geocode_items(
    items: Sequence[Item],
    gazetteer: Gazetteer,
    *,
    overrides: gpd.GeoDataFrame | None = None,
    online: OnlineGeocoder | None = None,
) -> tuple[gpd.GeoDataFrame, list[dict[str, Any]]]:
    """Features (WGS-84, the DESIGN.md properties) and the items only the town could hold."""
    towns = {item.town for item in items}
    frames = {town: town_frame(gazetteer, town) for town in sorted(towns, key=str)}
    chains = {
        town: GeocoderChain(gazetteer, frame, overrides=overrides, online=online)
        for town, frame in frames.items()
    }
    records, geometries, unlocated = [], [], []
    for item in items:
        placement, reason = chains[item.town].place(item)
        data = item.to_dict()
        data.update(
            geocoder=placement.geocoder,
            precision=placement.precision,
            uncertainty_m=float(placement.uncertainty_m),
        )
        records.append({key: data.get(key) for key in PROPERTIES})
        geometries.append(placement.geometry)
        if reason is not None:
            unlocated.append(
                {
                    "id": item.id,
                    "name": item.name,
                    "category": item.category,
                    "year": item.year,
                    "report": item.report,
                    "reason": reason,
                }
            )
    features = gpd.GeoDataFrame(
        pd.DataFrame.from_records(records, columns=list(PROPERTIES)),
        geometry=geometries,
        crs="EPSG:4326",
    )
    _log_summary(features)
    return features, unlocated


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
