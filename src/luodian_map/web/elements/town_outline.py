"""The town outline, a dashed line."""

from __future__ import annotations

from typing import Any

from branca.element import MacroElement

from ..templates import script_json
from .base import AppElement


class TownOutline(AppElement):
    """The town outline (a GeoJSON feature collection, or None), drawn as a dashed line."""

    _template_file = "town_outline.j2"

    def __init__(self, app: MacroElement, data: dict[str, Any] | None) -> None:
        super().__init__(app, "TownOutline")
        self.data_json = script_json(data)
