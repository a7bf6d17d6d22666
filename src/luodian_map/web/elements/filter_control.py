"""Year × category × status filter with counts; its state lives in the URL hash."""

from __future__ import annotations

from .base import AppElement


class FilterControl(AppElement):
    """Year × category × status filter with counts; its state lives in the URL hash."""

    _template_file = "filter_control.j2"
