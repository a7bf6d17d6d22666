"""Linking across reports: one entity per place with its timeline and the fate of promises.

Four reports (two years each of 罗店镇 and of a fictional 罗泾镇) with hand-made
expectations in tests/data/multi/expected.json.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from luodian_map.extract import extract_items, known_places
from luodian_map.gazetteer import GEODATA_DIR, Gazetteer, load_gazetteer
from luodian_map.geocode import geocode_items
from luodian_map.link import Entity, link_items, reviewed_years
from luodian_map.report import load_report

ROOT = Path(__file__).resolve().parents[1]
MULTI = Path(__file__).parent / "data" / "multi"
GAZETTEER = GEODATA_DIR / "gazetteer.geojson"
EXPECTED = json.loads((MULTI / "expected.json").read_text("utf-8"))
# The shipped report writes 束里桥村 once as 東里桥村: either spelling names the place.
SPELLINGS = {"東里桥村": "束里桥村"}


@pytest.fixture(scope="module")
def world():
    gazetteers = {"罗店镇": Gazetteer(load_gazetteer(GAZETTEER))}
    items = []
    for path in sorted(MULTI.glob("*.txt")):
        report = load_report(path)
        known = known_places(GAZETTEER) if report.town == "罗店镇" else {}
        items += extract_items(report, known_places=known)
    return items, gazetteers, link_items(items, gazetteers)


def entity_of(entities: list[Entity], report: str, name: str) -> Entity:
    wanted = SPELLINGS.get(name, name)
    found = [
        e
        for e in entities
        if any(i.report == report and SPELLINGS.get(i.name, i.name) == wanted for i in e.items)
    ]
    assert len(found) == 1, (report, name, [e.names for e in found])
    return found[0]


def test_the_same_place_in_several_reports_is_one_entity(world) -> None:
    _, _, entities = world
    for group in EXPECTED["links"]:
        ids = {entity_of(entities, report, name).id for report, name in group}
        assert len(ids) == 1, group


def test_phases_and_namesakes_in_other_towns_stay_apart(world) -> None:
    _, _, entities = world
    for (report_a, name_a), (report_b, name_b) in EXPECTED["distinct"]:
        a, b = entity_of(entities, report_a, name_a), entity_of(entities, report_b, name_b)
        assert a.id != b.id, (name_a, name_b)


def test_a_phase_points_to_its_parent(world) -> None:
    _, _, entities = world
    for child, parent in EXPECTED["parents"]:
        matches = [e for e in entities if e.name == child]
        assert matches, child
        for entity in matches:
            assert entity.parent_name == parent
            assert entity.parent is not None and entity.parent != entity.id
    siblings = [e for e in entities if e.name in ("美兰西湖公园一期", "美兰西湖公园二期")]
    assert len({e.parent for e in siblings}) == 1


def test_timelines_list_every_mention_in_date_order(world) -> None:
    _, _, entities = world
    for key, expected in EXPECTED["timelines"].items():
        name, town = key.split("@")
        entity = next(e for e in entities if e.town == town and e.name == name)
        got = [{k: m[k] for k in ("report", "year", "status")} for m in entity.mentions()]
        assert got == expected, key


def test_follow_up_verdicts_of_each_promise(world) -> None:
    items, _, entities = world
    reviewed = reviewed_years(items)
    for case in EXPECTED["follow_up"]:
        entity = next(e for e in entities if e.town == case["town"] and e.name == case["name"])
        verdict = entity.follow_up(case["year"], reviewed[case["town"]])
        assert verdict == case["verdict"], case


def test_features_carry_entity_timeline_and_follow_up(world) -> None:
    items, gazetteers, _ = world
    features, unlocated = geocode_items(items, gazetteers)
    assert features["id"].is_unique
    max_phase2 = features[(features["name"] == "MAX科技园二期") & (features["town"] == "罗店镇")]
    # one feature per year it is mentioned, with that year's status, one entity
    assert sorted(max_phase2["year"]) == [2024, 2025, 2026]
    assert max_phase2["entity"].nunique() == 1
    by_year = max_phase2.set_index("year")
    assert by_year.loc[2025, "status"] == "in_progress"  # the review outranks the plan
    assert by_year.loc[2025, "follow_up"] == "in_progress"
    assert by_year.loc[2026, "follow_up"] == "pending"
    assert len(by_year.loc[2024, "mentions"]) == 4
    # a town without a gazetteer is placed no better than its district, and says so
    luojing = features[features["town"] == "罗泾镇"]
    assert set(luojing["precision"]) == {"town"}
    assert set(luojing["geocoder"]) == {"district"}
    reasons = {u["reason"] for u in unlocated if u["id"] in set(luojing["id"])}
    assert any("no gazetteer" in r for r in reasons)


def test_build_of_a_folder_extracts_only_what_changed(tmp_path: Path) -> None:
    project = tmp_path
    shutil.copytree(GEODATA_DIR, project / "geodata" / "luodian")
    shutil.copytree(MULTI, project / "reports", ignore=shutil.ignore_patterns("*.json", "*.md"))

    def build() -> str:
        result = subprocess.run(
            [sys.executable, "-m", "luodian_map.cli", "build", "reports", "--no-maps"],
            cwd=project,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert result.returncode == 0, result.stderr
        return result.stderr

    assert "extracted 4 report(s), reused 0" in build()
    first = {p.name: p.read_bytes() for p in (project / "layers").iterdir()}
    assert "extracted 0 report(s), reused 4" in build()
    assert {p.name: p.read_bytes() for p in (project / "layers").iterdir()} == first
    report = project / "reports" / "luodian_2025_work_report.txt"
    report.write_text(report.read_text("utf-8") + "\n", encoding="utf-8")
    assert "extracted 1 report(s), reused 3" in build()
    assert "luodian-map: warning: no gazetteer for 罗泾镇" in build()
