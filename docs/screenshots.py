"""Write the README screenshots ``docs/map.png``, ``docs/map_public.png``,
``docs/map_multi.png`` and ``docs/print_preview.png``.

Run from the repository root after ``pip install -e .`` and ``luodian-map assets``::

    python3 docs/screenshots.py

* ``docs/map.png``: the committed layers of the shipped report (``layers/``), rendered
  self-contained with ``--basemap none`` (no tiles: the image needs no network).
* ``docs/map_public.png``: the same layers as a public map (``--public``): only surveyed
  or sourced places drawn, the guesses listed under 位置待核实.
* ``docs/map_multi.png``: the four-report test series (``tests/data/multi``) built into a
  temporary folder, with the popup of one project open on its timeline and follow-up.
* ``docs/print_preview.png``: the A3 print map of 2025 (``render --format png --year 2025``)
  of the committed layers, scaled down to PREVIEW_WIDTH pixels.

The first three are 1400×900, taken with Debian's headless Chromium (``$LUODIAN_MAP_CHROMIUM``,
default ``/usr/bin/chromium``) through Playwright, with every request that would leave
the page blocked.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from chromium import CHROMIUM, CHROMIUM_ARGS  # noqa: E402

DOCS = ROOT / "docs"
VIEWPORT = {"width": 1400, "height": 900}
# the project shown in map_multi.png: four mentions over two reports, a phase, a follow-up
MULTI_NAME = "MAX科技园二期"
MULTI_YEAR = 2025
PREVIEW_WIDTH = 1400


def luodian_map(*args: str) -> None:
    subprocess.run(["luodian-map", *args], cwd=ROOT, check=True)


def shoot(page_path: Path, png: Path, prepare=None) -> None:
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport=VIEWPORT)
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.route(
            "**/*",
            lambda r: r.continue_() if r.request.url.startswith(("file:", "data:")) else r.abort(),
        )
        page.goto(page_path.as_uri())
        page.wait_for_function("document.body.dataset.ready === '1'")
        if prepare is not None:
            prepare(page)
        page.wait_for_timeout(600)  # popups fade in
        page.screenshot(path=str(png))
        browser.close()
    if errors:
        sys.exit(f"{page_path}: console errors: {errors}")
    print(f"{png.relative_to(ROOT)}", file=sys.stderr)


def open_project(page) -> None:
    """Open the popup of MULTI_NAME's feature of MULTI_YEAR, the map below it."""
    page.evaluate(f"window.luodianMap.setFilter({{year: [{MULTI_YEAR}]}})")
    page.fill(".lm-search-input", MULTI_NAME)
    target = page.locator(".lm-search-hit").first.get_attribute("data-feature-id")
    page.fill(".lm-search-input", "")
    page.evaluate("window.luodianMap.setFilter({year: null})")
    page.evaluate(
        """id => { const api = window.luodianMap, m = api.map, a = api.anchor(id);
            m.setView([a[1], a[0]], 14, {animate: false});
            m.panBy([-120, -300], {animate: false});
            api.openPopup(id); }""",
        target,
    )


def print_preview(tmp_path: Path) -> None:
    """The A3 PNG of 2025, downscaled (Lanczos) for the README."""
    from PIL import Image

    full = tmp_path / "print.png"
    luodian_map("render", "--format", "png", "--year", "2025", "-o", str(full))
    image = Image.open(full).convert("RGB")
    height = round(image.height * PREVIEW_WIDTH / image.width)
    preview = DOCS / "print_preview.png"
    image.resize((PREVIEW_WIDTH, height), Image.LANCZOS).save(preview, optimize=True)
    print(f"{preview.relative_to(ROOT)}", file=sys.stderr)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        print_preview(tmp_path)
        single = tmp_path / "map.html"
        luodian_map("render", "--self-contained", "--basemap", "none", "-o", str(single))
        shoot(single, DOCS / "map.png")
        public = tmp_path / "public.html"
        luodian_map(
            "render", "--public", "--self-contained", "--basemap", "none", "-o", str(public)
        )
        shoot(public, DOCS / "map_public.png")

        layers, maps = tmp_path / "layers", tmp_path / "maps"
        luodian_map(
            "build", "tests/data/multi", "--layers", str(layers), "--maps", str(maps),
            "--cache", str(tmp_path / "cache" / "geocode.sqlite"), "--no-maps",
        )  # fmt: skip
        multi = tmp_path / "multi.html"
        luodian_map(
            "render", "--layers", str(layers), "--self-contained", "--basemap", "none",
            "-o", str(multi),
        )  # fmt: skip
        shoot(multi, DOCS / "map_multi.png", open_project)


if __name__ == "__main__":
    main()
