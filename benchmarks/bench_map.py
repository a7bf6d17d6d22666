"""Render a map of many synthetic features and time it in headless Chromium.

    python benchmarks/bench_map.py [N ...]        (default: 30 1000 5000)

Prints, per N: render time, HTML size (CDN links / self-contained), and in Chromium
(Debian's /usr/bin/chromium) the median of 5 loads from navigation start to all features
drawn, and the median time of one filter change, from the call to the next painted frame
(the page redraws its canvas in an animation frame). Needs the asset cache
(``luodian-map assets``).
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from chromium import CHROMIUM_ARGS

# One change timed in the page: from just before the call to a setTimeout(0) queued in the
# next animation frame, i.e. once that frame is painted.
TIMED_CHANGE = """async (change) => {
  const frame = () => new Promise(r => requestAnimationFrame(() => setTimeout(r, 0)));
  await frame();
  const t = performance.now();
  change();
  await frame();
  return performance.now() - t;
}"""


def synthetic(n: int, seed: int = 1):
    """n features of mixed geometry around Luodian, in the schema of the geocoder output."""
    import geopandas as gpd
    import numpy as np
    from shapely.geometry import LineString, Point, box

    from luodian_map.categories import CATEGORIES, PRECISIONS, STATUSES

    rng = np.random.default_rng(seed)
    cats, statuses, precisions = list(CATEGORIES), list(STATUSES), list(PRECISIONS)
    rows = []
    for i in range(n):
        x, y = rng.uniform(121.30, 121.40), rng.uniform(31.38, 31.45)
        kind = i % 3
        if kind == 0:
            geom = Point(x, y)
        elif kind == 1:
            geom = LineString(
                [(x, y), (x + rng.uniform(-0.01, 0.01), y + rng.uniform(-0.01, 0.01))]
            )
        else:
            geom = box(x, y, x + 0.002, y + 0.0015)
        cat = cats[i % len(cats)]
        precision = precisions[i % len(precisions)]
        rows.append({
            "id": f"{cat}-{i:06d}", "name": f"要素{i}号", "category": cat,
            "category_label": CATEGORIES[cat].label_zh, "year": 2023 + i % 3,
            "status": statuses[i % 3], "report": "bench", "part": "review",
            "section": "一、工作回顾", "quote": f"推进要素{i}号建设，完成投资{i}万元。",
            "quantities": [{"value": i, "unit": "万元", "text": f"{i}万元"}],
            "geocoder": "gazetteer", "precision": precision,
            "uncertainty_m": 300.0 if precision in ("approximate", "town") else 20.0,
            "kind": None, "aggregate": False, "stated_count": None, "geometry": geom,
        })  # fmt: skip
    return gpd.GeoDataFrame(rows, geometry="geometry", crs="EPSG:4326")


def main(sizes: list[int]) -> None:
    from playwright.sync_api import sync_playwright

    from conftest import make_features, make_outline
    from luodian_map.web import render_map

    out = Path(tempfile.mkdtemp(prefix="luodian-bench-"))
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        for n in sizes:
            features = make_features() if n == 30 else synthetic(n)
            t0 = time.perf_counter()
            cdn = render_map(
                features, out / f"cdn-{n}.html", outline=make_outline(), basemap="none"
            )
            render_s = time.perf_counter() - t0
            page_path = render_map(
                features,
                out / f"sc-{n}.html",
                outline=make_outline(),
                basemap="none",
                self_contained=True,
            )
            ready, toggles = [], []
            for _ in range(5):
                page = browser.new_page(viewport={"width": 1400, "height": 900})
                page.route(
                    "**/*",
                    lambda r: (
                        r.continue_() if r.request.url.startswith(("file:", "data:")) else r.abort()
                    ),
                )
                page.goto(page_path.as_uri())
                page.wait_for_function("document.body.dataset.ready === '1'", timeout=60000)
                ready.append(page.evaluate("window.luodianMap.readyTime()"))
                off, on = (
                    page.evaluate(TIMED_CHANGE.replace("change();", f"{change};"))
                    for change in (
                        "window.luodianMap.setFilter({year: [2024]})",
                        "window.luodianMap.setFilter({year: null})",
                    )
                )
                toggles.append((off + on) / 2)
                page.close()
            print(
                f"N={n:5d}  render {render_s:5.2f} s  html {cdn.stat().st_size / 1024:7.0f} KiB"
                f" (self-contained {page_path.stat().st_size / 1024:7.0f} KiB)"
                f"  ready median {statistics.median(ready):6.0f} ms"
                f"  filter change {statistics.median(toggles):5.0f} ms"
            )
        browser.close()


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [30, 1000, 5000])
