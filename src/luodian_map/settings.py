"""Default paths and knobs, in one place instead of scattered constants.

Paths are relative to the working directory: the tool is run from a project folder laid
out as ``geodata/`` (inputs), ``layers/`` and ``maps/`` (outputs).
"""

from __future__ import annotations

from pathlib import Path

GEODATA = Path("geodata")
REPORTS = GEODATA / "reports"
OVERRIDES = GEODATA / "overrides.geojson"
CONFIG = Path("checks.toml")
LAYERS = Path("layers")
MAPS = Path("maps")
CACHE = Path(".cache") / "geocode.sqlite"

REPORT_SUFFIXES = (".txt", ".docx", ".pdf")
