"""Measure distances and areas (leaflet-measure)."""

from __future__ import annotations

from folium.elements import JSCSSMixin

from ..urls import MEASURE_CSS, MEASURE_JS
from .base import AppElement


class MeasureControl(JSCSSMixin, AppElement):
    """Measure distances and areas (leaflet-measure)."""

    _template_file = "measure_control.j2"
    default_js = MEASURE_JS
    default_css = MEASURE_CSS
