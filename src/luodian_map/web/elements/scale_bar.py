"""A metric scale bar."""

from __future__ import annotations

from .base import AppElement


class ScaleBar(AppElement):
    """A metric scale bar."""

    _template_file = "scale_bar.j2"
