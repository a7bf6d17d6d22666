"""Inputs that used to slip through, met as a user meets them: through the real CLI.

Overrides that did nothing or the wrong thing without a word, spreadsheet formulas in
``items.csv``, library warnings and tracebacks on stderr, an ASCII terminal, a full disk.
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import geopandas as gpd
import pytest
import shapely
from pypdf import PdfWriter
from pyproj import Transformer

from clirun import run_cli as run
from luodian_map import crs
from luodian_map.layers import CSV_NAME, read_layers

ROOT = Path(__file__).resolve().parents[1]
REPORT = ROOT / "geodata" / "reports" / "luodian_2024_work_report.txt"
# A place inside 罗店镇 (WGS-84), where an override may go.
LON, LAT = 121.361, 31.402
ROAD = "年祥路"  # a name the shipped report writes


def one_error(result: subprocess.CompletedProcess[str], progress: int = 0) -> str:
    """The single line a bad input must give, exit 2 and nothing else on stderr but
    ``progress`` lines of progress before it."""
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == progress + 1, result.stderr
    assert lines[-1].startswith("luodian-map: error: "), result.stderr
    return lines[-1]


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A working folder with the shipped report's items (``items.json``) and the layers
    they give without overrides (``plain/``)."""
    folder = tmp_path_factory.mktemp("inputs")
    extracted = run("extract", str(REPORT), "-o", "items.json", cwd=folder)
    assert extracted.returncode == 0, extracted.stderr
    plain = run("geocode", "items.json", "--layers", "plain", cwd=folder)
    assert plain.returncode == 0, plain.stderr
    return folder


def feature_collection(*features: dict[str, Any], **members: Any) -> str:
    return json.dumps({"type": "FeatureCollection", **members, "features": list(features)})


def point_feature(properties: dict[str, Any], x: float = LON, y: float = LAT) -> dict[str, Any]:
    return {
        "type": "Feature",
        "properties": properties,
        "geometry": {"type": "Point", "coordinates": [x, y]},
    }


def geocode(project: Path, tmp_path: Path, overrides: Path, *options: str) -> tuple[Any, Path]:
    layers = tmp_path / "layers"
    result = run(
        "geocode", "items.json", "--overrides", str(overrides), "--layers", str(layers),
        *options, cwd=project,
    )  # fmt: skip
    return result, layers


def placed(layers: Path, name: str) -> gpd.GeoSeries:
    features = read_layers(layers)
    return features[features["name"] == name].iloc[0]


# ----------------------------------------------------------------- items.csv formulas

DANGEROUS = ['=HYPERLINK("http://evil","x")', "+1+1", "-2+3", "@SUM(A1)", "\tA", "\rB"]


def test_csv_cells_a_spreadsheet_would_run_start_with_a_quote(project: Path, tmp_path) -> None:
    template = json.loads((project / "items.json").read_text("utf-8"))[0]
    items = [
        {**template, "name": name, "quote": name, "section": name, "span": [0, 1]}
        for name in [*DANGEROUS, "罗店大居"]
    ]
    (tmp_path / "items.json").write_text(json.dumps(items), encoding="utf-8")
    result = run("geocode", "items.json", "--layers", "out", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    with (tmp_path / "out" / CSV_NAME).open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    by_name = {row["name"].removeprefix("'"): row for row in rows}
    assert set(by_name) == {*DANGEROUS, "罗店大居"}
    for name in DANGEROUS:
        row = by_name[name]
        assert row["name"] == row["quote"] == row["section"] == "'" + name
    assert by_name["罗店大居"]["name"] == "罗店大居"
    for row in rows:  # numbers stay numbers
        assert row["year"] == str(template["year"])
        float(row["uncertainty_m"]), float(row["lon"]), float(row["lat"])


# ----------------------------------------------------------------- overrides


def test_unmatched_and_numeric_override_ids_are_named_in_one_warning(
    project: Path, tmp_path: Path
) -> None:
    road_id = placed(project / "plain", ROAD)["id"]  # a feature id, as in items.csv
    path = tmp_path / "overrides.geojson"
    path.write_text(
        feature_collection(
            point_feature({"id": road_id}),
            point_feature({"id": 123}),
            point_feature({"name": "不存在的路"}),
        ),
        encoding="utf-8",
    )
    result, layers = geocode(project, tmp_path, path)
    assert result.returncode == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if "warning" in line]
    assert len(warnings) == 1, result.stderr
    assert warnings[0].startswith("luodian-map: warning: overrides matching no item")
    assert "id=123" in warnings[0] and "name=不存在的路" in warnings[0]
    assert road_id not in warnings[0]
    road = placed(layers, ROAD)
    assert road["geocoder"] == "overrides" and road.geometry.equals(shapely.Point(LON, LAT))


def test_build_strict_refuses_an_override_that_matches_nothing(project: Path, tmp_path) -> None:
    path = tmp_path / "overrides.geojson"
    path.write_text(feature_collection(point_feature({"name": "不存在的路"})), encoding="utf-8")
    layers = tmp_path / "layers"
    result = run(
        "build", str(REPORT), "--no-maps", "--strict", "--overrides", str(path),
        "--layers", str(layers), cwd=project,
    )  # fmt: skip
    line = one_error(result, progress=1)  # "extracted 1 report(s), …"
    assert "matching no item" in line and "不存在的路" in line and "--strict" in line
    assert not layers.exists()


@pytest.mark.parametrize(
    ("features", "fragments"),
    [
        ([point_feature({"name": ROAD, "uncertainty_m": "abc"})], [ROAD, "uncertainty_m", "'abc'"]),
        ([point_feature({"name": ROAD, "uncertainty_m": -3})], [ROAD, "uncertainty_m", "-3"]),
        ([point_feature({"name": ROAD, "precision": "bogus"})], [ROAD, "precision", "'bogus'"]),
        (
            [point_feature({"id": "x-1", "name": ROAD}), point_feature({"id": "x-1"}, x=121.37)],
            ["id 'x-1'", "2 times"],
        ),
        (
            [point_feature({"name": ROAD}), point_feature({"name": ROAD}, x=121.37)],
            [f"name '{ROAD}'", "2 times"],
        ),
        ([point_feature({"name": ROAD, "crs": "EPSG:3857-ish"})], [ROAD, "EPSG:3857-ish"]),
    ],
    ids=["uncertainty-text", "uncertainty-negative", "precision", "duplicate-id", "duplicate-name",
         "feature-crs"],
)  # fmt: skip
def test_a_bad_override_is_one_error_naming_the_feature_and_writes_nothing(
    project: Path, tmp_path: Path, features: list[dict[str, Any]], fragments: list[str]
) -> None:
    path = tmp_path / "overrides.geojson"
    path.write_text(feature_collection(*features), encoding="utf-8")
    result, layers = geocode(project, tmp_path, path)
    line = one_error(result)
    assert all(fragment in line for fragment in fragments), line
    assert "Warning" not in result.stderr
    assert not layers.exists()


def test_a_geopackage_with_two_layers_needs_the_layer_named(project: Path, tmp_path) -> None:
    path = tmp_path / "overrides.gpkg"
    for layer, x in (("villages", 121.35), ("roads", 121.37)):
        frame = gpd.GeoDataFrame({"name": [ROAD]}, geometry=[shapely.Point(x, LAT)], crs=4326)
        frame.to_file(path, layer=layer)
    result, layers = geocode(project, tmp_path, path)
    line = one_error(result)
    assert "villages" in line and "roads" in line and "--overrides-layer" in line
    assert not layers.exists()
    chosen, layers = geocode(project, tmp_path, path, "--overrides-layer", "roads")
    assert chosen.returncode == 0, chosen.stderr
    assert placed(layers, ROAD).geometry.equals(shapely.Point(121.37, LAT))


def mercator(lon: float, lat: float) -> tuple[float, float]:
    return Transformer.from_crs(4326, 3857, always_xy=True).transform(lon, lat)


def gcj02(lon: float, lat: float) -> tuple[float, float]:
    x, y = crs.wgs84_to_gcj02([lon], [lat])
    return float(x[0]), float(y[0])


EPSG_3857_MEMBER = {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::3857"}}


@pytest.mark.parametrize(
    ("feature", "members"),
    [
        # the legacy member QGIS writes (GDAL honoured it before too: a guard)
        (point_feature({"name": ROAD}, *mercator(LON, LAT)), {"crs": EPSG_3857_MEMBER}),
        # a crs property per feature, as the map page's edit tools export
        (point_feature({"name": ROAD, "crs": "EPSG:3857"}, *mercator(LON, LAT)), {}),
        (point_feature({"name": ROAD, "crs": "gcj02"}, *gcj02(LON, LAT)), {}),
    ],
    ids=["member-3857", "property-3857", "property-gcj02"],
)
def test_an_override_file_is_read_in_the_crs_it_declares(
    project: Path, tmp_path: Path, feature: dict[str, Any], members: dict[str, Any]
) -> None:
    path = tmp_path / "overrides.geojson"
    path.write_text(feature_collection(feature, **members), encoding="utf-8")
    result, layers = geocode(project, tmp_path, path)
    assert result.returncode == 0, result.stderr
    road = placed(layers, ROAD)
    assert road["geocoder"] == "overrides"
    assert road.geometry.distance(shapely.Point(LON, LAT)) < 1e-5  # ~1 m


def test_a_crs_member_nobody_knows_is_named_not_read_as_wgs84(project: Path, tmp_path) -> None:
    path = tmp_path / "overrides.geojson"
    member = {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG:6.18:3:3857"}}
    path.write_text(
        feature_collection(point_feature({"name": ROAD}, *mercator(LON, LAT)), crs=member),
        encoding="utf-8",
    )
    line = one_error(geocode(project, tmp_path, path)[0])
    assert "urn:ogc:def:crs:EPSG:6.18:3:3857" in line and "outside China" not in line


def test_swapped_lon_lat_is_said_in_a_sentence(project: Path, tmp_path: Path) -> None:
    path = tmp_path / "overrides.csv"
    path.write_text(f"name,lon,lat\n{ROAD},{LAT},{LON}\n", encoding="utf-8")
    line = one_error(geocode(project, tmp_path, path)[0])
    assert f"coordinate ({LAT:g}, {LON:g}): lon and lat look swapped; expected lon, lat" in line


# ----------------------------------------------------------------- stderr and streams


def test_a_pyogrio_warning_stays_off_stderr(project: Path, tmp_path: Path) -> None:
    # pyogrio warns of a property of mixed types ("Could not parse column … as JSON")
    path = tmp_path / "overrides.geojson"
    path.write_text(
        feature_collection(point_feature({"name": ROAD}), point_feature({"name": 5}, x=121.37)),
        encoding="utf-8",
    )
    result, _ = geocode(project, tmp_path, path)
    assert result.returncode == 0, result.stderr
    assert "Warning" not in result.stderr and ".py:" not in result.stderr, result.stderr
    assert "luodian-map: warning: overrides matching no item, not used (1): name=5" in result.stderr


def test_pypdf_log_records_stay_off_stderr(tmp_path: Path) -> None:
    # pypdf logs how it repairs a broken cross-reference table ("incorrect startxref")
    writer, buffer = PdfWriter(), io.BytesIO()
    writer.add_blank_page(100, 100)
    writer.write(buffer)
    data = buffer.getvalue()
    pdf = tmp_path / "report.pdf"
    pdf.write_bytes(data[: data.rindex(b"startxref")] + b"startxref\n99999\n%%EOF\n")
    line = one_error(run("extract", str(pdf), cwd=tmp_path))
    assert "no text layer" in line


def ascii_environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONIOENCODING", "LANG")}
    return {**env, "LC_ALL": "C", "PYTHONUTF8": "0"}


def test_an_ascii_terminal_gets_escapes_not_a_traceback(project: Path, tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "luodian_map.cli", "extract", str(REPORT)],
        cwd=tmp_path,
        capture_output=True,
        timeout=300,
        env=ascii_environment(),
    )
    assert result.returncode == 0, result.stderr.decode("ascii", "replace")
    stdout = result.stdout.decode("ascii")  # nothing but ASCII reached the terminal
    names = {item["name"] for item in json.loads(stdout)}  # \uXXXX escapes are JSON's own
    assert ROAD in names
    path = tmp_path / "overrides.geojson"
    path.write_text(
        feature_collection(point_feature({"name": ROAD, "precision": "坏"})), encoding="utf-8"
    )
    error = subprocess.run(
        [sys.executable, "-m", "luodian_map.cli", "geocode", "items.json", "--overrides",
         str(path), "--layers", str(tmp_path / "layers")],
        cwd=project, capture_output=True, timeout=300, env=ascii_environment(),
    )  # fmt: skip
    stderr = error.stderr.decode("ascii")
    assert error.returncode == 2 and stderr.count("\n") == 1, stderr
    assert "\\u5e74\\u7965\\u8def" in stderr  # 年祥路, escaped


def test_a_full_disk_is_one_line_without_an_empty_file_name(tmp_path: Path) -> None:
    with open("/dev/full", "w") as full:
        result = subprocess.run(
            [sys.executable, "-m", "luodian_map.cli", "extract", str(REPORT)],
            cwd=tmp_path, stdout=full, stderr=subprocess.PIPE, text=True, timeout=300,
        )  # fmt: skip
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and lines[-1] == "luodian-map: error: No space left on device"
