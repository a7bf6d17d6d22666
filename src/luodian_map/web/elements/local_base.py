"""The offline vector base of ``basemap="local"``."""

from __future__ import annotations

from typing import Any

from ..templates import script_json, template
from .base import Macro


class LocalBase(Macro):
    """The offline vector base of ``basemap="local"`` (see :mod:`luodian_map.local_base`)."""

    _template = template("local_base.j2")

    def __init__(self, data: dict[str, Any]) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self._name = "LocalBase"
        self.data_json = script_json(data)
