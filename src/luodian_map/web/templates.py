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
