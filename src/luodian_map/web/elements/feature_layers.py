"""All features (compact, drawn on one canvas), plus the page library."""

from __future__ import annotations

from typing import Any

from ..encode import compact
from ..templates import page_script, script_json, template, template_text
from .base import Macro


class FeatureLayers(Macro):
    """All features (compact, drawn on one canvas), plus the page library. The data
    is a JSON ``<script>`` block: ``JSON.parse`` reads megabytes far faster than the
    JavaScript parser reads them as a literal."""

    _template = template("feature_layers.j2")

    def __init__(self, data: dict[str, Any], config: dict[str, Any]) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self._name = "FeatureLayers"
        self.data_json = script_json(compact(data))
        self.config_json = script_json(config)
        self.library = page_script()
        self.css = template_text("luodian_map.css")
