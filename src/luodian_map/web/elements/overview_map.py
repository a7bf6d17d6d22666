"""OverviewMap: a Leaflet plugin, as folium.plugins makes it."""

from __future__ import annotations

from typing import Any

from branca.element import MacroElement
from folium.elements import JSCSSMixin

from ..urls import MINIMAP_CSS, MINIMAP_JS
from .base import AppElement


class OverviewMap(JSCSSMixin, AppElement):
    """leaflet-minimap, fed a layer group (tiles if any, plus the town outline) so it
    also works on the tile-less basemap "none"; added after the first paint."""

    _template_file = "overview_map.j2"
    default_js = MINIMAP_JS
    default_css = MINIMAP_CSS

    def __init__(self, app: MacroElement, tile: dict[str, Any] | None, **options: Any) -> None:
        super().__init__(app, "MiniMap", **options)
        self.tile = tile
