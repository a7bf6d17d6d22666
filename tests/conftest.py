"""Shared fixtures.

Map fixtures (render / browser tests): ``make_features()`` builds a small GeoDataFrame of
features shaped like the geocoder's output, around 罗店镇 (121.30–121.40 E, 31.38–31.45 N):
three years, several categories and statuses, points / lines / polygons / multi-parts, all
four precisions, town-level aggregates at the town centroid, and one feature whose name and
quote carry HTML that must stay text.

Linked reports (issue 6): 美兰湖公园 is one entity with a feature in 2023 and in 2024 (its
2024 plan mention quotes HTML that must stay text), 美兰湖公园二期 a phase of it; some
features carry a follow-up verdict; 罗泾镇社区食堂 has no geometry (a town without a
gazetteer or a known district).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

XSS_NAME = "<script>alert(1)</script>新川路"
XSS_QUOTE = "完成<script>alert(1)</script>新川路改造，<img src=x onerror=alert(2)>并拓宽至 24 米。"
TOWN_CENTROID = (121.35, 31.415)
XSS_MENTION = "计划<script>alert(5)</script>完成美兰湖公园改造<img src=x onerror=alert(6)>。"
MEILAN = "park-e-meilan"  # the entity of park-0006 (2023) and park-0031 (2024)
MEILAN_MENTIONS = [
    {"report": "luodian-2023", "year": 2023, "part": "review", "status": "completed",
     "quote": "完成美兰湖公园一期绿化提升，新增绿地12公顷。"},
    {"report": "luodian-2023", "year": 2024, "part": "plan", "status": "planned",
     "quote": XSS_MENTION},
    {"report": "luodian-2024", "year": 2024, "part": "review", "status": "completed",
     "quote": "美兰湖公园改造全面完成，沿湖步道贯通，新增座椅与照明设施，"
              "周边居民休闲空间明显改善，全年接待游客逾百万人次。"},
]  # fmt: skip
UNPLACED_ID = "facility-0033"
UNPLACED_NAME = "罗泾镇社区食堂"
# follow-up verdicts of the fixture (feature id -> verdict); every other feature has none
FOLLOW_UPS = {
    "road-0005": "delivered",
    "park-0031": "delivered",
    "village-0010": "in_progress",
    "industry-0019": "not_mentioned",
    "facility-0022": "pending",
    "park-0032": "pending",
}


def _quantity(value, unit, text):
    return {"value": value, "unit": unit, "text": text}


def make_features():
    """About 30 features of every geometry type, precision, year and status (see module)."""
    import geopandas as gpd
    from shapely.geometry import (
        LineString,
        MultiLineString,
        MultiPoint,
        MultiPolygon,
        Point,
        Polygon,
    )

    from luodian_map.categories import CATEGORIES

    def box(x, y, w=0.006, h=0.004):
        return Polygon([(x, y), (x + w, y), (x + w, y + h), (x, y + h)])

    rows = []

    def add(
        n,
        name,
        category,
        year,
        status,
        geom,
        precision,
        *,
        quote=None,
        quantities=(),
        geocoder=None,
        uncertainty=None,
        part=None,
        kind=None,
        aggregate=False,
        stated_count=None,
        json_quantities=False,
    ):
        geocoder = (
            geocoder
            or {
                "surveyed": "overrides",
                "sourced": "gazetteer",
                "approximate": "gazetteer",
                "town": "town",
            }[precision]
        )
        uncertainty = (
            uncertainty
            if uncertainty is not None
            else {"surveyed": 10.0, "sourced": 50.0, "approximate": 400.0, "town": 3000.0}[
                precision
            ]
        )
        quantities = [_quantity(*q) for q in quantities]
        rows.append({
            "id": f"{category}-{n:04d}",
            "name": name,
            "category": category,
            "category_label": CATEGORIES[category].label_zh,
            "year": year,
            "status": status,
            "report": f"luodian-{year - 1 if part == 'plan' else year}",
            "part": part or ("plan" if status == "planned" else "review"),
            "section": "一、2024年工作回顾 / （二）城乡建设" if status != "planned"
                       else "二、2025年工作安排 / （三）城市更新",
            "quote": quote or f"推进{name}建设，年内基本完成。",
            "quantities": json.dumps(quantities, ensure_ascii=False) if json_quantities
                          else quantities,
            "geocoder": geocoder,
            "precision": precision,
            "uncertainty_m": float(uncertainty),
            "kind": kind,
            "aggregate": aggregate,
            "stated_count": stated_count,
            "town": "罗店镇",
            "entity": None,
            "parent": None,
            "mentions": [{"report": f"luodian-{year - 1 if part == 'plan' else year}",
                          "year": year, "part": part or ("plan" if status == "planned"
                                                         else "review"),
                          "status": status, "quote": quote or f"推进{name}建设，年内基本完成。"}],
            "follow_up": None,
            "geometry": geom,
        })  # fmt: skip

    cx, cy = TOWN_CENTROID
    # --- roads (lines)
    add(
        1,
        "罗溪路",
        "road",
        2023,
        "completed",
        LineString([(121.33, 31.40), (121.345, 31.405), (121.36, 31.41)]),
        "sourced",
        quantities=[(2.1, "公里", "2.1公里")],
    )
    add(
        2,
        "美丹路",
        "road",
        2024,
        "in_progress",
        LineString([(121.31, 31.42), (121.33, 31.425)]),
        "approximate",
        quantities=[(1.5, "公里", "1.5公里")],
        json_quantities=True,
    )
    add(
        3,
        XSS_NAME,
        "road",
        2025,
        "planned",
        LineString([(121.37, 31.43), (121.385, 31.435)]),
        "surveyed",
        quote=XSS_QUOTE,
        quantities=[(24, "米", "<b>24 米</b>")],
    )
    add(
        4,
        "沪太路辅道",
        "road",
        2025,
        "planned",
        MultiLineString(
            [[(121.34, 31.39), (121.345, 31.395)], [(121.35, 31.40), (121.355, 31.405)]]
        ),
        "approximate",
    )
    add(
        5,
        "罗店镇道路整修",
        "road",
        2024,
        "completed",
        Point(cx, cy),
        "town",
        aggregate=True,
        stated_count=4,
        quote="完成罗店镇道路整修等4条道路。",
        quantities=[(4, "条", "4条")],
    )
    # --- parks (polygons)
    add(
        6,
        "美兰湖公园",
        "park",
        2023,
        "completed",
        box(121.33, 31.42),
        "sourced",
        quantities=[(12, "公顷", "12公顷")],
    )
    add(7, "罗店中心绿地", "park", 2024, "in_progress", box(121.355, 31.405), "approximate")
    add(
        8,
        "北欧新镇口袋公园",
        "park",
        2025,
        "planned",
        MultiPolygon([box(121.32, 31.43, 0.002, 0.002), box(121.325, 31.433, 0.002, 0.002)]),
        "surveyed",
        kind="pocket_park",
    )
    # --- villages (points)
    add(9, "天平村", "village", 2023, "completed", Point(121.31, 31.39), "sourced")
    add(10, "毛家弄村", "village", 2024, "in_progress", Point(121.38, 31.44), "approximate")
    add(
        11,
        "光明村",
        "village",
        2025,
        "planned",
        Point(121.39, 31.395),
        "approximate",
        uncertainty=800.0,
    )
    # --- inefficient land / land reduction: town-level aggregates + polygons
    add(
        12,
        "低效产业用地处置",
        "inefficient_land",
        2024,
        "completed",
        Point(cx, cy),
        "town",
        aggregate=True,
        quantities=[(564, "亩", "564亩")],
        quote="全年处置564亩低效产业用地。",
    )
    add(
        13,
        "工业园区低效地块",
        "inefficient_land",
        2025,
        "planned",
        box(121.36, 31.385),
        "approximate",
    )
    add(
        14,
        "减量化",
        "land_reduction",
        2023,
        "completed",
        Point(cx, cy),
        "town",
        aggregate=True,
        quantities=[(120, "亩", "120亩")],
    )
    add(15, "减量化地块", "land_reduction", 2025, "in_progress", box(121.30, 31.40), "sourced")
    # --- flood points (points, multipoint)
    add(
        16,
        "易积水点改造",
        "flood_point",
        2024,
        "completed",
        MultiPoint([(121.34, 31.41), (121.345, 31.412), (121.35, 31.414)]),
        "approximate",
        stated_count=3,
    )
    add(17, "罗芬路积水点", "flood_point", 2025, "planned", Point(121.365, 31.42), "surveyed")
    # --- industry
    add(18, "智能制造产业园", "industry", 2023, "in_progress", box(121.375, 31.40), "sourced")
    add(19, "新材料项目", "industry", 2025, "planned", Point(121.385, 31.41), "approximate")
    # --- facilities
    add(
        20,
        "罗店医院",
        "facility",
        2023,
        "completed",
        Point(121.352, 31.418),
        "surveyed",
        kind="medical",
    )
    add(
        21,
        "社区养老院",
        "facility",
        2024,
        "in_progress",
        Point(121.358, 31.412),
        "sourced",
        kind="elderly",
    )
    add(
        22,
        "文化活动中心",
        "facility",
        2025,
        "planned",
        Point(121.346, 31.409),
        "town",
        aggregate=True,
    )
    # --- renewal
    add(
        23,
        "罗店古镇",
        "renewal",
        2024,
        "in_progress",
        box(121.348, 31.414, 0.008, 0.005),
        "sourced",
    )
    # --- transport
    add(24, "美兰湖站停车场", "transport", 2023, "completed", Point(121.335, 31.415), "sourced")
    add(
        25,
        "轨交15号线北延伸",
        "transport",
        2025,
        "planned",
        LineString([(121.36, 31.38), (121.365, 31.40), (121.37, 31.44)]),
        "approximate",
    )
    # --- ecology
    add(
        26,
        "练祁河",
        "ecology",
        2024,
        "completed",
        LineString([(121.30, 31.41), (121.33, 31.412), (121.36, 31.414), (121.40, 31.418)]),
        "sourced",
    )
    add(27, "生态林地", "ecology", 2025, "planned", box(121.39, 31.43, 0.008, 0.008), "town")
    # --- agriculture
    add(28, "高标准农田", "agriculture", 2023, "in_progress", box(121.305, 31.435), "approximate")
    # --- area
    add(
        29,
        "罗店新镇重点片区",
        "area",
        2024,
        "planned",
        box(121.32, 31.38, 0.02, 0.012),
        "approximate",
    )
    add(30, "北部产业片区", "area", 2025, "in_progress", box(121.37, 31.42, 0.02, 0.01), "sourced")

    # --- linked reports: one entity over two years, a phase of it, and follow-ups
    add(
        31,
        "美兰湖公园",
        "park",
        2024,
        "completed",
        box(121.33, 31.42),
        "sourced",
        quote=MEILAN_MENTIONS[2]["quote"],
    )
    add(
        32,
        "美兰湖公园二期",
        "park",
        2025,
        "planned",
        box(121.338, 31.426, 0.004, 0.003),
        "approximate",
        quote="启动美兰湖公园二期建设。",
    )
    # --- a place of a town without gazetteer or known district: no geometry at all
    add(33, UNPLACED_NAME, "facility", 2024, "completed", None, "town", geocoder="none")
    by_id = {r["id"]: r for r in rows}
    by_id[UNPLACED_ID].update(town="罗泾镇", uncertainty_m=None)
    for fid in ("park-0006", "park-0031"):
        by_id[fid].update(entity=MEILAN, mentions=[dict(m) for m in MEILAN_MENTIONS])
    by_id["park-0032"].update(entity="park-e-meilan-2", parent=MEILAN)
    for fid, verdict in FOLLOW_UPS.items():
        by_id[fid]["follow_up"] = verdict
    return gpd.GeoDataFrame(rows, geometry="geometry", crs="EPSG:4326")


def town_points(frame=None):
    """Ids of the town-level point features (drawn as town groups, not as dots)."""
    frame = make_features() if frame is None else frame
    mask = (frame["precision"] == "town") & frame.geometry.notna()
    mask &= frame.geometry.geom_type == "Point"
    return sorted(frame.loc[mask, "id"])


def make_outline():
    """An approximate town outline (one polygon) around the fixture's features."""
    import geopandas as gpd
    from shapely.geometry import Polygon

    ring = [
        (121.295, 31.378),
        (121.345, 31.374),
        (121.405, 31.382),
        (121.408, 31.425),
        (121.40, 31.452),
        (121.35, 31.455),
        (121.30, 31.447),
        (121.292, 31.41),
    ]
    return gpd.GeoDataFrame({"name": ["罗店镇（近似）"]}, geometry=[Polygon(ring)], crs="EPSG:4326")


@pytest.fixture
def map_features():
    return make_features()


@pytest.fixture
def town_outline():
    return make_outline()


@pytest.fixture(scope="session")
def web_assets():
    """The npm web assets of self-contained maps, fetched once into the default cache
    (``$LUODIAN_MAP_ASSETS`` or ``~/.cache/luodian-map/assets``); needs registry.npmjs.org
    unless CI already ran ``luodian-map assets``."""
    from luodian_map.web.assets import fetch_assets

    return fetch_assets()


@pytest.fixture(scope="session")
def built_project(tmp_path_factory) -> Path:
    """The shipped report built by the CLI into a scratch project, as a user would (layers
    only, no maps): tests of layers and checks read these, not the committed ``layers/``."""
    project = tmp_path_factory.mktemp("built")
    shutil.copytree(
        ROOT / "geodata", project / "geodata", ignore=shutil.ignore_patterns("overrides.*")
    )
    result = subprocess.run(
        [sys.executable, "-m", "luodian_map.cli", "build", "--no-maps"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    return project
