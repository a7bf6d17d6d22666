"""Thresholds and distances of the checks: the packaged ``data/checks.toml`` and a user's file."""

from __future__ import annotations

import math
import tomllib
import typing
from dataclasses import dataclass, fields
from importlib import resources
from pathlib import Path
from typing import Any

import pyproj

from ..categories import CATEGORIES
from ..errors import InputError

CONFIG_NAME = "checks.toml"


# --------------------------------------------------------------------------- config
@dataclass(frozen=True)
class CheckConfig:
    """Thresholds and distances of the checks; defaults live in ``data/checks.toml``."""

    min_located_share: float
    max_features_outside: int
    walk_distance_m: float
    village_distance_m: float
    flood_work_distance_m: float
    area_ratio_flag: float
    length_ratio_flag: float
    reach_kinds: tuple[str, ...]
    flood_work_categories: tuple[str, ...]
    metric_crs: str
    reach_include_guesses: bool


def _typed(key: str, value: Any, expected: Any, source: str) -> Any:
    """TOML gives ints for "1000"; booleans are ints to Python but never a number here."""
    if expected is float and isinstance(value, int | float) and not isinstance(value, bool):
        if math.isfinite(value) and value >= 0:
            return float(value)
        raise InputError(f"{source}: {key} must be a non-negative number, not {value!r}")
    if expected is int and isinstance(value, int) and not isinstance(value, bool):
        if value >= 0:
            return value
        raise InputError(f"{source}: {key} must be a non-negative integer, not {value!r}")
    if expected is str and isinstance(value, str):
        return value
    if expected is bool and isinstance(value, bool):
        return value
    if (
        typing.get_origin(expected) is tuple
        and isinstance(value, list)
        and all(isinstance(v, str) for v in value)
    ):
        return tuple(value)
    names = {float: "a number", int: "an integer", str: "a string", bool: "true or false"}
    raise InputError(
        f"{source}: {key} must be {names.get(expected, 'a list of strings')}, not {value!r}"
    )


def _validated(values: dict[str, Any], source: str) -> CheckConfig:
    hints = typing.get_type_hints(CheckConfig)
    config = CheckConfig(**{k: _typed(k, values[k], hints[k], source) for k in hints})
    if config.min_located_share > 1:
        raise InputError(f"{source}: min_located_share is a share between 0 and 1")
    for key in ("area_ratio_flag", "length_ratio_flag"):
        if getattr(config, key) < 1:
            raise InputError(f"{source}: {key} is a factor of 1 or more")
    for key in ("walk_distance_m", "village_distance_m", "flood_work_distance_m"):
        if getattr(config, key) <= 0:
            raise InputError(f"{source}: {key} must be more than 0 metres")
    unknown = sorted(set(config.flood_work_categories) - set(CATEGORIES))
    if unknown:
        raise InputError(f"{source}: flood_work_categories has unknown categories {unknown}")
    try:
        crs = pyproj.CRS.from_user_input(config.metric_crs)
    except pyproj.exceptions.CRSError:
        raise InputError(f"{source}: metric_crs {config.metric_crs!r} is not a CRS") from None
    if not crs.is_projected or crs.axis_info[0].unit_name not in ("metre", "meter"):
        raise InputError(f"{source}: metric_crs {config.metric_crs!r} is not in metres")
    return config


def _read_toml(text: str, source: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise InputError(f"{source}: not valid TOML ({error})") from None


def load_check_config(path: str | Path | None = None) -> CheckConfig:
    """The packaged defaults, with the keys of a user file (TOML) put over them.

    A key the defaults do not know or a value of the wrong type is refused, so a typo in
    a planner's CI config fails loudly instead of silently checking nothing.
    """
    default_text = resources.files("luodian_map").joinpath("data", CONFIG_NAME).read_text("utf-8")
    values = _read_toml(default_text, CONFIG_NAME)
    known = {f.name for f in fields(CheckConfig)}
    source = CONFIG_NAME
    if path is not None:
        path = Path(path)
        try:
            text = path.read_text("utf-8")
        except FileNotFoundError:
            raise InputError(f"{path}: check config not found") from None
        except UnicodeDecodeError:
            raise InputError(f"{path}: check config is not UTF-8 text") from None
        user = _read_toml(text, str(path))
        unknown = sorted(set(user) - known)
        if unknown:
            raise InputError(
                f"{path}: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}"
            )
        values = {**values, **user}
        source = str(path)
    missing = sorted(known - set(values))
    if missing:
        raise InputError(f"{CONFIG_NAME}: missing key(s) {', '.join(missing)}")
    return _validated(values, source)
