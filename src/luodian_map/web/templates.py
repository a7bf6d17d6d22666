"""The page's templates and scripts (``templates/``) and JSON that is safe in ``<script>``."""

from __future__ import annotations

import functools
import json
from importlib import resources
from typing import Any, cast

from folium.template import Template


@functools.cache
def template_text(name: str) -> str:
    """The text of ``templates/<name>``, read once."""
    return resources.files("luodian_map").joinpath("templates", name).read_text("utf-8")


# The page script, by concern, in the order it is joined into one closure: lm_core opens it
# (constants, DOM helpers), lm_start closes it (LM.start and the test hook).
PAGE_SCRIPT_PARTS = (
    "core",  # constants, DOM and SVG helpers, legend symbols
    "decode",  # GCJ-02, the compact data (web/encode.py) back into features
    "draw",  # world pixels, styles, sprites, the feature canvas
    "hit_test",  # the grid index, which feature is under the mouse
    "app",  # LM.create: the app's state, uncertainty circles, follow-up badges
    "groups",  # town-level group markers
    "popups",  # popups, links between phases and mentions, the timeline
    "filter",  # the filter state and the URL hash
    "ui",  # filter control, legend, pending panel, outline, search
    "edit",  # the edit tools (redraw, move, export overrides)
    "start",  # LM.start, the test hook; closes the closure
)


@functools.cache
def page_script() -> str:
    """The page library: ``templates/lm_<part>.js`` joined into one script, inlined into
    every page (:data:`PAGE_SCRIPT_PARTS`; each part alone is not a whole program)."""
    return "".join(template_text(f"lm_{part}.js") for part in PAGE_SCRIPT_PARTS)


@functools.cache
def template(name: str) -> Template:
    """``templates/<name>`` as a folium (Jinja) template, compiled once."""
    return cast(Template, Template(template_text(name)))


def script_json(value: Any) -> str:
    """JSON that is safe inside ``<script>`` and deterministic (sorted keys, no spaces)."""
    text = json.dumps(
        value, ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False
    )
    return (
        text.replace("&", "\\u0026")
        .replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("'", "\\u0027")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )
