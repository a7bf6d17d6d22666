"""Our map page against the plain Folium way, side by side on the same synthetic data.

    python benchmarks/maps_vs_folium.py [--sizes 1000 10000 [50000]] [--runs 3]

Both pages are built from the same GeoDataFrame (``bench_map.synthetic``: points, lines and
polygons in turn around Luodian, with every property our layers carry):

* ours: ``render_map(features, basemap="none", self_contained=True)``;
* plain: ``folium.Map(tiles=None)`` + one ``folium.GeoJson`` per category (tooltip with the
  name, popup with name/year/status/quote) + ``folium.LayerControl()``; folium's default
  bootstrap / jQuery / font-awesome / awesome-markers tags are not in our asset cache, so
  they are stripped (nothing on this page uses them); Leaflet is then inlined from the cache
  with ``luodian_map.web.assets.inline_assets``. Both pages need no network.

Measured in headless Chromium (``/usr/bin/chromium``, all http(s) requests aborted), median
of ``--runs`` fresh pages:

* size: bytes of the HTML file;
* first full draw: ms from navigation start (``performance.now()``) to all features drawn
  and painted, the same event on both pages: the animation frame after the one in which
  every feature is first on the page. Ours: ``luodianMap.readyTime()`` (two animation
  frames after drawing, when ``body[data-ready='1']``); plain: the number of
  ``.leaflet-interactive`` elements is checked at every animation frame, and once it
  equals the number of features the time is taken at the next frame. (Until 27 Nov 2026
  the plain time was taken at the first of these two frames, before the browser had laid
  out and painted its SVG paths, so its draw was counted one frame short.);
* filter repaint: ours ``luodianMap.setFilter({year: [2024]})`` and back to ``{year: null}``;
  plain: clicking the first overlay's LayerControl checkbox off and on. Each change is timed
  in the page from just before the call to a ``setTimeout(0)`` queued in the next
  ``requestAnimationFrame`` (i.e. after the frame is painted); the figure is the mean of
  the two directions.

Every wait is bounded (``--timeout`` seconds per page), so the script always finishes; a
timed-out measurement prints as "timeout".
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_map import CHROMIUM_ARGS, TIMED_CHANGE, synthetic

# Checked at every animation frame; once all paths are there, the time then (how it was
# measured until 27 Nov 2026) and at the next frame, after the one that lays them out and
# paints them (as ``luodianMap.readyTime()``).
_PLAIN_DRAWN = """([n, timeout]) => new Promise((resolve, reject) => {
  const check = () => {
    if (document.querySelectorAll('.leaflet-interactive').length >= n) {
      const present = performance.now();
      requestAnimationFrame(() => resolve([present, performance.now()]));
    } else if (performance.now() > timeout) {
      reject(new Error('timeout'));
    } else {
      requestAnimationFrame(check);
    }
  };
  requestAnimationFrame(check);
})"""


def ours_page(features, path: Path) -> Path:
    from luodian_map.web import render_map

    return render_map(features, path, basemap="none", self_contained=True)


def plain_page(features, path: Path) -> tuple[Path, list[str]]:
    """The plain-folium page; returns it and the asset URLs stripped from it."""
    import folium

    from luodian_map.web.assets import inline_assets, load_manifest

    m = folium.Map(tiles=None, location=[31.415, 121.345], zoom_start=13)
    for _cat, group in features.groupby("category", sort=True):
        folium.GeoJson(
            json.loads(group.to_json()),
            name=str(group["category_label"].iloc[0]),
            tooltip=folium.GeoJsonTooltip(fields=["name"]),
            popup=folium.GeoJsonPopup(fields=["name", "year", "status", "quote"]),
        ).add_to(m)
    folium.LayerControl().add_to(m)
    html = m.get_root().render()
    cached = set(load_manifest()["urls"])
    stripped: list[str] = []

    def strip(match: re.Match[str]) -> str:
        if match.group(1) in cached:
            return match.group(0)
        stripped.append(match.group(1))
        return ""

    html = re.sub(r'<script src="([^"]+)"></script>', strip, html)
    html = re.sub(r'<link rel="stylesheet" href="([^"]+)"\s*/?>', strip, html)
    html = inline_assets(html)
    path.write_text(html, encoding="utf-8")
    return path, stripped


def _block_network(page) -> None:
    page.route(
        "**/*",
        lambda r: r.continue_() if r.request.url.startswith(("file:", "data:")) else r.abort(),
    )


def measure_ours(browser, path: Path, timeout_ms: int) -> tuple[float | None, float | None]:
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.set_default_timeout(timeout_ms)
    try:
        _block_network(page)
        page.goto(path.as_uri(), timeout=timeout_ms)
        page.wait_for_function("document.body.dataset.ready === '1'", timeout=timeout_ms)
        draw = page.evaluate("window.luodianMap.readyTime()")
        off = page.evaluate(
            TIMED_CHANGE.replace("change();", "window.luodianMap.setFilter({year: [2024]});")
        )
        on = page.evaluate(
            TIMED_CHANGE.replace("change();", "window.luodianMap.setFilter({year: null});")
        )
        return draw, (off + on) / 2
    except Exception as exc:  # timeouts and page errors: report, keep going
        print(f"  ours: {type(exc).__name__}: {str(exc).splitlines()[0]}", file=sys.stderr)
        return None, None
    finally:
        page.close()


def measure_plain(
    browser, path: Path, expected: int, timeout_ms: int
) -> tuple[float | None, float | None, float | None]:
    """(first full draw, filter repaint, draw timed one frame short as until 27 Nov)."""
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.set_default_timeout(timeout_ms)
    try:
        _block_network(page)
        page.goto(path.as_uri(), wait_until="commit", timeout=timeout_ms)
        present, draw = page.evaluate(_PLAIN_DRAWN, [expected, timeout_ms])
        box = "document.querySelector('.leaflet-control-layers-overlays input').click();"
        off = page.evaluate(TIMED_CHANGE.replace("change();", box))
        on = page.evaluate(TIMED_CHANGE.replace("change();", box))
        return draw, (off + on) / 2, present
    except Exception as exc:
        print(f"  plain: {type(exc).__name__}: {str(exc).splitlines()[0]}", file=sys.stderr)
        return None, None, None
    finally:
        page.close()


def _median(values: list[float | None]) -> float | None:
    good = [v for v in values if v is not None]
    return statistics.median(good) if len(good) == len(values) and good else None


def _fmt(v: float | None, unit: str = "ms") -> str:
    if v is None:
        return "timeout"
    if unit == "KiB":
        return f"{v / 1024:,.0f} KiB"
    return f"{v:,.0f} ms"


def _ratio(a: float | None, b: float | None) -> str:
    return f"{a / b:.2f}" if a is not None and b else "–"


def main(argv: list[str] | None = None) -> None:
    from playwright.sync_api import sync_playwright

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=120, help="seconds per page wait")
    args = parser.parse_args(argv)
    timeout_ms = int(args.timeout * 1000)

    out = Path(tempfile.mkdtemp(prefix="luodian-vs-folium-"))
    rows = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            for n in args.sizes:
                features = synthetic(n)
                ours = ours_page(features, out / f"ours-{n}.html")
                plain, stripped = plain_page(features, out / f"plain-{n}.html")
                if stripped:
                    print(f"N={n}: stripped from the plain page (not cached): "
                          + ", ".join(stripped), file=sys.stderr)  # fmt: skip
                o_draw, o_rep, p_draw, p_rep, p_present = [], [], [], [], []
                for _ in range(args.runs):  # alternate, so load drift hits both alike
                    d, r = measure_ours(browser, ours, timeout_ms)
                    o_draw.append(d)
                    o_rep.append(r)
                    d, r, present = measure_plain(browser, plain, n, timeout_ms)
                    p_draw.append(d)
                    p_rep.append(r)
                    p_present.append(present)
                row = {
                    "n": n,
                    "size": (ours.stat().st_size, plain.stat().st_size),
                    "draw": (_median(o_draw), _median(p_draw)),
                    "draw_short": (_median(o_draw), _median(p_present)),
                    "repaint": (_median(o_rep), _median(p_rep)),
                }
                rows.append(row)
                print(f"N={n}: done  ours draw {o_draw} repaint {o_rep}; plain draw {p_draw} "
                      f"(a frame short {p_present}) repaint {p_rep}", file=sys.stderr)  # fmt: skip
        finally:
            browser.close()

    print("| features | measure | ours | plain Folium | ours / plain |")
    print("|---:|---|---:|---:|---:|")
    for row in rows:
        for key, label, unit in (
            ("size", "HTML size", "KiB"),
            ("draw", "first full draw", "ms"),
            ("draw_short", "first draw, plain one frame short (as until 27 Nov)", "ms"),
            ("repaint", "filter repaint (plain: overlay toggle)", "ms"),
        ):
            a, b = row[key]
            print(f"| {row['n']:,} | {label} | {_fmt(a, unit)} | {_fmt(b, unit)} "
                  f"| {_ratio(a, b)} |")  # fmt: skip
    print(f"(median of {args.runs} pages each; pages in {out})")


if __name__ == "__main__":
    main()
