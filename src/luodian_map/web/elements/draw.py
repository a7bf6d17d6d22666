"""Leaflet.draw's toolbar; what is drawn goes into ``feature_group``."""

from __future__ import annotations

from typing import Any

from branca.element import Element, MacroElement
from folium.elements import JSCSSMixin

from ..urls import DRAW_CSS, DRAW_JS
from .base import AppElement


class Draw(JSCSSMixin, AppElement):
    """Leaflet.draw's toolbar; what is drawn goes into ``feature_group``."""

    _template_file = "draw.j2"
    default_js = DRAW_JS
    default_css = DRAW_CSS

    def __init__(self, app: MacroElement, feature_group: Element, **options: Any) -> None:
        super().__init__(app, "DrawControl", **options)
        self.feature_group = feature_group
