"""The town a place command works on: its folder under ``geodata/`` and its outline."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import NamedTuple

import geopandas as gpd
import shapely
from shapely.geometry.base import BaseGeometry

from ..errors import InputError


class TownArea(NamedTuple):
    """A town with a gazetteer: where its files live and the area its places must lie in.

    ``outline`` is the town feature's geometry and ``district`` the district's (WGS-84);
    ``outline_uncertainty_m`` is how far the outline itself may be off, so a check of
    "inside the town" can allow for it. ``gazetteer`` is the town's gazetteer with its
    place files, except the one a command is about to rewrite.
    """

    name: str
    folder: Path
    outline: BaseGeometry
    district: BaseGeometry | None
    outline_uncertainty_m: float
    gazetteer: gpd.GeoDataFrame


def find_town(
    geodata: str | Path, town: str | None = None, *, rewriting: str | None = None
) -> TownArea:
    """The town called ``town`` (or the only town) among the gazetteers under ``geodata``.

    ``rewriting`` names the place file (``osm.geojson``) a command is about to write: it is
    left out, so that fetching or importing again gives the same result as the first time
    (the area and the names to look up do not depend on the file's own earlier content).

    Raises
    ------
    InputError
        When no town, or more than one and none is named, or the named one is unknown.
    """
    from ..gazetteer import load_town_gazetteer, town_gazetteers

    towns = town_gazetteers(geodata)
    if town is None:
        if len(towns) != 1:
            known = ", ".join(sorted(towns)) or "none"
            raise InputError(f"name the town with --town (gazetteers under {geodata}/: {known})")
        town = next(iter(towns))
    if town not in towns:
        known = ", ".join(sorted(towns)) or "none"
        raise InputError(f"no gazetteer for {town} under {geodata}/ (known: {known})")
    gdf = load_town_gazetteer(towns[town], without=rewriting)
    town_rows = gdf[gdf["kind"] == "town"]
    districts = gdf[gdf["kind"] == "district"]
    return TownArea(
        name=town,
        folder=towns[town].parent,
        outline=town_rows.geometry.iloc[0],
        district=districts.geometry.iloc[0] if len(districts) else None,
        outline_uncertainty_m=float(town_rows["uncertainty_m"].iloc[0]),
        gazetteer=gdf,
    )


def working_folder(area: TownArea, geodata: str | Path) -> Path:
    """The town's folder under ``geodata``, where a command writes the town's place files.

    A town the package ships (:data:`luodian_map.gazetteer.PACKAGED_TOWNS`) is first copied
    there, gazetteer, hand placements and place files, so that the working folder's copy
    with the new file replaces the packaged town (see
    :func:`luodian_map.gazetteer.town_gazetteers`) and the installed package is never written.
    """
    from ..gazetteer import PACKAGED_TOWNS

    if not area.folder.is_relative_to(PACKAGED_TOWNS):
        return area.folder
    target = Path(geodata) / area.folder.name
    if not (target / "gazetteer.geojson").exists():
        shutil.copytree(area.folder, target, dirs_exist_ok=True)
    return target


def near_area(area: TownArea) -> BaseGeometry:
    """Where a place of the town may lie: its district, and its outline widened by how far
    the outline itself may be off (prepared for fast tests)."""
    outline = gpd.GeoSeries([area.outline], crs="EPSG:4326")
    metric = outline.estimate_utm_crs()
    widened = outline.to_crs(metric).buffer(area.outline_uncertainty_m).to_crs("EPSG:4326")
    near = widened.iloc[0] if area.district is None else widened.iloc[0].union(area.district)
    shapely.prepare(near)
    return near
