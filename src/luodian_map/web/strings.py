"""The interface's words, zh and en, from ``data/ui_strings.json``.

``ui`` holds the page's strings by language (keys starting ``html_`` are for the HTML
itself, the rest go to the page script); ``draw`` holds Leaflet.draw's toolbar labels for
the languages the plugin does not ship (Chinese).
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

_DATA: dict[str, Any] = json.loads(
    resources.files("luodian_map").joinpath("data", "ui_strings.json").read_text("utf-8")
)
UI_STRINGS: dict[str, dict[str, str]] = _DATA["ui"]
DRAW_LOCAL: dict[str, dict[str, Any]] = _DATA["draw"]
LANGS = tuple(UI_STRINGS)


def strings_for(lang: str, key: str) -> str:
    """One UI string in ``lang`` (``"zh"`` or ``"en"``)."""
    return UI_STRINGS[lang][key]
