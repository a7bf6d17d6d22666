"""The rendered maps in a real headless Chromium (Debian's /usr/bin/chromium via Playwright).

Pages are opened from file://. Pages with CDN links get the library files from the local
asset cache (a route serves them), tile requests get a blank 1×1 PNG, and every other
request is aborted and recorded, so no test depends on the network. Screenshots go to
tests/artifacts/.
"""

from __future__ import annotations

import base64
import json
import os
import statistics
import subprocess
import sys
import urllib.parse
from pathlib import Path

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import sync_playwright

from chromium import CHROMIUM, CHROMIUM_ARGS
from conftest import (
    FOLLOW_UPS,
    TOWN_CENTROID,
    UNPLACED_ID,
    UNPLACED_NAME,
    XSS_MENTION,
    XSS_NAME,
    make_features,
    make_outline,
    town_points,
)
from luodian_map.local_base import LABELS
from luodian_map.web import render_map
from luodian_map.web.assets import load_manifest
from test_local_base import XSS_ROAD, town_places

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).parent / "artifacts"
REPORT = (
    Path(__file__).resolve().parents[1] / "geodata" / "reports" / "luodian_2024_work_report.txt"
)
BLANK_PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8/x8AAwMCAO+ip1sAAAAASUVORK5CYII="
)
TILE_HOSTS = (
    "tile.openstreetmap.org",
    "basemaps.cartocdn.com",
    "is.autonavi.com",
    "tianditu.gov.cn",
)
VIEWPORT = {"width": 1400, "height": 900}


# ---------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="session")
def browser():
    if not (Path(CHROMIUM).is_file() and os.access(CHROMIUM, os.X_OK)):
        message = f"Chromium not found at {CHROMIUM} (apt-get install chromium)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def maps(tmp_path_factory, web_assets):
    """The fixture maps, rendered once per session."""
    root = tmp_path_factory.mktemp("maps")
    features, outline = make_features(), make_outline()
    variants = {
        "default": {},
        "en": {"lang": "en"},
        "year": {"year": 2025, "title": "罗店镇政府工作报告空间要素"},
        "edit": {"edit": True},
        "gaode_edit": {"edit": True, "basemap": "gaode"},
        "osm": {"basemap": "osm"},
        "gaode": {"basemap": "gaode"},
        "offline": {"self_contained": True},
        "offline_edit": {"self_contained": True, "edit": True},
        "exact_outline": {"outline": outline.assign(precision="sourced")},
    }
    out = {}
    for name, options in variants.items():
        options = {"basemap": "none", "outline": outline, **options}
        out[name] = render_map(features, root / f"{name}.html", **options)
    return out


@pytest.fixture(scope="session")
def cdn_files(web_assets):
    """CDN URL prefix → folder in the asset cache, to serve a page's library files."""
    manifest = load_manifest(web_assets)
    prefixes = {}
    for url, entry in manifest["urls"].items():
        prefixes[url.rsplit("/", 1)[0] + "/"] = (web_assets / entry["file"]).parent
    return prefixes


class PageLog:
    def __init__(self):
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        self.blocked: list[str] = []
        self.tiles: list[str] = []
        self.requests: list[str] = []


def _mime(path: Path) -> str:
    return {
        ".js": "application/javascript",
        ".css": "text/css",
        ".png": "image/png",
        ".svg": "image/svg+xml",
    }.get(path.suffix, "application/octet-stream")


@pytest.fixture
def open_map(browser, cdn_files):
    """Open a map file; returns (page, log). Fails the test on a dialog or a page error."""
    contexts = []

    def _open(
        path: Path,
        hash_: str = "",
        *,
        offline: bool = False,
        viewport=VIEWPORT,
        wait: bool = True,
        accept_downloads: bool = False,
    ):
        context = browser.new_context(viewport=viewport, accept_downloads=accept_downloads)
        contexts.append(context)
        page = context.new_page()
        log = PageLog()
        page.on("console", lambda m: log.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: log.errors.append(f"pageerror: {e}"))

        def on_dialog(dialog):
            log.dialogs.append(dialog.message)
            dialog.dismiss()

        page.on("dialog", on_dialog)
        page.on("request", lambda r: log.requests.append(r.url))

        def route(route):
            url = route.request.url
            if url.startswith(("file:", "data:", "blob:")):
                return route.continue_()
            if not offline:
                host = urllib.parse.urlsplit(url).netloc
                if any(host.endswith(h) for h in TILE_HOSTS):
                    log.tiles.append(url)
                    return route.fulfill(status=200, content_type="image/png", body=BLANK_PNG)
                for prefix, folder in cdn_files.items():
                    if url.startswith(prefix):
                        rel = url[len(prefix) :].split("?")[0]
                        candidates = [folder / rel]
                        if rel.endswith(".min.js") or rel.endswith(".min.css"):
                            candidates += [
                                folder / rel.replace(".min.", "."),
                                folder / "dist" / rel,
                            ]
                        candidates += [
                            folder / rel.replace(".js", ".min.js"),
                            folder / rel.replace(".css", ".min.css"),
                        ]
                        for file in candidates:
                            if file.is_file():
                                return route.fulfill(
                                    status=200, body=file.read_bytes(), content_type=_mime(file)
                                )
            log.blocked.append(url)
            return route.abort()

        page.route("**/*", route)
        page.goto(path.as_uri() + (f"#{hash_}" if hash_ else ""))
        if wait:
            wait_ready(page)
        return page, log

    yield _open
    for context in contexts:
        context.close()


def wait_ready(page, timeout=15000):
    page.wait_for_function("document.body && document.body.dataset.ready === '1'", timeout=timeout)


def visible(page) -> list[str]:
    return page.evaluate("window.luodianMap.visibleIds()")


def expected(years=None, cats=None, statuses=None, follows=None, *, on_map=True) -> list[str]:
    """The ids the filter selects; with ``on_map`` only those with a geometry (the ones
    ``visibleIds()`` reports: drawn, or counted in a town-level group marker)."""
    frame = make_features()
    mask = frame["id"].notna()
    if years is not None:
        mask &= frame["year"].isin(years)
    if cats is not None:
        mask &= frame["category"].isin(cats)
    if statuses is not None:
        mask &= frame["status"].isin(statuses)
    if follows is not None:
        mask &= frame["follow_up"].fillna("none").isin(follows)
    if on_map:
        mask &= frame.geometry.notna()
    return sorted(frame.loc[mask, "id"])


def group_at_centroid(page) -> dict:
    """The town-level group marker at the town centroid (see townGroups())."""
    key = "town:{1:.6f},{0:.6f}".format(*TOWN_CENTROID)
    return next(g for g in page.evaluate("window.luodianMap.townGroups()") if g["key"] == key)


def click_until(page, target, selector: str, tries: int = 3):
    """Click ``target`` until ``selector`` shows: a busy headless Chromium may drop a click
    that arrives while the map is still repainting (the page itself is not at fault)."""
    for attempt in range(tries):
        target.click()
        try:
            return page.wait_for_selector(selector, timeout=5000)
        except PlaywrightTimeout:
            if attempt == tries - 1:
                raise
    raise AssertionError("unreachable")


def wait_map_still(page) -> None:
    """Until the map has not moved for 300 ms (a pan, or a popup's auto-pan, has ended), at
    most 5 s: a click that lands while the map still moves may be lost on a busy machine."""
    page.evaluate(
        """() => new Promise(done => {
            const map = window.luodianMap.map;
            let timer = null;
            const finish = () => { map.off("move", later); clearTimeout(timer); done(); };
            const later = () => { clearTimeout(timer); timer = setTimeout(finish, 300); };
            map.on("move", later);
            later();
            setTimeout(finish, 5000);
        })"""
    )


def hash_of(page) -> str:
    return page.evaluate("location.hash")


def screenshot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.wait_for_timeout(400)  # let popups finish fading in
    page.screenshot(path=str(ARTIFACTS / name))


def assert_clean(log: PageLog) -> None:
    assert log.errors == []
    assert log.dialogs == []
    assert log.blocked == []


def check(page, group: str, value) -> None:
    page.click(f"input[data-group='{group}'][data-value='{value}']")


# ---------------------------------------------------------------------------- tests
def test_renders_every_feature(open_map, maps):
    page, log = open_map(maps["default"])
    ids = expected()
    total = len(make_features())
    assert visible(page) == ids and len(ids) == total - 1  # all but the one without geometry
    # every feature is really on the map: the canvas painted it, or (town-level points) it
    # is counted by a town-level group marker
    painted = page.evaluate("window.luodianMap.paintedIds()")
    assert painted == sorted(set(ids) - set(town_points()))
    groups = page.evaluate("window.luodianMap.townGroups()")
    assert sorted(i for g in groups for i in g["ids"]) == town_points()
    assert all(g["onMap"] and g["count"] == len(g["ids"]) for g in groups)
    # each is drawn on the canvas (a pill with its label), under a button named by the label
    assert all(g["painted"] for g in groups)
    assert sorted(g["label"] for g in groups) == sorted(
        f"罗店镇 镇级汇总 {g['count']}项" for g in groups
    )
    markers = page.locator(".lm-town-group-inner")
    labels = sorted(markers.nth(i).get_attribute("aria-label") for i in range(markers.count()))
    assert labels == sorted(f"罗店镇 镇级汇总 {g['count']}项" for g in groups)
    assert all(markers.nth(i).is_visible() for i in range(markers.count()))
    # follow-up badges: one per drawn feature with a verdict
    badged = [i for i in FOLLOW_UPS if i not in town_points()]
    assert page.locator(".lm-follow-icon").count() == len(badged)
    assert page.inner_text(".lm-summary") == f"显示 {total} / {total} 项"
    counts = make_features()["category"].value_counts().to_dict()
    for cat, n in counts.items():
        label = page.locator(f"input[data-group='cat'][data-value='{cat}']").locator("..")
        assert label.locator(".lm-count").inner_text() == str(n)
    screenshot(page, "map_zh.png")
    assert_clean(log)


def test_filters_combine_and_write_the_hash(open_map, maps):
    page, log = open_map(maps["default"])
    assert hash_of(page) == ""

    check(page, "year", 2023)  # untick 2023
    assert visible(page) == expected(years=[2024, 2025])
    assert hash_of(page) == "#year=2024,2025"

    check(page, "cat", "road")  # untick roads
    cats = [
        c
        for c in dict.fromkeys(
            page.evaluate(
                "Array.from(document.querySelectorAll(\"input[data-group='cat']\"))"
                ".map(i => i.dataset.value)"
            )
        )
        if c != "road"
    ]
    assert visible(page) == expected(years=[2024, 2025], cats=cats)
    assert hash_of(page) == "#year=2024,2025&cat=" + ",".join(cats)

    check(page, "status", "planned")  # untick planned
    want = expected(years=[2024, 2025], cats=cats, statuses=["completed", "in_progress"])
    assert visible(page) == want
    assert hash_of(page) == (
        "#year=2024,2025&cat=" + ",".join(cats) + "&status=completed,in_progress"
    )
    shown = expected(
        years=[2024, 2025], cats=cats, statuses=["completed", "in_progress"], on_map=False
    )
    assert page.inner_text(".lm-summary") == f"显示 {len(shown)} / {len(make_features())} 项"

    # category counts follow the other two groups (year and status), not the category one
    frame = make_features()
    sub = frame[
        frame["year"].isin([2024, 2025]) & frame["status"].isin(["completed", "in_progress"])
    ]
    for cat in [*cats, "road"]:
        label = page.locator(f"input[data-group='cat'][data-value='{cat}']").locator("..")
        assert label.locator(".lm-count").inner_text() == str(int((sub["category"] == cat).sum()))

    screenshot(page, "map_filtered.png")
    page.click(".lm-reset")
    assert visible(page) == expected()
    assert hash_of(page) == ""
    assert_clean(log)


def test_hash_round_trip(open_map, maps):
    page, log = open_map(maps["default"], "year=2025&cat=road,park&status=planned")
    want = expected(years=[2025], cats=["road", "park"], statuses=["planned"])
    assert want and visible(page) == want
    assert page.is_checked("input[data-group='cat'][data-value='road']")
    assert not page.is_checked("input[data-group='cat'][data-value='village']")
    assert not page.is_checked("input[data-group='year'][data-value='2024']")

    check(page, "status", "completed")  # tick completed as well
    assert visible(page) == expected(
        years=[2025], cats=["road", "park"], statuses=["completed", "planned"]
    )
    assert hash_of(page) == "#year=2025&cat=road,park&status=completed,planned"

    # a hash typed into the address bar (hashchange) is applied
    page.evaluate("location.hash = 'year=2024'")
    page.wait_for_function("window.luodianMap.getFilter().status === null")
    assert visible(page) == expected(years=[2024])
    assert page.is_checked("input[data-group='status'][data-value='planned']")

    # the test hook writes the hash too, and a reload restores the same state
    page.evaluate("window.luodianMap.setFilter({cat: ['village', 'facility']})")
    assert hash_of(page) == "#year=2024&cat=village,facility"
    page.reload()
    wait_ready(page)
    assert visible(page) == expected(years=[2024], cats=["village", "facility"])
    assert_clean(log)


@pytest.mark.parametrize("name", ["offline", "offline_edit"])
def test_self_contained_page_works_offline(open_map, maps, name):
    page, log = open_map(maps[name], offline=True)
    assert visible(page) == expected()
    # every control came up from inlined code
    for selector in (
        ".leaflet-control-minimap",
        ".leaflet-control-measure",
        ".leaflet-control-zoom-fullscreen",
        ".lm-filter",
        ".lm-legend",
    ):
        assert page.locator(selector).count() == 1, selector
    # open the tools whose images only load on use
    box = page.locator(".leaflet-control-measure-toggle").bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.click(".js-start")
    page.mouse.click(700, 500)
    page.mouse.click(800, 520)
    if name == "offline_edit":
        page.keyboard.press("Escape")
        page.click(".leaflet-draw-draw-polygon")
        page.mouse.move(20, 600)
        assert page.evaluate("window.luodianMap.openPopup('park-0006')")
        page.wait_for_selector(".lm-edit-replace")
    page_url = maps[name].as_uri()
    leaving = [u for u in log.requests if not u.startswith("data:") and u.split("#")[0] != page_url]
    assert leaving == []
    screenshot(page, f"map_{name}.png")
    assert_clean(log)


def test_report_html_stays_text(open_map, maps):
    page, log = open_map(maps["default"])
    feature_id = "road-0003"
    # click the line itself on the canvas
    x, y = page.evaluate(f"""() => {{
        const m = window.luodianMap.map, a = window.luodianMap.anchor('{feature_id}');
        m.setView([a[1], a[0]], 16, {{animate: false}});
        const p = m.latLngToContainerPoint([a[1], a[0]]);
        const r = m.getContainer().getBoundingClientRect();
        return [p.x + r.left, p.y + r.top]; }}""")
    for attempt in range(6):  # hover; a loaded machine can drop a pointer event
        # let the canvas redraw at the new view before pointing at it
        page.evaluate(
            "() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))"
        )
        page.wait_for_timeout(200 * attempt)
        page.mouse.move(x - 20, y - 20)
        page.mouse.move(x, y, steps=5)
        try:
            page.wait_for_function(
                "name => [...document.querySelectorAll('.leaflet-tooltip')]"
                ".some(t => t.textContent === name)",
                arg=XSS_NAME,
                timeout=4000,
            )
            break
        except PlaywrightTimeout:
            continue
    else:
        # Pointer events over a canvas are not always delivered to a busy headless Chromium;
        # hand Leaflet the same mouse move over the canvas instead (the page still finds the
        # feature under it). What is checked below, that the name renders as text, does not
        # depend on how the move arrived.
        opened = page.evaluate(
            """id => { const api = window.luodianMap, m = api.map, a = api.anchor(id);
            const ll = L.latLng(a[1], a[0]);
            const canvas = document.querySelector('.leaflet-overlay-pane canvas');
            m.fire('mousemove', {latlng: ll, layerPoint: m.latLngToLayerPoint(ll),
                   containerPoint: m.latLngToContainerPoint(ll), originalEvent: {target: canvas}});
            return [...document.querySelectorAll('.leaflet-tooltip')].length > 0; }""",
            feature_id,
        )
        assert opened, "no tooltip for the feature under the mouse"
    tooltip = page.locator(".leaflet-tooltip", has_text="新川路")
    assert tooltip.text_content() == XSS_NAME
    assert tooltip.locator("script, img").count() == 0
    for _ in range(3):  # a click can get lost while a loaded machine is still painting
        page.mouse.click(x, y)
        try:
            popup = page.wait_for_selector(".leaflet-popup-content", timeout=3000)
            break
        except PlaywrightTimeout:
            continue
    else:
        pytest.fail("clicking the line opened no popup")
    text = popup.text_content()
    assert "<script>alert(1)</script>新川路" in text
    assert "<img src=x onerror=alert(2)>" in text
    assert "<b>24 米</b>" in text
    assert page.inner_text(".lm-quote mark") == XSS_NAME
    assert page.evaluate("document.querySelectorAll('.leaflet-popup-content *').length") > 5
    assert (
        page.evaluate(
            "document.querySelectorAll('.leaflet-popup-content script, "
            ".leaflet-popup-content img, .leaflet-tooltip script').length"
        )
        == 0
    )
    screenshot(page, "popup_xss.png")

    # the search list shows the name as text too, and jumps to the feature
    page.keyboard.press("Escape")
    page.fill(".lm-search-input", "新川路")
    hit = page.wait_for_selector(f".lm-search-hit[data-feature-id='{feature_id}']")
    assert hit.query_selector(".lm-search-name").text_content() == XSS_NAME
    hit.click()
    page.wait_for_selector(f".lm-popup-body[data-feature-id='{feature_id}']")
    page.wait_for_timeout(300)
    assert log.dialogs == []
    assert_clean(log)


def test_popup_content_for_every_feature(open_map, maps):
    page, log = open_map(maps["default"])
    frame = make_features()
    for row in frame.itertuples():
        assert page.evaluate(f"window.luodianMap.openPopup({json.dumps(row.id)})")
        body = page.wait_for_selector(f".lm-popup-body[data-feature-id='{row.id}']")
        text = body.text_content()
        assert row.name in text and str(row.year) in text
        assert row.geocoder in text
    assert_clean(log)


def test_english_page(open_map, maps):
    page, log = open_map(maps["en"])
    n = len(make_features())
    assert page.inner_text(".lm-summary") == f"Showing {n} of {n}"
    assert page.inner_text(".lm-unplaced-toggle") == "of which 1 not on the map ▸"
    assert page.evaluate("window.luodianMap.openPopup('park-0006')")
    body = page.wait_for_selector(".lm-popup-body").text_content()
    assert "Parks and green space" in body and "Completed" in body and "How it was located" in body
    assert "美兰湖公园" in body  # report text stays as written
    screenshot(page, "map_en.png")
    assert_clean(log)


def test_publication_map_prints_on_a3(open_map, maps):
    # A3 landscape at 96 dpi, minus 10 mm margins
    page, log = open_map(maps["year"], viewport={"width": 1512, "height": 1047})
    assert visible(page) == expected(years=[2025])
    assert "（2025年）" in page.inner_text(".lm-title")
    assert page.locator(".lm-group-year").count() == 0
    page.emulate_media(media="print")
    page.evaluate("window.dispatchEvent(new Event('beforeprint'))")
    page.wait_for_timeout(400)
    for selector in (".lm-title", ".lm-filter", ".lm-legend"):
        assert page.locator(selector).is_visible(), selector
    for selector in (".leaflet-control-zoom", ".lm-search", ".leaflet-control-minimap"):
        assert not page.locator(selector).is_visible(), selector
    screenshot(page, "map_2025_print.png")
    pdf = page.pdf(prefer_css_page_size=True, print_background=True)
    assert pdf.startswith(b"%PDF")
    (ARTIFACTS / "map_2025_print.pdf").write_bytes(pdf)
    assert_clean(log)


def _draw_polygon(page, points) -> int:
    """Draw with the mouse; returns how many clicks Leaflet.draw lost (then added by API).

    On a loaded machine Leaflet.draw now and then drops a click (it ignores clicks for a
    moment after each one); the test is about what happens to the drawing, so a lost click
    is replayed through the draw handler rather than failing the test."""
    box = page.evaluate("""() => { const r = window.luodianMap.map.getContainer()
        .getBoundingClientRect(); return [r.left, r.top]; }""")
    lost = 0
    for i, (x, y) in enumerate(points):
        page.wait_for_function("window.luodianMap.drawing() && !window.luodianMap.drawing().busy")
        page.mouse.move(box[0] + x, box[1] + y, steps=4)  # as a hand moves
        page.mouse.down()
        page.mouse.up()
        try:
            page.wait_for_function(f"window.luodianMap.drawing().vertices >= {i + 1}", timeout=3000)
        except PlaywrightTimeout:
            lost += 1
            page.evaluate(
                """p => { const api = window.luodianMap;
                   api.drawHandler().addVertex(api.map.containerPointToLatLng(p)); }""",
                [x, y],
            )
    # close the ring on the first vertex
    page.wait_for_function("!window.luodianMap.drawing().busy")
    page.mouse.move(box[0] + points[0][0], box[1] + points[0][1], steps=4)
    page.mouse.down()
    page.mouse.up()
    try:
        page.wait_for_function("window.luodianMap.drawing() === null", timeout=3000)
    except PlaywrightTimeout:
        lost += 1
        page.evaluate("window.luodianMap.drawHandler().completeShape()")
    return lost


def test_edit_replace_and_export(open_map, maps):
    page, log = open_map(maps["edit"], accept_downloads=True)
    assert page.evaluate("window.luodianMap.openPopup('park-0007')")
    page.click(".lm-popup-body[data-feature-id='park-0007'] .lm-edit-replace")
    assert "罗店中心绿地" in page.inner_text(".lm-banner")
    points = [(600, 300), (760, 320), (700, 460)]
    _draw_polygon(page, points)
    data = page.evaluate("window.luodianMap.exportOverrides()")
    assert len(data["features"]) == 1
    feature = data["features"][0]
    assert feature["properties"] == {"id": "park-0007", "name": "罗店中心绿地", "crs": "wgs84"}
    assert feature["geometry"]["type"] == "Polygon"
    ring = feature["geometry"]["coordinates"][0]
    clicked = page.evaluate(
        "pts => pts.map(p => { const ll = window.luodianMap.map"
        ".containerPointToLatLng(p); return [ll.lng, ll.lat]; })",
        [list(p) for p in points],
    )
    for (lon, lat), (clon, clat) in zip(ring[:3], clicked, strict=True):
        assert abs(lon - clon) < 1e-5 and abs(lat - clat) < 1e-5
    screenshot(page, "map_edit.png")

    with page.expect_download() as info:
        page.click(".lm-export-button")
    download = info.value
    assert download.suggested_filename == "overrides.geojson"
    exported = json.loads(Path(download.path()).read_text(encoding="utf-8"))
    assert exported == data

    # drawing without choosing a feature first is refused with a message
    page.evaluate("""() => { const m = window.luodianMap.map;
        m.fire('draw:created', {layer: L.circleMarker(m.getCenter()), layerType: 'circlemarker'});
    }""")
    assert page.evaluate("window.luodianMap.exportOverrides().features.length") == 1
    assert_clean(log)


def test_edit_on_gaode_exports_wgs84(open_map, maps):
    page, log = open_map(maps["gaode_edit"])
    frame = make_features().set_index("id")
    feature_id = "village-0009"  # a sourced point
    assert page.evaluate(f"window.luodianMap.startMove('{feature_id}')")
    data = page.evaluate("window.luodianMap.exportOverrides()")
    (lon, lat) = data["features"][0]["geometry"]["coordinates"]
    point = frame.loc[feature_id, "geometry"]
    # moved nowhere: the export is the original WGS-84 point, not its GCJ-02 display
    assert abs(lon - point.x) <= 2e-6 and abs(lat - point.y) <= 2e-6
    shown = page.evaluate(f"window.luodianMap.anchor('{feature_id}')")
    assert abs(shown[0] - point.x) > 1e-3
    # the page's GCJ-02 formula is the one of luodian_map.crs
    from luodian_map.crs import wgs84_to_gcj02

    js = page.evaluate(f"window.luodianMap.wgs84ToGcj02({point.x}, {point.y})")
    py = wgs84_to_gcj02(point.x, point.y)
    assert abs(js[0] - float(py[0])) < 1e-9 and abs(js[1] - float(py[1])) < 1e-9
    assert_clean(log)


@pytest.mark.parametrize(
    "name,host", [("osm", "tile.openstreetmap.org"), ("gaode", "is.autonavi.com")]
)
def test_tile_basemaps(open_map, maps, name, host):
    page, log = open_map(maps[name])
    page.wait_for_timeout(300)
    assert any(host in url for url in log.tiles)
    assert visible(page) == expected()
    screenshot(page, f"map_{name}.png")
    assert_clean(log)


def test_time_to_features_drawn(open_map, maps):
    """Navigation start to all features drawn, median of 5 loads (written to artifacts)."""
    times = []
    for _ in range(5):
        page, _log = open_map(maps["offline"], offline=True)
        times.append(page.evaluate("window.luodianMap.readyTime()"))
        page.close()
    median = statistics.median(times)
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "timing.json").write_text(json.dumps({"ready_ms": times, "median_ms": median}))
    assert median < 5000


# ---------------------------------------------------------------------------- linked reports
def test_timeline_in_popup_stays_text(open_map, maps):
    page, log = open_map(maps["default"])
    assert page.evaluate("window.luodianMap.openPopup('park-0031')")
    body = page.wait_for_selector(".lm-popup-body[data-feature-id='park-0031']")
    items = body.query_selector_all(".lm-timeline .lm-tl-item")
    assert len(items) == 3
    heads = [i.query_selector(".lm-tl-head").text_content() for i in items]
    assert heads[0].startswith("2023年回顾已完成luodian-2023")
    assert heads[1].startswith("2024年计划计划luodian-2023")
    assert heads[2] == "2024年回顾已完成luodian-2024本条"
    assert "lm-current" in items[2].get_attribute("class")
    # the quote of a mention is text: the <script> and <img> are literally there
    text = body.text_content()
    assert XSS_MENTION in text and "<script>alert(5)</script>" in text
    assert (
        page.evaluate(
            "document.querySelectorAll('.leaflet-popup-content script, "
            ".leaflet-popup-content img').length"
        )
        == 0
    )
    # follow-up verdict of a plan year
    assert "承诺兑现：承诺已兑现" in body.query_selector(".lm-follow").text_content()
    # the feature's own sentence is the marked entry, in full (not repeated above it)
    assert "lm-clamped" not in items[2].query_selector(".lm-tl-quote").get_attribute("class")
    assert body.query_selector(".lm-quote") is None
    # another long quote is clamped, the full text on demand
    long_quote = items[1].query_selector(".lm-tl-quote")
    assert "lm-clamped" in long_quote.get_attribute("class")
    wait_map_still(page)  # the popup's auto-pan: a click meanwhile could land on the map
    items[1].query_selector(".lm-more").click()
    assert "lm-clamped" not in long_quote.get_attribute("class")
    assert items[1].query_selector(".lm-more").text_content() == "收起"
    screenshot(page, "popup_timeline.png")
    # the year of another mention opens that year's feature of the entity
    page.evaluate(
        "() => { window.lmMoved = new Promise(r => window.luodianMap.map.once('moveend', r)); }"
    )
    items[0].query_selector(".lm-link").click()
    page.wait_for_selector(".lm-popup-body[data-feature-id='park-0006']")
    # the map pans to it; a popup opened meanwhile would close, however slow the machine
    page.evaluate("() => Promise.race([window.lmMoved, new Promise(r => setTimeout(r, 5000))])")

    # a phase shows its parent, with a link that goes to it
    assert page.evaluate("window.luodianMap.openPopup('park-0032')")
    phase = page.wait_for_selector(".lm-popup-body[data-feature-id='park-0032']")
    relation = phase.query_selector(".lm-relations")
    assert relation.text_content() == "属于美兰湖公园"
    assert "待回顾" in phase.query_selector(".lm-follow").text_content()
    wait_map_still(page)  # the popup's auto-pan
    # the parent's feature of the latest year shown (it has none in 2025)
    parent = click_until(
        page,
        relation.query_selector(".lm-link"),
        ".lm-popup-body[data-feature-id='park-0031']",
    )
    assert "分期美兰湖公园二期" in parent.query_selector(".lm-relations").text_content()
    assert_clean(log)


def test_follow_up_filter_and_hash(open_map, maps):
    page, log = open_map(maps["default"])
    options = page.evaluate(
        "Array.from(document.querySelectorAll(\"input[data-group='follow']\"))"
        ".map(i => i.dataset.value)"
    )
    assert options == ["delivered", "in_progress", "not_mentioned", "pending", "none"]
    assert page.inner_text(".lm-group-follow legend") == "承诺兑现"

    check(page, "follow", "none")  # untick: only the promises remain
    promises = ["delivered", "in_progress", "not_mentioned", "pending"]
    assert visible(page) == expected(follows=promises)
    assert hash_of(page) == "#follow=" + ",".join(promises)
    check(page, "follow", "pending")
    check(page, "year", 2023)
    want = expected(years=[2024, 2025], follows=["delivered", "in_progress", "not_mentioned"])
    assert want and visible(page) == want
    assert hash_of(page) == "#year=2024,2025&follow=delivered,in_progress,not_mentioned"
    # the counts add up: categories = shown in the panel = on the map + not on the map
    selected = expected(
        years=[2024, 2025], follows=["delivered", "in_progress", "not_mentioned"], on_map=False
    )
    assert sum(page.evaluate("window.luodianMap.counts('cat')").values()) == len(selected)
    assert len(want) + len(page.evaluate("window.luodianMap.unplacedIds()")) == len(selected)
    assert page.inner_text(".lm-summary").startswith(f"显示 {len(selected)} /")
    # badges follow the filter
    badged = [i for i in want if i in FOLLOW_UPS and i not in town_points()]
    assert page.locator(".lm-follow-icon").count() == len(badged)
    # the counts of a group follow the other groups
    label = page.locator("input[data-group='follow'][data-value='delivered']").locator("..")
    assert label.locator(".lm-count").inner_text() == str(
        len(expected(years=[2024, 2025], follows=["delivered"], on_map=False))
    )

    # a link opens exactly that; the test hook sets the key too
    page.evaluate("location.hash = 'follow=delivered,pending&status=completed,planned'")
    page.wait_for_function("window.luodianMap.getFilter().year === null")
    assert visible(page) == expected(
        statuses=["completed", "planned"], follows=["delivered", "pending"]
    )
    assert not page.is_checked("input[data-group='follow'][data-value='none']")
    page.evaluate("window.luodianMap.setFilter({follow: ['not_mentioned']})")
    assert hash_of(page) == "#status=completed,planned&follow=not_mentioned"
    page.reload()
    wait_ready(page)
    assert visible(page) == expected(statuses=["completed", "planned"], follows=["not_mentioned"])
    page.click(".lm-reset")
    assert hash_of(page) == "" and visible(page) == expected()
    assert_clean(log)


def test_town_level_items_form_one_counted_marker(open_map, maps):
    page, log = open_map(maps["default"])
    frame = make_features()
    at_centroid = sorted(
        i
        for i in town_points()
        if frame.set_index("id").loc[i, "geometry"].coords[0] == TOWN_CENTROID
    )
    group = group_at_centroid(page)
    assert group["ids"] == at_centroid and group["count"] == len(at_centroid)
    key = group["key"]
    marker = page.locator(f".lm-town-group-inner[data-group-key='{key}']")
    assert marker.get_attribute("data-count") == str(len(at_centroid))
    # no uncertainty circle is drawn for them, nor for approximate points until hovered
    circles = """() => { let n = 0;
        window.luodianMap.map.eachLayer(l => { if (l instanceof L.Circle) n++; });
        return n; }"""
    assert page.evaluate(circles) == 0

    for years in ([2024], [2023], [2025]):
        page.evaluate(f"window.luodianMap.setFilter({{year: {years}}})")
        want = [i for i in expected(years=years) if i in at_centroid]
        group = group_at_centroid(page)
        assert group["count"] == len(want) and group["ids"] == want
        assert group["onMap"] is bool(want)
        town_visible = [i for i in visible(page) if i in town_points()]
        assert (
            sorted(i for g in page.evaluate("window.luodianMap.townGroups()") for i in g["ids"])
            == town_visible
        )
        page.evaluate("() => new Promise(r => requestAnimationFrame(() => setTimeout(r, 0)))")
        group = group_at_centroid(page)  # after the canvas's redraw
        if want:
            assert marker.get_attribute("data-count") == str(len(want))
            assert marker.get_attribute("aria-label") == f"罗店镇 镇级汇总 {len(want)}项"
            assert group["label"] == f"罗店镇 镇级汇总 {len(want)}项" and group["painted"]
        else:
            assert marker.is_hidden()  # the marker is no longer shown
            assert not group["painted"]  # nor drawn

    # its popup lists the visible ones; each opens that item's popup, with a way back
    page.evaluate("window.luodianMap.setFilter({year: null, cat: ['road', 'inefficient_land']})")
    want = [i for i in expected(cats=["road", "inefficient_land"]) if i in at_centroid]
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => setTimeout(r, 0)))")
    listed = click_until(page, marker, ".lm-group-body")
    ids = [b.get_attribute("data-feature-id") for b in listed.query_selector_all(".lm-group-item")]
    assert sorted(ids) == want
    assert "镇级汇总" in listed.query_selector(".lm-popup-name").text_content()
    screenshot(page, "town_group.png")
    wait_map_still(page)
    page.click(".lm-group-item[data-feature-id='road-0005']")
    item = page.wait_for_selector(".lm-popup-body[data-feature-id='road-0005']")
    assert "承诺已兑现" in item.text_content()
    wait_map_still(page)
    item.query_selector(".lm-back").click()
    page.wait_for_selector(".lm-group-body")
    # search finds a grouped item and opens its popup
    page.keyboard.press("Escape")
    page.fill(".lm-search-input", "低效产业用地处置")
    page.click(".lm-search-hit[data-feature-id='inefficient_land-0012']")
    page.wait_for_selector(".lm-popup-body[data-feature-id='inefficient_land-0012']")
    assert_clean(log)


def test_feature_without_geometry_is_counted_and_listed(open_map, maps):
    page, log = open_map(maps["default"])
    assert UNPLACED_ID not in visible(page)
    assert page.evaluate("window.luodianMap.unplacedIds()") == [UNPLACED_ID]
    assert page.evaluate("window.luodianMap.allIds()") == sorted(make_features()["id"])
    toggle = page.locator(".lm-unplaced-toggle")
    assert toggle.inner_text() == "其中未上图 1 项 ▸"
    toggle.click()
    item = page.locator(f".lm-unplaced-item[data-feature-id='{UNPLACED_ID}']")
    assert UNPLACED_NAME in item.inner_text()
    assert "没有该镇的地名库，也不知所在区" in item.inner_text()
    item.click()
    popup = page.wait_for_selector(f".lm-popup-body[data-feature-id='{UNPLACED_ID}']")
    assert "未上图" in popup.text_content()
    screenshot(page, "unplaced.png")
    # it follows the filter like every other feature
    page.evaluate("window.luodianMap.setFilter({year: [2025]})")
    assert page.evaluate("window.luodianMap.unplacedIds()") == []
    assert toggle.inner_text().startswith("其中未上图 0 项")
    page.evaluate("window.luodianMap.setFilter({year: [2024]})")
    assert page.evaluate("window.luodianMap.unplacedIds()") == [UNPLACED_ID]
    # search finds it and opens the list and its popup
    page.fill(".lm-search-input", UNPLACED_NAME)
    hit = page.wait_for_selector(f".lm-search-hit[data-feature-id='{UNPLACED_ID}']")
    assert "（未上图）" in hit.text_content()
    hit.click()
    page.wait_for_selector(f".lm-popup-body[data-feature-id='{UNPLACED_ID}']")
    assert_clean(log)


def test_search_jumps_to_the_visible_year(open_map, maps):
    page, log = open_map(maps["default"])
    page.fill(".lm-search-input", "美兰湖公园")
    hits = page.locator(".lm-search-hit")
    # one hit per entity (美兰湖公园 has a feature in 2023 and 2024), the latest year first
    targets = [h.get_attribute("data-feature-id") for h in hits.all()]
    assert targets == ["park-0031", "park-0032"]
    assert "2023年；2024年" in hits.first.inner_text()
    page.evaluate("window.luodianMap.setFilter({year: [2023]})")
    assert hits.first.get_attribute("data-feature-id") == "park-0006"
    hits.first.click()
    page.wait_for_selector(".lm-popup-body[data-feature-id='park-0006']")
    page.keyboard.press("Escape")
    page.fill(".lm-search-input", "美兰湖公园")
    page.evaluate("window.luodianMap.setFilter({year: [2024, 2025]})")
    page.keyboard.press("Enter")
    page.wait_for_selector(".lm-popup-body[data-feature-id='park-0031']")
    assert_clean(log)


def test_uncertainty_circles_on_demand(open_map, maps):
    """Approximate points show their uncertainty circle only when opened (or hovered), or
    all of them when the legend asks; town-level items never draw one of their own."""
    page, log = open_map(maps["default"])
    circles = """() => { const out = []; window.luodianMap.map.eachLayer(l => {
        if (l instanceof L.Circle) out.push(Math.round(l.getRadius())); }); return out; }"""
    assert page.evaluate(circles) == []
    assert page.evaluate("window.luodianMap.openPopup('village-0011')")
    page.wait_for_selector(".lm-popup-body[data-feature-id='village-0011']")
    assert page.evaluate(circles) == [800]
    page.evaluate("window.luodianMap.map.closePopup()")
    assert page.evaluate(circles) == []
    page.check(".lm-circles-input")
    frame = make_features()
    approx = frame[(frame["precision"] == "approximate") & frame.geometry.notna()]
    points = approx[approx.geometry.geom_type.isin(["Point", "MultiPoint"])]
    want = sorted(
        int(u)
        for g, u in zip(points.geometry, points["uncertainty_m"], strict=True)
        for _ in range(len(getattr(g, "geoms", [g])))
    )
    assert sorted(page.evaluate(circles)) == want
    page.evaluate("window.luodianMap.setFilter({year: [2025]})")
    assert len(page.evaluate(circles)) == int((points["year"] == 2025).sum())
    assert_clean(log)


# ---------------------------------------------------------------------------- honest maps
GUESS_QUOTE = "启动<script>alert(8)</script>美丹路改造<img src=x onerror=alert(9)>。"


def test_public_map_draws_no_guess_and_lists_them(open_map, tmp_path):
    """``public=True``: only surveyed and sourced features are drawn; every guess
    (approximate or town level, with or without a geometry) is listed with its quote, as
    text, under 位置待核实."""
    features = make_features()
    features.loc[features["id"] == "road-0002", "quote"] = GUESS_QUOTE
    path = render_map(
        features, tmp_path / "public.html", basemap="none", outline=make_outline(), public=True
    )
    page, log = open_map(path)
    exact = features["precision"].isin(["surveyed", "sourced"])
    guesses = features[~exact]
    assert len(guesses) > 10 and exact.sum() > 3
    drawn = sorted(features.loc[exact & features.geometry.notna(), "id"])
    assert visible(page) == drawn
    assert page.evaluate("window.luodianMap.allIds()") == sorted(features.loc[exact, "id"])
    painted = page.evaluate("window.luodianMap.paintedIds()")
    assert painted and set(painted) <= set(drawn)
    assert page.evaluate("window.luodianMap.townGroups()") == []

    panel = page.locator(".lm-pending")
    assert panel.locator(".lm-pending-count").inner_text() == f"{len(guesses)} 项"
    items = panel.locator(".lm-pending-item")
    assert sorted(items.evaluate_all("l => l.map(i => i.dataset.id)")) == sorted(guesses["id"])
    assert page.evaluate("window.luodianMap.pendingIds()") == items.evaluate_all(
        "l => l.map(i => i.dataset.id)"
    )
    item = panel.locator(".lm-pending-item[data-id='road-0002']")
    assert item.locator(".lm-pending-name").text_content() == "美丹路"
    assert item.locator(".lm-pending-quote").text_content() == GUESS_QUOTE
    assert "道路" in item.locator(".lm-pending-meta").text_content()
    assert "近似位置" in item.locator(".lm-pending-meta").text_content()
    assert panel.locator("script, img").count() == 0
    # nothing to switch off, and the legend explains only what is drawn
    assert page.locator(".lm-approx-input").count() == 0
    assert page.locator(".lm-legend").inner_text().count("近似位置") == 0
    assert "位置待核实" in page.locator(".lm-title").inner_text()
    screenshot(page, "public.png")
    assert_clean(log)


def test_public_map_of_exact_features_lists_none(open_map, tmp_path):
    features = make_features()
    features = features[features["precision"].isin(["surveyed", "sourced"])]
    path = render_map(features, tmp_path / "exact.html", basemap="none", public=True)
    page, log = open_map(path)
    assert visible(page) == sorted(features.loc[features.geometry.notna(), "id"])
    assert page.locator(".lm-pending-item").count() == 0
    assert page.locator(".lm-pending-count").inner_text() == "0 项"
    assert_clean(log)


def test_switch_hides_guesses_and_round_trips_in_the_hash(open_map, maps):
    page, log = open_map(maps["default"])
    frame = make_features()
    exact = set(frame.loc[frame["precision"].isin(["surveyed", "sourced"]), "id"])
    switch = page.locator(".lm-approx-input")
    assert switch.is_checked()
    assert page.locator(".lm-group-approx").inner_text().startswith("近似位置")
    guesses = [i for i in expected() if i not in exact]
    count = switch.locator("..").locator(".lm-count")
    assert count.inner_text() == str(len(frame) - len(exact))  # the unplaced one as well

    switch.click()  # off: guesses hidden, drawn or grouped
    assert hash_of(page) == "#approx=0"
    assert visible(page) == [i for i in expected() if i in exact]
    assert set(page.evaluate("window.luodianMap.paintedIds()")) <= exact
    assert not any(g["onMap"] for g in page.evaluate("window.luodianMap.townGroups()"))
    assert page.evaluate("window.luodianMap.unplacedIds()") == []
    assert count.inner_text() == str(len(frame) - len(exact))  # what switching on would add
    # category counts leave the hidden guesses out
    road = page.locator("input[data-group='cat'][data-value='road']").locator("..")
    roads = frame[(frame["category"] == "road") & frame["id"].isin(exact)]
    assert road.locator(".lm-count").inner_text() == str(len(roads))

    check(page, "status", "planned")  # with the other filters
    assert hash_of(page) == "#status=completed,in_progress&approx=0"
    assert visible(page) == [
        i for i in expected(statuses=["completed", "in_progress"]) if i in exact
    ]
    page.reload()
    wait_ready(page)
    assert not page.locator(".lm-approx-input").is_checked()
    assert visible(page) == [
        i for i in expected(statuses=["completed", "in_progress"]) if i in exact
    ]
    assert page.evaluate("window.luodianMap.getFilter().approx") is False

    page.locator(".lm-approx-input").click()  # on again
    assert hash_of(page) == "#status=completed,in_progress"
    assert visible(page) == expected(statuses=["completed", "in_progress"])
    assert set(guesses) & set(visible(page))

    page.evaluate("location.hash = 'cat=road&approx=0'")  # typed into the address bar
    page.wait_for_function("window.luodianMap.getFilter().approx === false")
    assert visible(page) == [i for i in expected(cats=["road"]) if i in exact]
    page.click(".lm-reset")
    assert hash_of(page) == "" and visible(page) == expected()
    assert_clean(log)


def test_local_base_draws_offline_under_the_data(open_map, tmp_path, web_assets):
    """``--basemap local`` with every request blocked: the place files drawn as a base."""
    path = render_map(
        make_features(),
        tmp_path / "local.html",
        outline=make_outline(),
        basemap="local",
        places=town_places(),
        self_contained=True,
    )
    page, log = open_map(path, offline=True)
    counts = page.evaluate(
        """() => Object.fromEntries(["town", "park", "water", "river", "road", "major"].map(k =>
            [k, document.querySelectorAll(".leaflet-lmBase-pane path.lm-base-" + k).length]))"""
    )
    assert counts == {"town": 1, "park": 1, "water": 1, "river": 1, "road": 16, "major": 1}
    labels = page.locator(".lm-base-label").all_text_contents()
    assert len(labels) == LABELS and XSS_ROAD in labels  # names stay text
    assert page.locator(".lm-base-label b").count() == 0
    # the base lies under the features and never takes the mouse
    z = page.evaluate(
        """() => [".leaflet-lmBase-pane", ".leaflet-overlay-pane"].map(
            s => +getComputedStyle(document.querySelector(s)).zIndex)"""
    )
    assert z[0] < z[1]
    assert (
        page.evaluate(
            "getComputedStyle(document.querySelector('.leaflet-lmBase-pane')).pointerEvents"
        )
        == "none"
    )
    page_url = path.as_uri()
    leaving = [u for u in log.requests if not u.startswith("data:") and u.split("#")[0] != page_url]
    assert leaving == [] and log.tiles == []
    screenshot(page, "map_local_base.png")
    assert_clean(log)


def _filter_boxes(page) -> dict[str, list[str]]:
    """The values of the ticked boxes, per filter group."""
    return page.evaluate(
        """() => { const out = {};
        document.querySelectorAll("input[data-group][data-value]").forEach(i => {
            out[i.dataset.group] = out[i.dataset.group] || [];
            if (i.checked) out[i.dataset.group].push(i.dataset.value); });
        return out; }"""
    )


def _view(page) -> list[float]:
    return page.evaluate(
        "(() => { const m = window.luodianMap.map, c = m.getCenter();"
        " return [c.lat, c.lng, m.getZoom()]; })()"
    )


@pytest.mark.parametrize(
    ("hash_", "applied"),
    [
        ("year=%", {}),
        ("cat=%E0%A4%A", {}),
        ("%E0=1&status=%zz", {}),
        ("year=%&cat=road,park", {"cat": ["road", "park"]}),
        ("cat=road,%E0%A4%A&year=2025&approx=%", {"year": [2025]}),
        # a link to another map's years or categories: none known here, the default
        ("year=2031&cat=nosuch", {}),
        ("year=2031,2025&cat=road,nosuch", {"year": [2025], "cat": ["road"]}),
    ],
)
def test_malformed_hash_keeps_the_default_of_its_key(open_map, maps, hash_, applied):
    """A hash cut short or typed by hand (a malformed % escape), or naming only what this
    map lacks: that key keeps its default, the others apply, and the page comes up whole
    (no URIError stopping its start)."""
    fitted, default_log = open_map(maps["default"])
    view = _view(fitted)
    all_boxes = _filter_boxes(fitted)
    page, log = open_map(maps["default"], hash_)
    state = page.evaluate("window.luodianMap.getFilter()")
    assert state == {
        "year": applied.get("year"),
        "cat": applied.get("cat"),
        "status": None,
        "follow": None,
        "approx": True,
    }
    boxes = _filter_boxes(page)
    assert boxes == {**all_boxes, **{g: [str(v) for v in vs] for g, vs in applied.items()}}
    years, cats = applied.get("year"), applied.get("cat")
    assert visible(page) == expected(years=years, cats=cats)
    total, shown = len(make_features()), len(expected(years=years, cats=cats, on_map=False))
    assert page.inner_text(".lm-summary") == f"显示 {shown} / {total} 项"
    frame = make_features()
    if years:
        frame = frame[frame["year"].isin(years)]
    for cat, n in frame["category"].value_counts().items():
        label = page.locator(f"input[data-group='cat'][data-value='{cat}']").locator("..")
        assert label.locator(".lm-count").inner_text() == str(n)
    # drawn: the canvas painted the selected features, town-level ones in a group marker
    painted = page.evaluate("window.luodianMap.paintedIds()")
    assert painted == sorted(set(expected(years=years, cats=cats)) - set(town_points()))
    groups = page.evaluate("window.luodianMap.townGroups()")
    assert sorted(i for g in groups for i in g["ids"]) == sorted(
        set(expected(years=years, cats=cats)) & set(town_points())
    )
    if not applied:
        assert groups and all(g["onMap"] and g["painted"] for g in groups)
    assert page.locator(".leaflet-control-minimap").count() == 1
    assert _view(page) == view  # fitted to the data like the page without a hash
    assert_clean(log)
    assert_clean(default_log)


def test_malformed_hash_typed_later_resets_the_filter(open_map, maps):
    page, log = open_map(maps["default"], "year=2025")
    page.evaluate("location.hash = 'cat=%E0%A4%A&status=planned'")
    page.wait_for_function("window.luodianMap.getFilter().year === null")
    assert page.evaluate("window.luodianMap.getFilter()")["cat"] is None
    assert visible(page) == expected(statuses=["planned"])
    page.evaluate("location.hash = 'year=%'")
    page.wait_for_function("window.luodianMap.getFilter().status === null")
    assert visible(page) == expected()
    assert_clean(log)


@pytest.mark.parametrize("basemap", ["none", "local"])
def test_coverage_map_of_an_offline_build_asks_no_server(open_map, tmp_path, web_assets, basemap):
    """``build --self-contained --basemap none|local``: the coverage map, like the main maps,
    names no tile server and, every request recorded, asks for nothing beyond the file."""
    build = [sys.executable, "-m", "luodian_map.cli", "build", str(REPORT), "--self-contained"]
    result = subprocess.run(
        [*build, "--basemap", basemap], cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    for name in ("luodian.html", "coverage.html"):
        path = tmp_path / "maps" / name
        text = path.read_text("utf-8")
        named = [h for h in TILE_HOSTS if h in text] + (["{z}"] if "{z}" in text else [])
        page, log = open_map(path, offline=True, wait=name != "coverage.html")
        if name == "coverage.html":  # its committees, drawn as SVG paths
            page.wait_for_function("document.querySelectorAll('path.leaflet-interactive').length")
        page.wait_for_load_state("load")
        leaving = [u for u in log.requests if not u.startswith(("data:", path.as_uri()))]
        assert (named, leaving) == ([], []), name
        assert page.locator(".leaflet-tile").count() == 0
        assert_clean(log)
    screenshot(page, f"coverage_{basemap}.png")


@pytest.mark.parametrize(
    ("variant", "label", "dash"),
    [("default", "镇域范围（近似）", "8 5"), ("exact_outline", "镇域范围", None)],
)
def test_outline_is_labelled_approximate_only_when_it_is(open_map, maps, variant, label, dash):
    """A sourced boundary (fetched from OpenStreetMap) is drawn solid and not called
    approximate; the hand-drawn outline stays dashed and says so."""
    page, log = open_map(maps[variant])
    texts = page.locator(".lm-legend-text").all_inner_texts()
    assert label in texts and not ({"镇域范围", "镇域范围（近似）"} - {label}) & set(texts)
    dashes = page.evaluate(
        """() => { const out = [];
            window.luodianMap.map.eachLayer(l => {
                if (l.feature && l.options && l.options.lmUnder) out.push(l.options.dashArray);
            });
            return out; }"""
    )
    assert dashes and set(dashes) == {dash}
    assert_clean(log)
