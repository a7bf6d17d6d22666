"""Starts the page: fits the bounds at once and adds what comes after the first paint."""

from __future__ import annotations

from .base import AppElement


class Start(AppElement):
    """Starts the page: fits the bounds at once and adds what comes after the first paint."""

    _template_file = "start.j2"
