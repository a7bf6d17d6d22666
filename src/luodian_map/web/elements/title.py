"""The map's title and subtitle."""

from __future__ import annotations

import html

from ..templates import template
from .base import Macro


class Title(Macro):
    """The title (and an optional subtitle) over the map, escaped."""

    _template = template("title.j2")

    def __init__(self, title: str, subtitle: str | None) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self._name = "Title"
        self.title_html = html.escape(title)
        self.subtitle_html = html.escape(subtitle) if subtitle else ""
