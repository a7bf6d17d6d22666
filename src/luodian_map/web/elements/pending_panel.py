"""The panel of items a public map does not draw."""

from __future__ import annotations

from typing import Any

from branca.element import MacroElement

from ..templates import script_json
from .base import AppElement


class PendingPanel(AppElement):
    """The items a public map does not draw (guesses), listed with their quotes."""

    _template_file = "pending_panel.j2"

    def __init__(self, app: MacroElement, items: list[dict[str, Any]], **options: Any) -> None:
        super().__init__(app, "PendingPanel", **options)
        self.data_json = script_json(items)
