"""Search the features by name."""

from __future__ import annotations

from .base import AppElement


class SearchControl(AppElement):
    """Search the features by name."""

    _template_file = "search.j2"
