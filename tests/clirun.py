"""The command line run as a user runs it: its own process, its output captured."""

from __future__ import annotations

import subprocess
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path


def run_cli(
    *args: str,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = 300,
) -> subprocess.CompletedProcess[str]:
    """``luodian-map ARGS`` in ``cwd``, else in an empty folder (so that no run reads or
    writes the checkout's ``.cache/``, ``layers/`` or ``maps/``); ``timeout`` guards the
    test run against a hang."""
    with tempfile.TemporaryDirectory(prefix="luodian-map-run-") as empty:
        return subprocess.run(
            [sys.executable, "-m", "luodian_map.cli", *args],
            cwd=cwd or empty,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
