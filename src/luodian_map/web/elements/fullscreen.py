"""The full-screen button (leaflet.fullscreen)."""

from __future__ import annotations

from folium.elements import JSCSSMixin

from ..urls import FULLSCREEN_CSS, FULLSCREEN_JS
from .base import AppElement


class Fullscreen(JSCSSMixin, AppElement):
    """The full-screen button (leaflet.fullscreen)."""

    _template_file = "fullscreen.j2"
    default_js = FULLSCREEN_JS
    default_css = FULLSCREEN_CSS
