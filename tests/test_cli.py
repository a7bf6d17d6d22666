"""The command line as a user meets it: real processes, one-line errors, nothing half-written."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from clirun import run_cli as run
from luodian_map.categories import PUBLIC_PRECISIONS
from luodian_map.gazetteer import GEODATA_DIR
from luodian_map.layers import read_layers
from luodian_map.report import load_report

ROOT = Path(__file__).resolve().parents[1]
REPORT = ROOT / "geodata" / "reports" / "luodian_2024_work_report.txt"


def is_subsequence(short: str, long: str) -> bool:
    """Whether ``short``'s characters appear in ``long`` in order."""
    rest = iter(long)
    return all(char in rest for char in short)


def test_extract_writes_the_documented_item_schema(tmp_path: Path) -> None:
    text = load_report(REPORT).text  # the normalised text the spans point into
    out = tmp_path / "items.json"
    result = run("extract", str(REPORT), "-o", str(out))
    assert result.returncode == 0, result.stderr
    items = json.loads(out.read_text("utf-8"))
    assert len(items) > 50
    required = {
        "id",
        "name",
        "category",
        "year",
        "status",
        "quantities",
        "quote",
        "section",
        "span",
    }
    for item in items:
        assert required <= set(item)
        assert item["year"] in (2024, 2025)
        # the span is where the report writes the place, inside the quoted sentence
        start, end = item["span"]
        written = text[start:end]
        assert written and written in item["quote"], item
        # the name is that text, or made from it and the sentence: completed from its list
        # ("新镇东部九年一贯制学校和幼儿园" → 新镇东部幼儿园) or without a count
        # ("G1503沿线七个易积水点" → G1503沿线易积水点), never with a character the sentence lacks
        if item["name"] != written:
            assert item["name"].endswith(written) or is_subsequence(item["name"], written), item
            assert is_subsequence(item["name"], item["quote"]), item


@pytest.mark.parametrize(
    ("name", "content", "fragment"),
    [
        ("empty.txt", b"", "empty"),
        ("binary.txt", bytes(range(256)) * 8, "binary"),
        # neither UTF-8 nor GB18030, and no NUL byte that would make it "binary"
        ("latin.txt", "Ð".encode("latin-1") * 3 + b"\xff\xfe\x81" * 40, "cannot decode the text"),
        (
            "noparts.txt",
            "今天天气很好。我们去公园散步。\n".encode(),
            "cannot tell which year",
        ),
        ("report.odt", b"PK\x03\x04", "unsupported file type '.odt'"),
    ],
    ids=["empty", "binary", "undecodable", "no-parts", "odt"],
)
def test_bad_reports_give_one_line_exit_2_and_write_nothing(
    tmp_path: Path, name: str, content: bytes, fragment: str
) -> None:
    report = tmp_path / name
    report.write_bytes(content)
    out = tmp_path / "items.json"
    result = run("extract", str(report), "-o", str(out))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr
    assert lines[0].startswith("luodian-map: error: ")
    assert fragment in lines[0]
    assert not out.exists()
    assert list(tmp_path.iterdir()) == [report]


def test_a_report_without_year_headings_takes_the_year_option(tmp_path: Path) -> None:
    report = tmp_path / "r.txt"
    report.write_text(
        "某镇政府工作报告\n\n一、过去一年工作回顾\n\n新建罗南日间照料中心。\n\n"
        "二、今年重点工作\n\n加快建设祁北路停车场。\n",
        encoding="utf-8",
    )
    result = run("extract", str(report), "--year", "2023")
    assert result.returncode == 0, result.stderr
    years = {(i["name"], i["year"]) for i in json.loads(result.stdout)}
    assert years == {("罗南日间照料中心", 2023), ("祁北路停车场", 2024)}


def test_broken_overrides_keep_the_earlier_layers(tmp_path: Path) -> None:
    project = tmp_path
    (project / "geodata" / "luodian").mkdir(parents=True)
    gazetteer = GEODATA_DIR / "gazetteer.geojson"
    (project / "geodata" / "luodian" / "gazetteer.geojson").write_bytes(gazetteer.read_bytes())
    first = run("build", str(REPORT), "--no-maps", cwd=project)
    assert first.returncode == 0, first.stderr
    before = {p.name: p.read_bytes() for p in (project / "layers").iterdir()}
    (project / "geodata" / "overrides.geojson").write_text("{broken", encoding="utf-8")
    second = run("build", str(REPORT), "--no-maps", cwd=project)
    assert second.returncode == 2
    assert "overrides" in second.stderr and "Traceback" not in second.stderr
    after = {p.name: p.read_bytes() for p in (project / "layers").iterdir()}
    assert after == before


def test_help_answers(tmp_path: Path) -> None:
    result = run("--help")
    assert result.returncode == 0 and "build" in result.stdout


def test_build_writes_maps_per_year_and_the_coverage_check(tmp_path: Path) -> None:
    shutil.copytree(GEODATA_DIR, tmp_path / "geodata" / "luodian")
    result = run("build", str(REPORT), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    maps = {p.name for p in (tmp_path / "maps").iterdir()}
    assert {"luodian.html", "luodian_2024.html", "luodian_2025.html", "public.html"} <= maps
    assert {"coverage.md", "coverage.json", "coverage.html"} <= maps
    # the public map draws no guess: every shipped place is one, so all are listed instead
    layers = read_layers(tmp_path / "layers")
    drawn = int(layers["precision"].isin(PUBLIC_PRECISIONS).sum())
    page = (tmp_path / "maps" / "public.html").read_text("utf-8")
    data = re.search(r'<script type="application/json" id="[^"]+_data">(.*?)</script>', page)
    assert json.loads(data.group(1))["n"] == drawn
    listed = re.search(r"LuodianMap\.pendingPanel\(\s*\w+,\s*(\[.*?\]),\s*\{", page, re.S)
    assert len(json.loads(listed.group(1))) == len(layers) - drawn > 0
    result = run("render", "--public", "-o", "maps/p.html", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert f"{drawn} features drawn, {len(layers) - drawn} listed as 位置待核实" in result.stderr
    result = run("render", "--public", "--edit", "-o", "maps/pe.html", cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert not (tmp_path / "maps" / "pe.html").exists()
    first = {name: (tmp_path / "maps" / name).read_bytes() for name in maps}
    assert run("build", str(REPORT), cwd=tmp_path).returncode == 0
    assert {name: (tmp_path / "maps" / name).read_bytes() for name in maps} == first


def test_check_strict_fails_on_a_missed_threshold_and_passes_a_lenient_one(
    tmp_path: Path,
) -> None:
    shutil.copytree(GEODATA_DIR, tmp_path / "geodata" / "luodian")
    assert run("build", str(REPORT), "--no-maps", cwd=tmp_path).returncode == 0
    strict = run("check", "--strict", cwd=tmp_path)
    assert strict.returncode == 1
    assert "min_located_share" in strict.stderr
    lenient = tmp_path / "lenient.toml"
    lenient.write_text("min_located_share = 0.1\n", encoding="utf-8")
    assert run("check", "--strict", "--config", str(lenient), cwd=tmp_path).returncode == 0
    broken = tmp_path / "broken.toml"
    broken.write_text("min_located_share = 'high'\n", encoding="utf-8")
    result = run("check", "--config", str(broken), cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr


def test_self_contained_without_the_asset_cache_says_which_command_fills_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.copytree(GEODATA_DIR, tmp_path / "geodata" / "luodian")
    assert run("build", str(REPORT), "--no-maps", cwd=tmp_path).returncode == 0
    monkeypatch.setenv("LUODIAN_MAP_ASSETS", str(tmp_path / "no-assets"))
    result = run("render", "--self-contained", "-o", "maps/x.html", cwd=tmp_path)
    assert result.returncode == 2
    assert "luodian-map assets" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "maps" / "x.html").exists()


def test_a_provider_that_never_answers_fails_in_one_line_keeping_cache_and_layers(
    tmp_path: Path,
) -> None:
    from fakegeo import FakeGeo, slow

    shutil.copytree(GEODATA_DIR, tmp_path / "geodata" / "luodian")
    assert run("build", str(REPORT), "--no-maps", cwd=tmp_path).returncode == 0
    before = {p.name: p.read_bytes() for p in (tmp_path / "layers").iterdir()}
    with FakeGeo() as fake:
        fake.script("", slow(5.0))
        result = run(
            "build", str(REPORT), "--no-maps", "--provider", "nominatim",
            "--provider-url", f"http://{fake.domain}", "--provider-timeout", "0.2",
            cwd=tmp_path,
        )  # fmt: skip
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith("luodian-map: error: nominatim: no answer after 3 tries")
    assert "Traceback" not in result.stderr
    assert {p.name: p.read_bytes() for p in (tmp_path / "layers").iterdir()} == before
    cache = tmp_path / ".cache" / "geocode.sqlite"
    assert cache.exists()  # opened, and still a readable database
    import sqlite3

    with sqlite3.connect(cache) as db:
        db.execute("select count(*) from sqlite_master").fetchone()


def test_a_bad_report_among_many_fails_in_one_line_when_extracted_in_parallel(
    tmp_path: Path,
) -> None:
    from luodian_map.extract import PARALLEL_FROM

    for i in range(PARALLEL_FROM + 1):
        (tmp_path / f"r{i:02d}.txt").write_bytes(REPORT.read_bytes())
    (tmp_path / "r05.txt").write_bytes(bytes(range(256)) * 8)
    result = run("extract", str(tmp_path), "-o", str(tmp_path / "items.json"))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr
    assert lines[0].startswith("luodian-map: error: ") and "r05.txt: binary file" in lines[0]
    assert not (tmp_path / "items.json").exists()
