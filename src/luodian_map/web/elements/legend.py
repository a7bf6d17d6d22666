"""The legend: categories, precision, follow-up."""

from __future__ import annotations

from .base import AppElement


class Legend(AppElement):
    """The legend: categories, precision, follow-up."""

    _template_file = "legend.j2"
