"""The edit tools: redraw a feature's location and export the overrides."""

from __future__ import annotations

from typing import Any

from branca.element import Element, MacroElement

from .base import AppElement


class EditTools(AppElement):
    """Redraw or move a feature with ``draw`` (into ``feature_group``) and export the
    relocated features as an overrides GeoJSON file; ``draw_local`` are the toolbar's
    labels in the page's language (None: the plugin's English)."""

    _template_file = "edit_tools.j2"

    def __init__(
        self,
        app: MacroElement,
        feature_group: Element,
        draw: MacroElement,
        draw_local: dict[str, Any] | None,
        **options: Any,
    ) -> None:
        super().__init__(app, "EditTools", **options)
        self.feature_group = feature_group
        self.draw = draw
        self.draw_local = draw_local
