"""A task for a process pool that names its function instead of pickling a reference to it,
so the process submitting it need not import the function's (heavy) module."""

from __future__ import annotations

import importlib
from typing import Any


def call(module: str, function: str, *args: Any) -> Any:
    """``module.function(*args)``, importing ``module`` in the process that runs it."""
    return getattr(importlib.import_module(module), function)(*args)
