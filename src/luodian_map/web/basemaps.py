"""The base under the data: tiles of OpenStreetMap, CartoDB, Gaode (GCJ-02) or Tianditu,
the vector base of the towns' place files ("local"), or none. The web maps and the coverage
map put it on their page with :func:`add_base`."""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import LuodianMapError

if TYPE_CHECKING:
    import folium
    import geopandas as gpd

BASEMAPS = ("osm", "cartodb", "gaode", "tianditu", "none", "local")
TIANDITU_KEY_ENV = "TIANDITU_KEY"


@dataclass
class Basemap:
    layers: list[dict[str, Any]] = field(default_factory=list)  # {"url", "options"} for L.tileLayer
    datum: str = "wgs84"

    @property
    def overview(self) -> dict[str, Any] | None:
        return self.layers[0] if self.layers else None


def basemap_tiles(name: str, lang: str) -> Basemap:
    import xyzservices.providers as xyz

    if name in ("none", "local"):  # "local": a vector base from place files, no tiles
        return Basemap()
    if name == "tianditu":
        key = os.environ.get(TIANDITU_KEY_ENV, "").strip()
        if not key:
            raise LuodianMapError(
                f"basemap 'tianditu' needs an API key: set the {TIANDITU_KEY_ENV} "
                "environment variable (get one at https://console.tianditu.gov.cn/)"
            )
        attribution = '&copy; <a href="https://www.tianditu.gov.cn/">天地图 Tianditu</a>'
        labels = "eva_w" if lang == "en" else "cva_w"
        return Basemap([
            _tile(f"https://t{{s}}.tianditu.gov.cn/DataServer?T={layer}&x={{x}}&y={{y}}&l={{z}}"
                  f"&tk={key}", attribution, subdomains="01234567", max_zoom=18)
            for layer in ("vec_w", labels)
        ])  # fmt: skip
    if name == "gaode":
        provider = xyz.Gaode.Normal
        url = provider["url"].replace("http://", "https://").replace("webrd01", "webrd0{s}")
        if lang == "en":
            url = url.replace("lang=zh_cn", "lang=en")
        return Basemap(
            [
                _tile(
                    url,
                    provider["html_attribution"],
                    subdomains="1234",
                    max_zoom=int(provider.get("max_zoom", 18)),
                )
            ],
            datum="gcj02",
        )
    provider = {"osm": xyz.OpenStreetMap.Mapnik, "cartodb": xyz.CartoDB.Positron}.get(name)
    if provider is None:
        raise LuodianMapError(f"unknown basemap {name!r}; use one of {', '.join(BASEMAPS)}")
    with warnings.catch_warnings():  # CartoDB's "API key" notice: its tiles work without one
        warnings.simplefilter("ignore")
        url = provider.build_url(fill_subdomain=False, scale_factor="{r}")
    return Basemap([
        _tile(url, provider["html_attribution"], subdomains=provider.get("subdomains", "abc"),
              max_zoom=int(provider.get("max_zoom", 19)))
    ])  # fmt: skip


def _tile(url: str, attribution: str, *, subdomains: str, max_zoom: int) -> dict[str, Any]:
    return {
        "url": url,
        "options": {
            "attribution": attribution,
            "subdomains": subdomains,
            "maxZoom": max_zoom,
            "maxNativeZoom": max_zoom,
        },
    }


def add_base(
    fmap: folium.Map, basemap: str, base: Basemap, places: gpd.GeoDataFrame | None
) -> None:
    """Put ``base``, the tiles of ``basemap``, under the data of ``fmap``; with
    ``basemap="local"`` the vector base of ``places`` (if any) instead."""
    import folium

    for tile in base.layers:
        folium.TileLayer(
            tiles=tile["url"],
            attr=tile["options"]["attribution"],
            subdomains=tile["options"]["subdomains"],
            max_zoom=tile["options"]["maxZoom"],
            max_native_zoom=tile["options"]["maxNativeZoom"],
            control=False,
        ).add_to(fmap)
    if basemap == "local":
        from ..local_base import base_collection
        from .elements import LocalBase

        local = base_collection(places)
        if local is not None:
            fmap.add_child(LocalBase(local))
