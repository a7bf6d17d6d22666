"""Coverage checks: each check on a small hand-built town whose answers are known, the
config, strict thresholds, deterministic output, and the shipped report end to end.

The hand-built town is drawn in metres (UTM 51N) from an origin in 罗店镇: the town is the
square (0, 0)–(4000, 4000), the district a larger square around it.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import re
import subprocess
import sys
import urllib.parse
from pathlib import Path
from xml.etree import ElementTree

import geopandas as gpd
import numpy as np
import pytest
import shapely
from pyproj import Transformer
from shapely.geometry import LineString, Point, box

from luodian_map.categories import CATEGORIES
from luodian_map.checks import (
    CHART_FILES,
    ChartProcess,
    CheckConfig,
    chart_input,
    coverage_markdown,
    failed_thresholds,
    load_check_config,
    run_checks,
    write_coverage,
)
from luodian_map.errors import InputError
from luodian_map.gazetteer import load_gazetteer
from luodian_map.layers import read_layers
from luodian_map.outputs import MANIFEST_NAME

REPO = Path(__file__).resolve().parents[1]
METRIC = "EPSG:32651"
ORIGIN = (341_000.0, 3_474_000.0)  # about 121.32 E, 31.39 N
MU = 2000.0 / 3.0  # square metres per 亩
_TO_WGS84 = Transformer.from_crs(METRIC, "EPSG:4326", always_xy=True).transform


def wgs(geometry):
    """A geometry drawn in metres from the origin, in WGS-84."""
    x0, y0 = ORIGIN
    return shapely.transform(
        geometry, lambda xy: np.column_stack(_TO_WGS84(xy[:, 0] + x0, xy[:, 1] + y0))
    )


def feature(fid: str, geometry, **props) -> dict:
    part = props.pop("part", "review")
    row = {
        "id": fid,
        "name": props.pop("name", fid),
        "category": props.pop("category", "road"),
        "year": props.pop("year", 2024),
        "status": props.pop("status", "planned" if part == "plan" else "completed"),
        "report": props.pop("report", "r2024"),
        "part": part,
        "section": "",
        "quote": props.pop("quote", f"完成{fid}。"),
        "quantities": props.pop("quantities", []),
        "geocoder": "test",
        "precision": props.pop("precision", "surveyed"),
        "uncertainty_m": props.pop("uncertainty_m", 10.0),
        "kind": props.pop("kind", None),
        "aggregate": props.pop("aggregate", False),
        "stated_count": props.pop("stated_count", None),
        "town": "测试镇",
        "geometry": wgs(geometry),
    }
    row["category_label"] = CATEGORIES[row["category"]].label_zh
    assert not props, f"unknown properties {props}"
    return row


def frame(*rows: dict) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(list(rows), geometry="geometry", crs="EPSG:4326")


def gazetteer(*committees: tuple) -> gpd.GeoDataFrame:
    """A district, the town and committees ``(name, kind, (x, y)[, precision])``: surveyed
    points unless a precision is given."""
    places = [
        ("宝山区", "district", box(-10_000, -10_000, 14_000, 14_000), "sourced"),
        ("测试镇", "town", box(0, 0, 4000, 4000), "approximate"),
    ]
    places += [(c[0], c[1], Point(c[2]), c[3] if len(c) > 3 else "surveyed") for c in committees]
    return gpd.GeoDataFrame(
        {
            "name": [p[0] for p in places],
            "aliases": [[] for _ in places],
            "kind": [p[1] for p in places],
            "category": None,
            "code": [f"{i:03d}" for i in range(len(places))],
            "precision": [p[3] for p in places],
            "uncertainty_m": 100.0,
            "source": "test",
        },
        geometry=[wgs(p[2]) for p in places],
        crs="EPSG:4326",
    )


@pytest.fixture(scope="module")
def config() -> CheckConfig:
    return load_check_config()


def by_id(rows: list[dict]) -> dict[str, dict]:
    return {r["id"]: r for r in rows}


# ---------------------------------------------------------------------------- located
def test_located_counts_each_precision_and_lists_what_needs_surveying(config):
    rows = [
        feature(f"p-{p}", Point(1000, 1000), precision=p)
        for p in ("surveyed", "sourced", "approximate", "town")
    ]
    rows.append(feature("p-town2", Point(2000, 2000), precision="town", year=2025))
    report = run_checks(frame(*rows), gazetteer(), config)

    located = report.checks["located"]
    assert [(r["year"], r["items"]) for r in located] == [(2024, 4), (2025, 1)]
    first = located[0]
    assert [first[p] for p in ("surveyed", "sourced", "approximate", "town")] == [1, 1, 1, 1]
    assert first["unplaced"] == 1 and first["located_share"] == 0.75
    needs_survey = {r["id"] for r in report.checks["needs_survey"]}
    assert needs_survey == {"p-approximate", "p-town", "p-town2"}
    assert report.summary["located_share"] == 0.6
    by_precision = report.summary["by_precision"]
    assert by_precision == {"surveyed": 1, "sourced": 1, "approximate": 1, "town": 2}


# ---------------------------------------------------------------------------- stated vs named
def test_a_stated_count_larger_than_the_named_list_gives_the_unnamed_rest(config):
    quote = "年祥路、泽阳路等4条道路实现通车。"
    rows = [
        feature(
            "r-1", LineString([(100, 100), (900, 100)]), name="年祥路", stated_count=4, quote=quote
        ),
        feature(
            "r-2", LineString([(100, 300), (900, 300)]), name="泽阳路", stated_count=4, quote=quote
        ),
        # all named: no gap
        feature("r-3", LineString([(100, 500), (900, 500)]), name="甲路", stated_count=1),
        feature(
            "f-1",
            Point(2000, 2000),
            name="健身苑",
            category="facility",
            kind="sport",
            precision="town",
            aggregate=True,
            stated_count=7,
            quantities=[{"value": 7, "unit": "处", "text": "7处"}],
        ),
        feature(
            "w-1",
            Point(2000, 2000),
            name="易积水点",
            category="flood_point",
            precision="town",
            aggregate=True,
            stated_count=7,
            quantities=[{"value": 7, "unit": "个", "text": "七个"}],
        ),
        feature(
            "l-1",
            Point(2000, 2000),
            name="低效产业用地",
            category="inefficient_land",
            precision="town",
            aggregate=True,
            quantities=[{"value": 564, "unit": "亩", "text": "564亩"}],
        ),
    ]
    report = run_checks(frame(*rows), gazetteer(), config)

    gaps = {r["ids"][0]: r for r in report.checks["stated_vs_named"]}
    assert set(gaps) == {"r-1", "f-1", "w-1"}
    assert (gaps["r-1"]["stated"], gaps["r-1"]["named"], gaps["r-1"]["unnamed"]) == (4, 2, 2)
    assert gaps["r-1"]["names"] == ["年祥路", "泽阳路"]
    assert (gaps["f-1"]["type"], gaps["f-1"]["unnamed"]) == ("aggregate", 7)
    assert (gaps["w-1"]["unnamed"], gaps["w-1"]["type"]) == (7, "aggregate")
    assert "l-1" not in gaps  # an area is not a count
    assert report.summary["unnamed_items"] == 16


# ---------------------------------------------------------------------------- quantities
def test_an_area_off_by_half_is_flagged_and_a_close_one_is_not(config):
    side = math.sqrt(100 * MU)  # a 100 亩 square
    square = box(500, 500, 500 + side, 500 + side)
    rows = [
        feature(
            "a-200",
            square,
            category="park",
            name="甲公园",
            quantities=[{"value": 200, "unit": "亩", "text": "200亩"}],
        ),
        feature(
            "a-100",
            square,
            category="park",
            name="乙公园",
            quantities=[{"value": 100, "unit": "亩", "text": "100亩"}],
        ),
        feature(
            "a-ha",
            square,
            category="park",
            name="丙公园",
            quantities=[{"value": 6.67, "unit": "公顷", "text": "6.67公顷"}],
        ),
        feature(
            "l-ok",
            LineString([(0, 100), (1000, 100)]),
            name="甲路",
            quantities=[{"value": 1.2, "unit": "公里", "text": "1.2公里"}],
        ),
        feature(
            "l-far",
            LineString([(0, 200), (1000, 200)]),
            name="乙路",
            quantities=[{"value": 3, "unit": "公里", "text": "3公里"}],
        ),
        feature(
            "pt",
            Point(1000, 1000),
            category="park",
            name="丁公园",
            quantities=[{"value": 50, "unit": "亩", "text": "50亩"}],
        ),
        feature(
            "town",
            Point(2000, 2000),
            category="inefficient_land",
            precision="town",
            aggregate=True,
            quantities=[{"value": 564, "unit": "亩", "text": "564亩"}],
        ),
        feature(
            "count",
            LineString([(0, 300), (1000, 300)]),
            name="丙路",
            quantities=[{"value": 4, "unit": "条", "text": "4条"}],
        ),
    ]
    report = run_checks(frame(*rows), gazetteer(), config)

    q = by_id(report.checks["quantities"])
    assert set(q) == {"a-200", "a-100", "a-ha", "l-ok", "l-far", "pt", "town"}
    assert q["a-200"]["status"] == "flagged"
    assert q["a-200"]["measured"] == pytest.approx(100, abs=0.5)
    assert q["a-200"]["ratio"] == pytest.approx(2.0, abs=0.01)
    assert (q["a-100"]["status"], q["a-ha"]["status"], q["l-ok"]["status"]) == ("ok",) * 3
    assert q["l-ok"]["measured"] == pytest.approx(1.0, abs=0.01)
    assert q["l-far"]["status"] == "flagged" and q["l-far"]["ratio"] == pytest.approx(3, 0.01)
    assert (q["pt"]["status"], q["pt"]["measured"]) == ("no polygon", None)
    assert q["town"]["status"] == "town-level"
    assert (report.summary["quantities_compared"], report.summary["quantities_flagged"]) == (5, 2)

    lenient = dataclasses.replace(config, area_ratio_flag=2.5, length_ratio_flag=3.5)
    relaxed = run_checks(frame(*rows), gazetteer(), lenient)
    assert relaxed.summary["quantities_flagged"] == 0


# ---------------------------------------------------------------------------- inside the town
@pytest.mark.parametrize(("uncertainty", "outside"), [(100.0, True), (1000.0, False)])
def test_a_feature_500_m_outside_the_town_is_outside_unless_its_uncertainty_covers_it(
    config, uncertainty, outside
):
    rows = [
        feature("in", Point(2000, 2000)),
        feature("out", Point(4500, 2000), uncertainty_m=uncertainty, name="<b>镇外</b>"),
    ]
    report = run_checks(frame(*rows), gazetteer(), config)

    (row,) = report.checks["outside_town"]
    assert row["id"] == "out"
    assert row["distance_m"] == pytest.approx(500, abs=1)
    assert row["outside"] is outside
    assert report.summary["features_outside"] == int(outside)
    failures = failed_thresholds(report, dataclasses.replace(config, min_located_share=0))
    assert bool(failures) is outside
    if outside:
        assert "<b>镇外</b> (500 m)" in failures[0]


def test_a_line_straying_out_of_the_town_is_measured_at_its_farthest_point(config):
    road = LineString([(3000, 1000), (4300, 1000)])  # 300 m beyond the eastern edge
    report = run_checks(frame(feature("road", road, uncertainty_m=100.0)), gazetteer(), config)
    (row,) = report.checks["outside_town"]
    assert row["distance_m"] == pytest.approx(300, abs=1) and row["outside"]


def test_features_of_another_town_are_left_to_their_own_gazetteer(config):
    here = feature("here", Point(2000, 2000))
    there = {**feature("there", Point(9000, 9000), uncertainty_m=10.0), "town": "罗泾镇"}
    report = run_checks(frame(here, there), gazetteer(), config)

    assert report.town == "测试镇" and report.summary["items"] == 1
    assert report.checks["outside_town"] == []
    assert "1 feature(s) of 罗泾镇 are left to their own gazetteers" in report.notes


# ---------------------------------------------------------------------------- villages
def test_village_coverage_by_distance_and_by_name_and_a_village_with_no_task(config):
    gaz = gazetteer(
        ("甲村", "village_committee", (1000, 1000)),
        ("向阳居委会", "residents_committee", (3000, 3000)),
        ("丙村", "village_committee", (2000, 300)),
    )
    rows = [
        feature("near", Point(1300, 1000), year=2024),  # 300 m from 甲村
        # far from every committee, but names 向阳居委会 by its short name
        feature("named", Point(3500, 500), year=2025, part="plan", quote="提升向阳社区环境。"),
        feature("far", Point(1000, 2000), year=2024),  # 1000 m from 甲村
        # town-level items sit at the town centre by convention: never near anything
        feature("town", Point(1000, 1100), precision="town", aggregate=True),
    ]
    report = run_checks(frame(*rows), gaz, config)

    villages = {v["committee"]: v for v in report.checks["villages"]}
    assert [v["committee"] for v in report.checks["villages"]] == ["甲村", "丙村", "向阳居委会"]
    assert villages["甲村"]["by_year"] == {"2024": 1, "2025": 0}
    assert [(t["id"], t["match"]) for t in villages["甲村"]["items"]] == [("near", "distance")]
    assert [(t["id"], t["match"]) for t in villages["向阳居委会"]["items"]] == [("named", "quote")]
    assert villages["向阳居委会"]["by_year"] == {"2024": 0, "2025": 1}
    assert villages["丙村"]["tasks"] == 0
    assert report.summary["committees_without_task"] == 1
    by_kind = report.summary["without_task_by_kind"]
    assert by_kind == {"village_committee": 1, "residents_committee": 0}

    wider = run_checks(frame(*rows), gaz, dataclasses.replace(config, village_distance_m=1000))
    far = {v["committee"]: v for v in wider.checks["villages"]}["甲村"]
    assert [t["id"] for t in far["items"]] == ["far", "near"]


# ---------------------------------------------------------------------------- service reach
def test_service_reach_before_and_after_the_plan_with_known_distances(config):
    gaz = gazetteer(
        ("A居委会", "residents_committee", (1000, 1000)),
        ("B居委会", "residents_committee", (1000, 2500)),
        ("C居委会", "residents_committee", (3500, 3500)),
        ("甲村", "village_committee", (1500, 1000)),
    )
    rows = [
        # 500 m from A, 1500 m from B
        feature("old", Point(1500, 1000), category="facility", kind="elderly"),
        # 800 m from B; 2300 m from A
        feature(
            "new", Point(1800, 2500), category="facility", kind="elderly", part="plan", year=2025
        ),
        feature(
            "nowhere",
            Point(2000, 2000),
            category="facility",
            kind="elderly",
            precision="town",
            aggregate=True,
        ),
        feature(
            "gym", Point(3500, 3400), category="facility", kind="sport", part="plan", year=2025
        ),
    ]
    report = run_checks(frame(*rows), gaz, config)

    reach = {r["kind"]: r for r in report.checks["service_reach"]}
    elderly = reach["elderly"]
    assert elderly["committees"] == 3  # residents' committees only
    assert (elderly["facilities_before"], elderly["facilities_after"]) == (1, 2)
    assert elderly["town_level"] == 1 and elderly["guesses"] == 1
    assert (elderly["reached_before"], elderly["reached_after"]) == (1, 2)
    assert (elderly["share_before"], elderly["share_after"]) == (0.333, 0.667)
    assert elderly["unreached_after"] == ["C居委会"]
    assert (reach["sport"]["share_before"], reach["sport"]["share_after"]) == (0, 0.333)
    assert reach["health"]["reached_after"] == 0
    assert report.summary["service_reach"]["elderly"] == {"before": 0.333, "after": 0.667}

    short = run_checks(frame(*rows), gaz, dataclasses.replace(config, walk_distance_m=400))
    assert {r["kind"]: r for r in short.checks["service_reach"]}["elderly"]["reached_after"] == 0


def test_service_reach_leaves_out_guesses_unless_the_config_counts_them(config):
    """A hand-placed facility 500 m from a committee, and a hand-placed committee next to a
    surveyed facility, reach nobody by default; the report says how many inputs were left
    out, and ``reach_include_guesses`` counts them."""
    gaz = gazetteer(
        ("A居委会", "residents_committee", (1000, 1000)),
        ("B居委会", "residents_committee", (3000, 3000), "approximate"),
        ("甲村", "village_committee", (1500, 1000), "approximate"),
    )
    rows = [
        feature("guess", Point(1500, 1000), category="facility", kind="elderly",
                precision="approximate", uncertainty_m=3000.0),
        feature("real", Point(3000, 3200), category="facility", kind="elderly"),
        feature("agg", Point(2000, 2000), category="facility", kind="elderly",
                precision="town", aggregate=True),
        feature("flood", Point(2000, 2000), category="flood_point", precision="approximate"),
        feature("work", LineString([(2000, 1500), (2000, 2500)]), part="plan", year=2025),
    ]  # fmt: skip
    report = run_checks(frame(*rows), gaz, config)
    elderly = {r["kind"]: r for r in report.checks["service_reach"]}["elderly"]
    assert elderly["committees"] == 1  # B居委会's point is a guess
    assert (elderly["facilities_after"], elderly["guesses"]) == (1, 2)
    assert elderly["reached_after"] == 0  # the real home is 2.2 km from A居委会
    assert elderly["unreached_after"] == ["A居委会"]
    # facilities of the five reach kinds (3) and residents' committees (2): 3 guesses
    counts = report.summary["guess_inputs"]
    assert counts["service_reach"] == {"inputs": 5, "guesses": 3, "excluded": True}
    assert counts["flood_works"] == {"inputs": 2, "guesses": 1, "excluded": False}
    assert counts["villages"] == {"inputs": 8, "guesses": 5, "excluded": False}
    assert list(report.frames["reach"]["id"]) == ["real"]
    text = coverage_markdown(report, {})
    assert "**3 of 5 inputs are guesses, excluded** (`reach_include_guesses = true`" in text
    assert "1 of 2 inputs are guesses, included, so the figure is indicative only" in text
    assert json.loads(json.dumps(report.to_dict()))["summary"]["guess_inputs"] == counts

    counted = run_checks(frame(*rows), gaz, dataclasses.replace(config, reach_include_guesses=True))
    elderly = {r["kind"]: r for r in counted.checks["service_reach"]}["elderly"]
    assert (elderly["committees"], elderly["facilities_after"]) == (2, 2)
    assert elderly["reached_after"] == 2  # A by the guess (500 m), B by the real home (200 m)
    assert counted.summary["guess_inputs"]["service_reach"]["excluded"] is False
    assert "3 of 5 inputs are guesses, included" in coverage_markdown(counted, {})


# ---------------------------------------------------------------------------- flood points
def test_flood_points_list_the_planned_works_within_the_distance(config):
    rows = [
        feature("flood", Point(2000, 2000), category="flood_point", part="plan", year=2025),
        feature(
            "flood-town",
            Point(2000, 2000),
            category="flood_point",
            precision="town",
            aggregate=True,
        ),
        feature("road-800", LineString([(2800, 1000), (2800, 3000)]), part="plan", year=2025),
        feature("road-done", LineString([(2300, 1000), (2300, 3000)])),  # reviewed, not planned
        feature("park-100", box(2100, 1900, 2200, 2100), category="park", part="plan"),
        feature("road-1500", LineString([(3500, 1000), (3500, 3000)]), part="plan"),
        feature(
            "river-0", LineString([(1000, 2000), (3000, 2000)]), category="ecology", part="plan"
        ),
    ]
    report = run_checks(frame(*rows), gazetteer(), config)

    flood = by_id(report.checks["flood_works"])
    assert [(w["id"], w["distance_m"]) for w in flood["flood"]["works"]] == [
        ("river-0", 0),
        ("road-800", 800),
    ]
    assert flood["flood-town"]["works"] is None
    assert report.summary["flood_points_without_works"] == 0


# ---------------------------------------------------------------------------- follow-up
def test_follow_up_across_two_reports(config):
    p = Point(2000, 2000)
    rows = [
        feature("a", p, name="甲路", report="r2024", part="plan", year=2025),
        feature("b", p, name="乙公园", category="park", report="r2024", part="plan", year=2025),
        feature("c", p, name="丙学校", category="facility", report="r2024", part="plan", year=2025),
        feature("a2", p, name="甲 路", report="r2025", year=2025, status="completed"),
        feature(
            "x",
            p,
            name="戊路",
            report="r2025",
            year=2025,
            status="in_progress",
            quote="乙公园周边戊路改造进行中。",
        ),
        feature("d", p, name="丁路", report="r2025", part="plan", year=2026),
    ]
    report = run_checks(frame(*rows), gazetteer(), config)

    follow = by_id(report.checks["follow_up"])
    assert set(follow) == {"a", "b", "c", "d"}
    a = follow["a"]
    assert (a["status"], a["match"], a["later_report"]) == ("delivered", "name", "r2025")
    assert (follow["b"]["status"], follow["b"]["match"]) == ("in_progress", "quote")
    assert (follow["c"]["status"], follow["c"]["later_report"]) == ("not_mentioned", "r2025")
    assert follow["d"]["status"] == "pending"
    assert set(report.summary["follow_up"].values()) == {1}


def test_follow_up_uses_the_links_of_linked_layers(config):
    mentions = [
        {"report": "r2024", "year": 2025, "part": "plan", "status": "planned"},
        {"report": "r2025", "year": 2025, "part": "review", "status": "completed"},
    ]
    silent = [{"report": "r2024", "year": 2025, "part": "plan", "status": "planned"}]
    rows = [
        feature("a", Point(2000, 2000), name="甲路", report="r2025", year=2025),
        feature("b", Point(2000, 2000), name="乙路", report="r2024", year=2024),
        feature("c", Point(2000, 2000), name="丙路", report="r2024", part="plan", year=2025),
    ]
    features = frame(*rows).assign(
        mentions=[mentions, [], silent], follow_up=["delivered", None, "not_mentioned"]
    )
    report = run_checks(features, gazetteer(), config)

    assert report.summary["reports"] == ["r2024", "r2025"]
    follow = by_id(report.checks["follow_up"])
    assert set(follow) == {"a", "c"}
    assert (follow["a"]["report"], follow["a"]["later_report"]) == ("r2024", "r2025")
    assert (follow["a"]["status"], follow["a"]["match"]) == ("delivered", "linked")
    # silence about a promise: the review that leaves it out is named
    assert (follow["c"]["status"], follow["c"]["later_report"]) == ("not_mentioned", "r2025")


def test_follow_up_with_one_report_says_it_needs_two(config):
    report = run_checks(frame(feature("a", Point(2000, 2000), part="plan")), gazetteer(), config)
    assert report.checks["follow_up"] == []
    assert report.summary["follow_up"] is None
    assert any("two or more reports" in note for note in report.notes)


# ---------------------------------------------------------------------------- config
def test_the_default_config(config):
    assert config.min_located_share == 0.9
    assert config.max_features_outside == 0
    assert config.walk_distance_m == 1000.0
    assert config.village_distance_m == 500.0
    assert config.area_ratio_flag == 2.0
    assert config.flood_work_distance_m == 1000.0
    assert config.metric_crs == "EPSG:32651"


def test_a_user_config_overrides_keys(tmp_path, config):
    path = tmp_path / "checks.toml"
    path.write_text('walk_distance_m = 800\nreach_kinds = ["elderly"]\n', "utf-8")
    user = load_check_config(path)
    assert user.walk_distance_m == 800.0 and user.reach_kinds == ("elderly",)
    assert user.min_located_share == config.min_located_share


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("walk_distanse_m = 800\n", "unknown key(s) walk_distanse_m"),
        ('walk_distance_m = "800"\n', "walk_distance_m must be a number"),
        ("max_features_outside = true\n", "max_features_outside must be an integer"),
        ("max_features_outside = 1.5\n", "max_features_outside must be an integer"),
        ("min_located_share = 1.5\n", "min_located_share is a share"),
        ("area_ratio_flag = 0.5\n", "area_ratio_flag is a factor"),
        ('reach_kinds = "elderly"\n', "reach_kinds must be a list of strings"),
        ('flood_work_categories = ["drains"]\n', "unknown categories"),
        ('metric_crs = "EPSG:4326"\n', "not in metres"),
        ("walk_distance_m = \n", "not valid TOML"),
        ("[checks]\nwalk_distance_m = 800\n", "unknown key(s) checks"),
    ],
)
def test_a_bad_config_is_refused_in_one_line(tmp_path, text, message):
    path = tmp_path / "checks.toml"
    path.write_text(text, "utf-8")
    with pytest.raises(InputError) as error:
        load_check_config(path)
    assert message in str(error.value) and "\n" not in str(error.value)


def test_a_missing_config_file_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="not found"):
        load_check_config(tmp_path / "nope.toml")


# ---------------------------------------------------------------------------- thresholds
def test_strict_thresholds(config):
    inside = [feature(f"s-{i}", Point(1000 + 100 * i, 1000)) for i in range(9)]
    town = feature("t", Point(2000, 2000), precision="town")
    good = run_checks(frame(*inside, town), gazetteer(), config)
    assert good.summary["located_share"] == 0.9
    assert failed_thresholds(good) == []

    poor = run_checks(frame(*inside[:5], town), gazetteer(), config)
    (reason,) = failed_thresholds(poor)
    assert "located share 83.3%" in reason and "min_located_share 90%" in reason
    assert failed_thresholds(poor, dataclasses.replace(config, min_located_share=0.8)) == []

    empty = run_checks(frame(*inside).iloc[0:0], gazetteer(), config)
    assert failed_thresholds(empty) == ["no features to check"]


# ---------------------------------------------------------------------------- output
XSS = "<script>alert(1)</script>"


def small_report(config):
    gaz = gazetteer(
        ("甲村", "village_committee", (1000, 1000)),
        ("向阳居委会", "residents_committee", (3000, 3000)),
    )
    rows = [
        feature(
            "near",
            Point(1300, 1000),
            name=f"{XSS}路",
            quote=f"完成{XSS}路 | 改造等3条。",
            stated_count=3,
        ),
        feature("out", Point(4500, 2000), name=f"{XSS}镇外", uncertainty_m=50.0),
        feature(
            "home", Point(3000, 3200), category="facility", kind="elderly", name=f"{XSS}养老院"
        ),
        feature(
            "plan", Point(3000, 2800), category="facility", kind="school", part="plan", year=2025
        ),
        feature(
            "agg",
            Point(2000, 2000),
            category="facility",
            kind="sport",
            precision="town",
            aggregate=True,
            stated_count=7,
            name="健身苑",
        ),
    ]
    return run_checks(frame(*rows), gaz, config)


@pytest.fixture(scope="module")
def written(tmp_path_factory, config) -> tuple[list[Path], list[Path]]:
    """The small report written twice, each time from a fresh run."""
    root = tmp_path_factory.mktemp("coverage")
    return (
        write_coverage(small_report(config), root / "a"),
        write_coverage(small_report(config), root / "b"),
    )


def test_write_coverage_is_deterministic(written):
    first, second = written
    names = sorted(p.name for p in first)
    assert names == sorted(["coverage.json", "coverage.md", "coverage.html", *CHART_FILES.values()])
    assert names == sorted(p.name for p in second)
    for a, b in zip(sorted(first), sorted(second), strict=True):
        assert a.read_bytes() == b.read_bytes(), a.name
    page = first[0].with_name("coverage.html").read_text("utf-8")
    assert not re.search(r"_[0-9a-f]{32}\b", page)  # folium's random ids are gone


def test_self_contained_coverage_map_loads_nothing_from_the_network(tmp_path, config, web_assets):
    page = write_coverage(small_report(config), tmp_path, self_contained=True)
    html = next(p for p in page if p.name == "coverage.html").read_text("utf-8")
    assert not re.search(r"<(?:script|link)[^>]+(?:src|href)=\"https?:", html)
    assert "Leaflet 1.9.3" in html  # the library itself, inlined


TILE_LAYER = re.compile(r'L\.tileLayer\(\s*("(?:[^"\\]|\\.)*")')


@pytest.mark.parametrize(
    ("basemap", "hosts"),
    [
        ("osm", ["tile.openstreetmap.org"]),
        ("none", []),
        ("local", []),
        ("gaode", ["webrd0{s}.is.autonavi.com"]),
    ],
)
def test_coverage_map_takes_the_base_of_the_main_maps(tmp_path, config, basemap, hosts):
    """The tiles of ``basemap`` and nothing else: none asked for with "none" or "local",
    the place files drawn with "local", the data shifted to GCJ-02 under Gaode's tiles."""
    from luodian_map.crs import transform_geometry
    from test_local_base import town_places

    report = small_report(config)
    (path,) = [
        p
        for p in write_coverage(report, tmp_path, basemap=basemap, places=town_places())
        if p.name == "coverage.html"
    ]
    page = path.read_text("utf-8")
    tiles = [urllib.parse.urlsplit(json.loads(u)).netloc for u in TILE_LAYER.findall(page)]
    assert tiles == hosts
    assert ("openstreetmap.org" in page) is (basemap == "osm")  # nor in an attribution
    assert ("lmBase" in page) is (basemap == "local")
    point = report.frames["committees"].geometry.iloc[0]
    if basemap == "gaode":
        point = transform_geometry(point, "wgs84", "gcj02")
    point = shapely.set_precision(point, 1e-6)
    assert f'"coordinates": {json.dumps([point.x, point.y])}' in page


def test_write_coverage_escapes_report_text(written):
    directory = written[0][0].parent
    page = (directory / "coverage.html").read_text("utf-8")
    markdown = (directory / "coverage.md").read_text("utf-8")
    assert "<script>alert" not in page and "<script>alert" not in markdown
    assert "\\u0026lt;script\\u0026gt;alert(1)" in page  # JSON of the escaped text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;镇外" in markdown
    assert "完成&lt;script&gt;alert(1)&lt;/script&gt;路 \\| 改造等3条。" in markdown
    for name in CHART_FILES.values():
        assert f"]({name})" in markdown
        assert (directory / name).read_bytes().startswith(b"<?xml")


def test_write_coverage_json_holds_the_report(written, config):
    data = json.loads(written[0][0].with_name("coverage.json").read_text("utf-8"))
    assert data["summary"] == json.loads(json.dumps(small_report(config).to_dict()["summary"]))
    assert data["config"]["reach_kinds"] == list(config.reach_kinds)
    assert list(data["checks"]) == list(small_report(config).checks)
    assert len(data["checks"]["villages"]) == 2


def _svg_text(svg: bytes) -> str:
    """All text an SVG shows; parsing it also proves it is well-formed XML."""
    return "".join(ElementTree.fromstring(svg).itertext())


def test_charts_keep_their_labels_as_text(config):
    from luodian_map import charts

    report = small_report(config)
    drawn = charts.draw_charts(chart_input(report))
    assert set(drawn) == set(CHART_FILES)
    assert CATEGORIES["road"].label_zh in _svg_text(drawn["items"])
    uncovered = int((report.frames["committees"]["tasks"] == 0).sum())
    assert "甲村" in _svg_text(drawn["villages"])
    assert f"{uncovered} of 2 without a task" in _svg_text(drawn["villages"])
    assert "服务覆盖" in _svg_text(drawn["reach"])
    # every text names the same fonts, the CJK ones first, whatever this machine has
    families = {
        family for svg in drawn.values() for family in re.findall(rb"font-family: ([^;\"]+)", svg)
    }
    assert families == {
        ", ".join([*(f"'{f}'" for f in charts.CJK_FONTS), "'DejaVu Sans'", "sans-serif"]).encode()
    }


# Draws the charts of the JSON chart input (argv[1]) into argv[2] with only the fonts that
# ship inside matplotlib, plus, for "impostor", a font with other metrics under the first
# CJK name: the charts must not change with the machine's fonts.
_DRAW_WITH_FONTS = """
import dataclasses, json, sys
from pathlib import Path
import matplotlib
from matplotlib import font_manager
bundled = Path(matplotlib.get_data_path())
fonts = [f for f in font_manager.fontManager.ttflist if bundled in Path(f.fname).parents]
if sys.argv[3] == "impostor":
    serif = font_manager.ttfFontProperty(
        font_manager.get_font(bundled / "fonts" / "ttf" / "DejaVuSerif-Bold.ttf"))
    fonts.append(dataclasses.replace(serif, name="Noto Sans CJK SC", weight=400))
font_manager.fontManager.ttflist = fonts
from luodian_map.charts import CJK_FONTS, draw_charts
found = font_manager.findfont(CJK_FONTS[0])  # what matplotlib would measure the text with
assert Path(found).name == {"impostor": "DejaVuSerif-Bold.ttf"}.get(sys.argv[3], "DejaVuSans.ttf")
drawn = draw_charts(json.loads(Path(sys.argv[1]).read_text("utf-8")))
Path(sys.argv[2]).write_text(json.dumps({k: v.decode() for k, v in drawn.items()}), "utf-8")
"""


@pytest.mark.parametrize("fonts", ["matplotlib-only", "impostor"])
def test_charts_are_the_same_bytes_whatever_fonts_the_machine_has(config, tmp_path, fonts):
    from matplotlib import font_manager

    from luodian_map.charts import CJK_FONTS, draw_charts

    data = json.loads(json.dumps(chart_input(small_report(config))))
    here = draw_charts(data)
    (tmp_path / "input.json").write_text(json.dumps(data), "utf-8")
    result = subprocess.run(
        [sys.executable, "-c", _DRAW_WITH_FONTS, "input.json", "drawn.json", fonts],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    there = json.loads((tmp_path / "drawn.json").read_text("utf-8"))
    assert {k: v.encode() for k, v in there.items()} == here
    installed = {f.name for f in font_manager.fontManager.ttflist}
    if os.environ.get("CI"):  # CI installs fonts-noto-cjk: this process drew with it
        assert CJK_FONTS[0] in installed


@pytest.mark.parametrize("parallel", [True, False])
def test_chart_process_draws_what_this_process_draws(config, parallel):
    from luodian_map.charts import draw_charts

    report = small_report(config)
    with ChartProcess(parallel=parallel) as process:
        pending = process.submit(report)
        assert pending() == draw_charts(chart_input(report))


def test_chart_process_that_dies_costs_only_time(config):
    from luodian_map.charts import draw_charts

    report = small_report(config)
    with ChartProcess(parallel=True) as process:
        for worker in process._pool._processes.values():
            worker.kill()
            worker.join()
        pending = process.submit(report)
        assert pending() == draw_charts(chart_input(report))


def test_chart_process_imports_no_geodata_stack():
    """The chart process must start fast: matplotlib, not geopandas, pandas or folium."""
    code = (
        "import sys, luodian_map.charts, luodian_map._process; "
        "print(sorted({'geopandas', 'pandas', 'folium', 'shapely'} & set(sys.modules)))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "[]", result.stderr


def test_charts_escape_names_from_the_gazetteer(config):
    from luodian_map import charts

    report = small_report(config)
    committees = report.frames["committees"]
    committees.loc[committees["kind"] == "village_committee", "name"] = f"{XSS}村"
    svg = charts.draw_charts(chart_input(report))["villages"]
    assert b"<script>" not in svg
    assert f"{XSS}村" in _svg_text(svg)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda f: f.drop(columns="precision"), "lack column(s) precision"),
        (lambda f: f.assign(precision="guessed"), "unknown precision"),
        (lambda f: f.assign(year=None), "without a year: a"),
    ],
)
def test_malformed_features_are_an_input_error(config, change, message):
    features = change(frame(feature("a", Point(2000, 2000))))
    with pytest.raises(InputError, match=re.escape(message)):
        run_checks(features, gazetteer(), config)


# ---------------------------------------------------------------------------- shipped report
@pytest.fixture(scope="module")
def shipped(config, built_project):
    features = read_layers(built_project / "layers")
    assert len(features)
    gaz = load_gazetteer()
    return features, gaz, run_checks(features, gaz, config)


def test_shipped_report_figures_are_consistent(shipped):
    features, gaz, report = shipped
    s, c = report.summary, report.checks
    assert report.town == "罗店镇"
    assert s["items"] == len(features) == sum(s["by_precision"].values())
    assert sum(r["items"] for r in c["located"]) == s["items"]
    for row in c["located"]:
        assert row["items"] == sum(row[p] for p in ("surveyed", "sourced", "approximate", "town"))
    assert s["located"] == s["items"] - s["by_precision"]["town"]
    assert s["needs_survey"] == s["by_precision"]["approximate"] + s["by_precision"]["town"]

    committees = gaz[gaz["kind"].isin(["village_committee", "residents_committee"])]
    names = [v["committee"] for v in c["villages"]]
    assert sorted(names) == sorted(committees["name"]) and len(set(names)) == len(names) == 71
    assert sum(v["kind"] == "village_committee" for v in c["villages"]) == 20
    assert s["committees_without_task"] == sum(v["tasks"] == 0 for v in c["villages"])
    for v in c["villages"]:
        assert sum(v["by_year"].values()) == v["tasks"] == len(v["items"])

    # every committee point and facility is hand-placed: service reach counts none of them
    reach = s["guess_inputs"]["service_reach"]
    assert reach["excluded"] and reach["guesses"] == reach["inputs"] > 51
    for r in c["service_reach"]:
        assert r["committees"] == r["facilities_after"] == r["reached_after"] == 0
        assert r["share_after"] is None
    counting = dataclasses.replace(report.config, reach_include_guesses=True)
    counted = run_checks(features, gaz, counting)
    for r in counted.checks["service_reach"]:
        assert r["committees"] == 51
        assert 0 <= r["reached_before"] <= r["reached_after"] <= 51
        assert r["facilities_before"] <= r["facilities_after"]
    assert all(r["distance_m"] > 0 for r in c["outside_town"])
    assert s["features_outside"] == sum(r["outside"] for r in c["outside_town"])
    assert all(r["unnamed"] > 0 for r in c["stated_vs_named"])


def test_shipped_report_writes_and_checks_strictly(shipped, tmp_path, config):
    _, _, report = shipped
    (tmp_path / CHART_FILES["reach"]).write_text("stale")  # a picture of an earlier run
    written = write_coverage(report, tmp_path)
    # every committee point is a guess, left out of service reach: no reach chart
    charts = [name for key, name in CHART_FILES.items() if key != "reach"]
    names = ["coverage.json", "coverage.md", "coverage.html", *charts]
    assert sorted(p.name for p in written) == sorted(names)
    assert not (tmp_path / CHART_FILES["reach"]).exists()
    data = json.loads((tmp_path / "coverage.json").read_text("utf-8"))
    assert data["summary"] == json.loads(json.dumps(report.to_dict()["summary"]))
    markdown = (tmp_path / "coverage.md").read_text("utf-8")
    assert markdown.startswith("# 罗店镇")
    assert all(f"]({name})" in markdown for name in charts)
    assert CHART_FILES["reach"] not in markdown
    # the shipped report has town-level items: a share between 0 and 1, the bar at it passes
    share = report.summary["located_share"]
    assert 0 < share < 1
    at_share = dataclasses.replace(config, min_located_share=share, max_features_outside=10_000)
    assert failed_thresholds(report, at_share) == []
    above = dataclasses.replace(at_share, min_located_share=share + 0.001)
    (reason,) = failed_thresholds(report, above)
    assert reason.startswith(f"located share {share:.1%} (") and "min_located_share" in reason
    # nothing of the shipped report lies outside the town: the default max of 0 holds
    assert report.summary["features_outside"] == config.max_features_outside == 0
    strict = dataclasses.replace(config, min_located_share=share)
    assert failed_thresholds(report, strict) == []


def test_the_committed_coverage_is_what_check_writes(built_project, tmp_path):
    """A build leaves a clean checkout clean: ``luodian-map check`` of freshly built layers
    writes the committed ``maps/coverage*`` files, charts included, byte for byte."""
    result = subprocess.run(
        [sys.executable, "-m", "luodian_map.cli", "check", "--maps", str(tmp_path)],
        cwd=built_project,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    committed = REPO / "maps"
    written = sorted(p.name for p in tmp_path.iterdir() if p.name != MANIFEST_NAME)
    assert written == sorted(p.name for p in committed.glob("coverage*"))
    assert (tmp_path / MANIFEST_NAME).exists()  # the outputs of a run, listed
    for name in written:
        assert (tmp_path / name).read_bytes() == (committed / name).read_bytes(), name
