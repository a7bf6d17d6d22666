"""The map page script: its parts (templates/lm_*.js) join into one program, and ESLint
(package.json, eslint.config.mjs; ``npm ci``) finds nothing wrong with it."""

from __future__ import annotations

import os
import subprocess
from importlib import resources
from pathlib import Path

import pytest

from luodian_map.web.templates import PAGE_SCRIPT_PARTS, page_script

REPO = Path(__file__).resolve().parents[1]
ESLINT = REPO / "node_modules" / ".bin" / "eslint"


def _eslint(code: str) -> subprocess.CompletedProcess[str]:
    if not ESLINT.exists():
        if os.environ.get("CI"):
            pytest.fail("ESLint is missing: run `npm ci` (.ci/run does)")
        pytest.skip("ESLint is not installed here: run `npm ci`")
    return subprocess.run(
        [str(ESLINT), "--stdin", "--stdin-filename", "luodian_map.js"],
        input=code,
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
    )


def test_every_part_is_joined_once_in_order():
    templates = resources.files("luodian_map").joinpath("templates")
    files = sorted(p.name for p in templates.iterdir() if p.name.startswith("lm_"))
    assert files == sorted(f"lm_{part}.js" for part in PAGE_SCRIPT_PARTS)
    code = page_script()
    assert code.startswith("/* luodian-map: the page logic")
    assert code.rstrip().endswith("})();")  # lm_core opens the closure, lm_start closes it
    assert code.count('(function () {\n  "use strict";') == 1


def test_page_script_passes_eslint():
    result = _eslint(page_script())
    assert result.returncode == 0, result.stdout + result.stderr


def test_eslint_reports_a_mistake_in_the_joined_script():
    """The lint sees the whole program: a global typo in a middle part is caught."""
    broken = page_script().replace(
        "  function buildIndex(app) {", "  function buildIndex(app) {\n    undeclaredName = 1;", 1
    )
    result = _eslint(broken)
    assert result.returncode == 1
    assert "undeclaredName" in result.stdout
