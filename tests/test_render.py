"""render_map without a browser: determinism, escaping, datum shift, basemaps, assets."""

from __future__ import annotations

import hashlib
import json
import re
from html.parser import HTMLParser

import numpy as np
import pytest
import shapely

from conftest import (
    FOLLOW_UPS,
    MEILAN,
    MEILAN_MENTIONS,
    UNPLACED_ID,
    XSS_MENTION,
    XSS_NAME,
    make_features,
    make_outline,
)
from luodian_map.crs import wgs84_to_gcj02
from luodian_map.errors import AssetsError, LuodianMapError
from luodian_map.web import UI_STRINGS, assets, render_map

# ---------------------------------------------------------------------------- helpers
GEOMETRY_TYPES = [None, "Point", "MultiPoint", "LineString", "MultiLineString", "Polygon",
                  "MultiPolygon", "GeometryCollection"]  # fmt: skip
NESTING = {"Point": 0, "MultiPoint": 1, "LineString": 1, "MultiLineString": 2, "Polygon": 2,
           "MultiPolygon": 3}  # fmt: skip


def varints(text: str):
    """The non-negative integers of an encoded-polyline string, in turn."""
    value, shift = 0, 0
    for char in text:
        chunk = ord(char) - 63
        value |= (chunk & 31) << shift
        shift += 5
        if chunk < 32:
            yield value
            value, shift = 0, 0


def decode(compact: dict) -> dict:
    """The page's compact data (columns, encoded coordinates) as a feature collection, the
    way luodian_map.js reads it; an entity's shared mentions stay in ``mentions``."""
    n = compact["n"]
    columns = {}
    for key, column in compact["columns"].items():
        if "c" in column:
            columns[key] = [column["c"]] * n
        elif "d" in column:
            columns[key] = [column["d"][i] for i in varints(column["i"])]
        else:
            columns[key] = column["v"]
        assert len(columns[key]) == n, key
    numbers = varints(compact["geometry"])
    last = [0, 0]

    def position() -> list[float]:
        for axis in (0, 1):
            v = next(numbers)
            last[axis] += -(v + 1) // 2 if v % 2 else v // 2
        return [last[0] / compact["scale"], last[1] / compact["scale"]]

    def nested(depth: int):
        return position() if depth == 0 else [nested(depth - 1) for _ in range(next(numbers))]

    def geometry():
        kind = GEOMETRY_TYPES[next(numbers)]
        if kind is None:
            return None
        if kind == "GeometryCollection":
            return {"type": kind, "geometries": [geometry() for _ in range(next(numbers))]}
        return {"type": kind, "coordinates": nested(NESTING[kind])}

    features = [
        {"type": "Feature", "properties": {k: v[i] for k, v in columns.items()},
         "geometry": geometry()}
        for i in range(n)
    ]  # fmt: skip
    assert next(numbers, None) is None  # every number read
    return {"type": "FeatureCollection", "features": features, "mentions": compact["mentions"]}


def compact_data(page: str) -> dict:
    """The data block the page parses for LuodianMap.create()."""
    match = re.search(r'<script type="application/json" id="([^"]+)">(.*?)</script>', page, re.S)
    assert match and f'getElementById("{match.group(1)}")' in page
    return json.loads(match.group(2))


def page_data(page: str) -> tuple[dict, dict]:
    """The feature collection and config a page hands to LuodianMap.create()."""
    lines = page.splitlines()
    start = next(i for i, line in enumerate(lines) if "LuodianMap.create(" in line)
    config = json.loads(lines[start + 3].strip().rstrip(","))
    return decode(compact_data(page)), config


def properties(data: dict) -> dict[str, dict]:
    """Feature id → properties, with the mentions the page shares per entity filled in."""
    out = {}
    for f in data["features"]:
        props = dict(f["properties"])
        if props["mentions"] is None:
            props["mentions"] = data["mentions"][props["entity"]]
        out[props["id"]] = props
    return out


def outline_data(page: str) -> dict:
    lines = page.splitlines()
    start = next(i for i, line in enumerate(lines) if "LuodianMap.outline(" in line)
    return json.loads(lines[start + 2].strip())


class Tags(HTMLParser):
    """Every start tag with its attributes, and the text of <style> elements."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.styles: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self._in_style = tag == "style"

    def handle_endtag(self, tag):
        self._in_style = False

    def handle_data(self, data):
        if self._in_style:
            self.styles.append(data)


def parse(page: str) -> Tags:
    parser = Tags()
    parser.feed(page)
    return parser


def render(tmp_path, name="map.html", **kwargs) -> str:
    kwargs.setdefault("basemap", "none")
    kwargs.setdefault("outline", make_outline())
    path = render_map(make_features(), tmp_path / name, **kwargs)
    return path.read_text(encoding="utf-8")


def all_coords(geometry: dict) -> np.ndarray:
    flat: list[list[float]] = []

    def walk(c):
        if isinstance(c[0], (int, float)):
            flat.append(c)
        else:
            for part in c:
                walk(part)

    walk(geometry["coordinates"])
    return np.array(flat, dtype=float)


# ---------------------------------------------------------------------------- tests
@pytest.mark.parametrize(
    "options",
    [
        {},
        {"lang": "en", "edit": True},
        {"year": 2025, "basemap": "osm"},
        {"basemap": "gaode", "edit": True},
    ],
    ids=["default", "en-edit", "year-osm", "gaode-edit"],
)
def test_output_is_deterministic(tmp_path, options):
    first = render(tmp_path, "a.html", **options)
    second = render(tmp_path, "b.html", **options)
    assert hashlib.sha256(first.encode()).hexdigest() == hashlib.sha256(second.encode()).hexdigest()
    # folium's random 32-hex element ids are gone
    assert not re.search(r"_[0-9a-f]{32}\b", first)


def test_row_order_does_not_matter(tmp_path):
    features = make_features()
    a = render_map(features, tmp_path / "a.html", basemap="none").read_bytes()
    b = render_map(features.iloc[::-1], tmp_path / "b.html", basemap="none").read_bytes()
    assert a == b


def test_features_sorted_with_six_decimals(tmp_path):
    page = render(tmp_path)
    data, _ = page_data(page)
    ids = [f["properties"]["id"] for f in data["features"]]
    assert ids == sorted(ids) and len(ids) == len(make_features())
    for f in data["features"]:
        if f["properties"]["id"] == UNPLACED_ID:
            assert f["geometry"] is None
            continue
        coords = all_coords(f["geometry"])
        assert np.allclose(coords, np.round(coords, 6), atol=0, rtol=0)
    numbers = re.findall(r"\d+\.(\d+)", json.dumps([f["geometry"] for f in data["features"]]))
    assert max(len(n) for n in numbers) <= 6


def test_properties_and_quantities_json_string(tmp_path):
    data, config = page_data(render(tmp_path))
    props = {f["properties"]["id"]: f["properties"] for f in data["features"]}
    # road-0002 carries its quantities as a JSON string: it arrives as a list
    assert props["road-0002"]["quantities"] == [{"text": "1.5公里", "unit": "公里", "value": 1.5}]
    assert props["road-0005"]["precision"] == "town"
    assert props["road-0005"]["stated_count"] == 4
    assert props["road-0005"]["aggregate"] is True
    assert props["facility-0020"]["kind"] == "medical"
    assert props["park-0007"]["kind"] is None
    assert config["years"] == [2023, 2024, 2025]
    assert config["strings"]["group_cat"] == "类别"


def test_report_text_is_escaped(tmp_path):
    page = render(tmp_path, title="<script>alert(3)</script>规划图", edit=True)
    # The dangerous strings never appear raw: not in markup, not in a script.
    for raw in ("<script>alert(1)", "alert(1)</script>", "<img src=x", "<script>alert(3)"):
        assert raw not in page
    # Report text is JSON inside <script>, with <, > and & as \u escapes ...
    assert "\\u003cscript\\u003ealert(1)\\u003c/script\\u003e新川路" in page
    assert "\\u003cimg src=x onerror=alert(2)\\u003e" in page
    # ... and the title is HTML-escaped text.
    assert "<title>&lt;script&gt;alert(3)&lt;/script&gt;规划图</title>" in page
    assert "<h1>&lt;script&gt;alert(3)&lt;/script&gt;规划图</h1>" in page
    tags = parse(page).tags
    assert not [t for t, _ in tags if t in ("img", "iframe", "object", "embed")]
    handlers = [(t, k) for t, attrs in tags for k in attrs if k.lower().startswith("on")]
    assert handlers == []
    data, _ = page_data(page)
    names = [f["properties"]["name"] for f in data["features"]]
    assert XSS_NAME in names


class Scripts(HTMLParser):
    """Every <script> element: its attributes and its text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.scripts: list[tuple[dict[str, str | None], str]] = []
        self._open = False

    def handle_starttag(self, tag, attrs):
        if tag == "script":
            self.scripts.append((dict(attrs), ""))
            self._open = True

    def handle_endtag(self, tag):
        self._open = self._open and tag != "script"

    def handle_data(self, data):
        if self._open:
            attrs, text = self.scripts[-1]
            self.scripts[-1] = (attrs, text + data)


@pytest.mark.parametrize("edit", [False, True])
def test_report_text_adds_no_script_element(tmp_path, edit):
    """A name and a quote holding a <script> element and template syntax give the page the
    same <script> elements as harmless text does; they reach the page only as JSON data."""
    name = "<script>alert(1)</script>{{ 7*7 }}新川路"
    quote = f"完成{name}改造，</script><script>alert(7)</script>并拓宽。"

    def scripts(name: str, quote: str, file: str) -> tuple[str, list[tuple[dict, str]]]:
        features = make_features()
        row = features["id"] == "road-0003"
        features.loc[row, "name"] = name
        features.loc[row, "quote"] = quote
        page = render_map(features, tmp_path / file, basemap="none", edit=edit).read_text()
        parser = Scripts()
        parser.feed(page)
        return page, parser.scripts

    page, hostile = scripts(name, quote, "hostile.html")
    _, harmless = scripts("新川路", "完成新川路改造。", "harmless.html")
    assert [attrs for attrs, _ in hostile] == [attrs for attrs, _ in harmless]
    differ = [(a, t) for (a, t), (_, u) in zip(hostile, harmless, strict=True) if t != u]
    (attrs, text), *others = differ  # only the data block differs ...
    assert others == [] and attrs["type"] == "application/json"
    data = decode(json.loads(text))  # ... and holds the text as it was
    props = {f["properties"]["id"]: f["properties"] for f in data["features"]}
    assert (props["road-0003"]["name"], props["road-0003"]["quote"]) == (name, quote)
    assert "alert(1)</script>" not in page and "</script><script>alert(7)" not in page


def test_template_syntax_in_report_text_stays_text(tmp_path):
    """branca reads rendered parts as Jinja templates once more; report text that looks
    like one is neither evaluated nor breaks the page."""
    features = make_features()
    quote = "{{ 7*7 }}号{% if true %}x{% endif %}{# c #}"
    features.loc[features["id"] == "park-0007", "quote"] = quote
    page = render_map(features, tmp_path / "a.html", basemap="none", title="{{ 6*6 }}").read_text()
    assert properties(page_data(page)[0])["park-0007"]["quote"] == quote
    assert "<h1>{{ 6*6 }}</h1>" in page and "36" not in page.split("<h1>")[1][:20]


def test_compact_data(tmp_path):
    """Repeated values are sent once (a dictionary and one character per feature), and the
    delta-encoded coordinates decode to the six-decimal ones exactly."""
    page = render(tmp_path)
    compact = compact_data(page)
    columns = compact["columns"]
    assert set(columns) >= {"id", "name", "category", "year", "status", "precision"}
    assert columns["category"]["d"] and len(columns["category"]["i"]) == compact["n"]
    assert "v" in columns["id"] and ("c" in columns["report"] or "d" in columns["report"])
    frame = make_features().set_index("id")
    for f in page_data(page)[0]["features"]:
        geom = frame.loc[f["properties"]["id"], "geometry"]
        if geom is None:
            assert f["geometry"] is None
            continue
        assert f["geometry"]["type"] == geom.geom_type
        want = np.round(shapely.get_coordinates(geom), 6)
        assert np.array_equal(all_coords(f["geometry"]), want)


def test_popups_are_built_with_text_nodes():
    """The page code never turns data into HTML (no innerHTML, no string popups)."""
    from luodian_map.web.templates import page_script

    code = page_script()
    assert "innerHTML" not in code and "insertAdjacentHTML" not in code
    assert "document.write" not in code
    # popups and tooltips get DOM nodes from the builders, never a string
    contents = re.findall(r"(?:setContent|bindPopup|bindTooltip)\((\w+)", code)
    assert contents and set(contents) <= {"popupContent", "groupContent", "el", "function"}
    assert "bindPopup(" not in code  # one popup, opened by the page, for every feature


def test_gaode_shifts_features_and_outline_to_gcj02(tmp_path):
    osm = render(tmp_path, "osm.html", basemap="osm")
    gaode = render(tmp_path, "gaode.html", basemap="gaode")
    osm_data, osm_config = page_data(osm)
    gaode_data, gaode_config = page_data(gaode)
    assert osm_config["datum"] == "wgs84" and gaode_config["datum"] == "gcj02"
    for a, b in zip(osm_data["features"], gaode_data["features"], strict=True):
        assert a["properties"] == b["properties"]
        if a["geometry"] is None:
            assert b["geometry"] is None
            continue
        wgs, gcj = all_coords(a["geometry"]), all_coords(b["geometry"])
        lon, lat = wgs84_to_gcj02(wgs[:, 0], wgs[:, 1])
        # gaode coordinates are the GCJ-02 transform of the WGS-84 ones (6-decimal rounding)
        assert np.allclose(gcj[:, 0], lon, atol=1.5e-6)
        assert np.allclose(gcj[:, 1], lat, atol=1.5e-6)
        d_east = (gcj[:, 0] - wgs[:, 0]) * 111320 * np.cos(np.radians(wgs[:, 1]))
        d_north = (gcj[:, 1] - wgs[:, 1]) * 110540
        shift = np.hypot(d_east, d_north)
        assert np.all((shift > 200) & (shift < 1000)), shift  # several hundred metres
    a, b = outline_data(osm), outline_data(gaode)
    wgs, gcj = all_coords(a["features"][0]["geometry"]), all_coords(b["features"][0]["geometry"])
    lon, lat = wgs84_to_gcj02(wgs[:, 0], wgs[:, 1])
    assert np.allclose(gcj[:, 0], lon, atol=1.5e-6) and np.allclose(gcj[:, 1], lat, atol=1.5e-6)
    assert "autonavi.com" in gaode and "tile.openstreetmap.org" in osm


def test_basemaps(tmp_path, monkeypatch):
    assert "basemaps.cartocdn.com/light_all" in render(tmp_path, basemap="cartodb")
    none = render(tmp_path, basemap="none")
    assert (
        "L.tileLayer("
        not in none.split("LuodianMap.create(")[1].split("LuodianMap.overviewLayer")[0]
    )
    monkeypatch.setenv("TIANDITU_KEY", "abc123")
    page = render(tmp_path, basemap="tianditu")
    assert "tianditu.gov.cn/DataServer?T=vec_w" in page and "tk=abc123" in page
    with pytest.raises(LuodianMapError, match="unknown basemap"):
        render(tmp_path, basemap="google")
    with pytest.raises(LuodianMapError, match="unknown language"):
        render(tmp_path, lang="fr")


def test_tianditu_without_key_raises(tmp_path, monkeypatch):
    monkeypatch.delenv("TIANDITU_KEY", raising=False)
    with pytest.raises(LuodianMapError) as info:
        render(tmp_path, basemap="tianditu")
    assert "TIANDITU_KEY" in str(info.value) and "\n" not in str(info.value)
    assert not (tmp_path / "map.html").exists()


def test_publication_map_of_one_year(tmp_path):
    page = render(tmp_path, year=2024, title="罗店镇规划图")
    data, config = page_data(page)
    assert {f["properties"]["year"] for f in data["features"]} == {2024}
    assert len(data["features"]) == int((make_features()["year"] == 2024).sum())
    assert config["publication"] is True
    assert "<title>罗店镇规划图（2024年）</title>" in page
    assert "@page { size: A3 landscape" in page and "@media print" in page


def test_english_labels(tmp_path):
    page = render(tmp_path, lang="en")
    _, config = page_data(page)
    assert config["strings"] == {
        k: v for k, v in UI_STRINGS["en"].items() if not k.startswith("html_")
    }
    assert {c["label"] for c in config["categories"]} >= {"Roads", "Parks and green space"}
    assert '<html lang="en">' in page
    assert '<html lang="zh-CN">' in render(tmp_path)


def test_self_contained_without_assets_raises(tmp_path, monkeypatch):
    monkeypatch.setenv("LUODIAN_MAP_ASSETS", str(tmp_path / "empty"))
    with pytest.raises(AssetsError) as info:
        render(tmp_path, self_contained=True)
    assert str(info.value) == (
        "web assets for --self-contained are missing: run `luodian-map assets`"
    )
    assert not (tmp_path / "map.html").exists()


@pytest.mark.parametrize("edit", [False, True])
def test_self_contained_page_loads_nothing(tmp_path, web_assets, edit):
    page = render(tmp_path, self_contained=True, edit=edit)
    parsed = parse(page)
    for tag, attrs in parsed.tags:
        for key in ("src", "href", "data", "poster", "srcset"):
            value = attrs.get(key) or ""
            if tag == "a":
                continue  # a link the user may follow is not a load
            assert not re.match(r"\s*(https?:)?//", value), (tag, key, value)
    assert not [t for t, a in parsed.tags if t == "link"]
    for css in parsed.styles:
        for url in re.findall(r"url\(\s*['\"]?([^'\")]+)", css):
            assert url.startswith(("data:", "#")), url
    assert "L.Control.MiniMap" in page and "L.Control.Measure" in page
    assert ("L.Control.Draw" in page) is edit
    # folium's other defaults are dropped, not inlined
    for unwanted in ("jQuery", "bootstrap", "fontawesome", "awesome-markers"):
        assert unwanted.lower() not in page.lower()


def test_default_page_only_links_leaflet_and_plugins(tmp_path):
    page = render(tmp_path)
    links = [a.get("src") or a.get("href") for t, a in parse(page).tags if t in ("script", "link")]
    links = [u for u in links if u]
    assert set(links) <= set(assets.page_asset_urls())
    assert "https://cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.js" in links
    assert not any("jquery" in u or "bootstrap" in u for u in links)


# ---------------------------------------------------------------------------- assets
def test_every_page_asset_maps_to_an_npm_file():
    resolved = {assets.resolve_url(u) for u in assets.page_asset_urls()}
    packages = {(r.package, r.version) for r in resolved}
    assert ("leaflet", "1.9.3") in packages
    assert ("leaflet-draw", "1.0.2") in packages
    assert ("leaflet-measure", "2.1.7") in packages
    assert assets.resolve_url("https://code.jquery.com/jquery-3.7.1.min.js").package == "jquery"
    with pytest.raises(AssetsError):
        assets.resolve_url("https://example.com/x.js")


def _fake_cache(root, files: dict[str, bytes], urls: dict[str, str]) -> None:
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    manifest = {
        "format": assets.MANIFEST_FORMAT,
        "packages": {},
        "urls": {
            url: {
                "file": rel,
                "sha256": hashlib.sha256(files[rel]).hexdigest(),
                "package": "x",
                "version": "1",
            }
            for url, rel in urls.items()
        },
    }
    (root / "manifest.json").write_text(json.dumps(manifest))


def test_inline_assets_with_a_fake_cache(tmp_path):
    files = {
        "npm/x@1/dist/x.js": b"var s = '</script>';",
        "npm/x@1/dist/x.css": b".a{background:url(images/a.png)} .b{behavior:url(#default#VML)}",
        "npm/x@1/dist/images/a.png": b"\x89PNG",
    }
    urls = {"https://cdn/x.js": "npm/x@1/dist/x.js", "https://cdn/x.css": "npm/x@1/dist/x.css"}
    _fake_cache(tmp_path, files, urls)
    page = (
        '<script src="https://cdn/x.js"></script>\n'
        '<link rel="stylesheet" href="https://cdn/x.css"/>'
    )
    out = assets.inline_assets(page, tmp_path)
    assert "<script>var s = '<\\/script>';</script>" in out
    assert 'url("data:image/png;base64,iVBORw==")' in out and "url(#default#VML)" in out
    # a damaged file is refused, not inlined
    (tmp_path / "npm/x@1/dist/x.js").write_bytes(b"evil()")
    with pytest.raises(AssetsError, match="damaged"):
        assets.inline_assets(page, tmp_path)
    with pytest.raises(AssetsError, match="missing"):
        assets.inline_assets('<script src="https://cdn/other.js"></script>', tmp_path)


def test_asset_cache_location(monkeypatch, tmp_path):
    monkeypatch.setenv("LUODIAN_MAP_ASSETS", str(tmp_path))
    assert assets.assets_dir() == tmp_path
    monkeypatch.delenv("LUODIAN_MAP_ASSETS")
    assert assets.assets_dir().parts[-3:] == (".cache", "luodian-map", "assets")


def test_fetched_cache_is_complete_and_verified(web_assets):
    manifest = assets.load_manifest(web_assets)
    assert set(manifest["urls"]) == set(assets.page_asset_urls())
    for entry in manifest["urls"].values():
        data = (web_assets / entry["file"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry["sha256"]
    for dist in manifest["packages"].values():
        assert dist["integrity"].startswith("sha512-")


def test_empty_and_unplaced_features(tmp_path):
    features = make_features()
    features.loc[features["id"] == "park-0006", "geometry"] = None
    data, _ = page_data(render_map(features, tmp_path / "a.html", basemap="none").read_text())
    # features without geometry stay in the data (counted and listed, not drawn)
    geometry = {f["properties"]["id"]: f["geometry"] for f in data["features"]}
    assert len(geometry) == len(features)
    assert geometry["park-0006"] is None and geometry[UNPLACED_ID] is None
    assert geometry["park-0007"]["type"] == "Polygon"
    empty = features.iloc[0:0]
    page = render_map(empty, tmp_path / "b.html", basemap="none", year=2025).read_text()
    assert page_data(page)[0]["features"] == []


def test_linked_properties_reach_the_page(tmp_path):
    page = render(tmp_path)
    data, config = page_data(page)
    props = properties(data)
    assert props["park-0006"]["entity"] == props["park-0031"]["entity"] == MEILAN
    assert props["park-0031"]["mentions"] == props["park-0006"]["mentions"] == MEILAN_MENTIONS
    # an entity's mentions are in the page once, not once per year
    assert data["mentions"][MEILAN] == MEILAN_MENTIONS
    assert page.count("alert(5)") == 1
    assert {i: p["follow_up"] for i, p in props.items() if p["follow_up"]} == FOLLOW_UPS
    # a phase names its parent: the parent's name when it is on the map
    assert props["park-0032"]["parent"] == MEILAN
    assert props["park-0032"]["parent_name"] == "美兰湖公园"
    assert props["park-0006"]["parent_name"] is None
    assert props[UNPLACED_ID]["town"] == "罗泾镇"
    assert [f["id"] for f in config["followUps"]] == [
        "delivered",
        "in_progress",
        "not_mentioned",
        "pending",
        "none",
    ]
    # the quote of a mention is report text: escaped like every other
    assert "\\u003cscript\\u003ealert(5)\\u003c/script\\u003e" in page
    assert "<script>alert(5)" not in page and "onerror=alert(6)>" not in page
    assert XSS_MENTION in json.dumps(props["park-0031"]["mentions"], ensure_ascii=False)


def test_mentions_as_json_text_and_absent_parent(tmp_path):
    """Layers read back from a GeoPackage carry mentions as JSON text; a phase whose parent
    is not on the map is still named from its own name."""
    features = make_features()
    features["mentions"] = [json.dumps(m, ensure_ascii=False) for m in features["mentions"]]
    features = features[features["id"] != "park-0031"]
    features = features[features["id"] != "park-0006"]
    features.loc[features["id"] == "road-0002", "follow_up"] = "bogus"
    data, _ = page_data(render_map(features, tmp_path / "a.html", basemap="none").read_text())
    props = properties(data)
    assert props["park-0032"]["mentions"] == [
        {"report": "luodian-2025", "year": 2025, "part": "plan", "status": "planned",
         "quote": "启动美兰湖公园二期建设。"}
    ]  # fmt: skip
    assert props["park-0032"]["parent_name"] == "美兰湖公园"  # "二期" taken off its own name
    assert props["road-0002"]["follow_up"] is None


def test_public_map_carries_no_guess_geometry(tmp_path):
    """``public=True``: the page's data holds the surveyed and sourced features only; the
    guesses travel as a list (no geometry) with their quotes escaped like all report text,
    and the approximate town outline is not drawn, though it still frames the map."""
    features = make_features()
    guess = "road-0002"
    features.loc[features["id"] == guess, "quote"] = "<script>alert(7)</script>美丹路"
    page = render_map(
        features, tmp_path / "p.html", basemap="none", public=True,
        outline=make_outline().assign(precision="approximate"),
    ).read_text()  # fmt: skip
    data, config = page_data(page)
    exact = features["precision"].isin(["surveyed", "sourced"])
    assert sorted(f["properties"]["id"] for f in data["features"]) == sorted(
        features.loc[exact, "id"]
    )
    assert config["public"] is True and config["hasOutline"] is False
    listed = json.loads(
        re.search(r"LuodianMap\.pendingPanel\(\s*\w+,\s*(\[.*?\]),\s*\{", page, re.S).group(1)
    )
    assert sorted(i["id"] for i in listed) == sorted(features.loc[~exact, "id"])
    assert {"geometry", "coordinates"}.isdisjoint(k for i in listed for k in i)
    item = next(i for i in listed if i["id"] == guess)
    assert item["quote"] == "<script>alert(7)</script>美丹路" and item["category"] == "道路"
    assert "<script>alert(7)" not in page and "alert(7)</script>" not in page
    assert "\\u003cscript\\u003ealert(7)" in page
    assert "padding" in page and '"paddingTopLeft": [340, 60]' in page
    with pytest.raises(LuodianMapError, match="--public"):
        render_map(features, tmp_path / "e.html", basemap="none", public=True, edit=True)
    assert not (tmp_path / "e.html").exists()
