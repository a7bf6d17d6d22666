"""Reports as users hand them over (issue 15): printed to PDF by a browser, and the same
report twice in one folder."""

from __future__ import annotations

import html
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from chromium import CHROMIUM, CHROMIUM_ARGS
from clirun import run_cli as run
from luodian_map.extract import extract_items
from luodian_map.report import load_report

ROOT = Path(__file__).resolve().parents[1]
REPORT = ROOT / "geodata" / "reports" / "luodian_2024_work_report.txt"


@pytest.fixture(scope="module")
def printed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shipped report as a web page printed to PDF by headless Chromium: its CJK fonts
    give many ideographs the code point of a CJK radical in the text layer (⺠ for 民)."""
    if not (Path(CHROMIUM).is_file() and os.access(CHROMIUM, os.X_OK)):
        message = f"Chromium not found at {CHROMIUM} (apt-get install chromium)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    folder = tmp_path_factory.mktemp("printed")
    page = folder / "report.html"
    lines = REPORT.read_text("utf-8").split("\n")
    page.write_text(
        "<!doctype html><meta charset='utf-8'><body>"
        + "".join(f"<p>{html.escape(line)}</p>" for line in lines),
        encoding="utf-8",
    )
    pdf = folder / "luodian_2024_print.pdf"
    subprocess.run(
        [CHROMIUM, "--headless", *CHROMIUM_ARGS, f"--print-to-pdf={pdf}",
         "--no-pdf-header-footer", page.as_uri()],
        capture_output=True, timeout=120, check=True,
    )  # fmt: skip
    return pdf


def _keys(items) -> set[tuple[str, str, int]]:
    return {(i.name, i.category, i.year) for i in items}


def test_a_report_printed_to_pdf_by_chromium_reads_as_its_text(printed: Path) -> None:
    report = load_report(printed)
    assert report.town == "罗店镇"  # from "罗店镇人⺠政府", as the PDF writes it
    assert not [c for c in report.text if "\u2e80" <= c <= "\u2fdf"]  # radicals folded
    assert _keys(extract_items(report)) == _keys(extract_items(load_report(REPORT)))


def _extract_folder(folder: Path) -> tuple[list[dict], list[str]]:
    out = folder.parent / f"{folder.name}_items.json"
    result = run("extract", str(folder), "-o", str(out))
    assert result.returncode == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if "warning" in line]
    return json.loads(out.read_text("utf-8")), warnings


def test_one_report_in_two_formats_in_a_folder_is_read_once(tmp_path: Path) -> None:
    """Same name, other format: the .txt is read, one warning line names both."""
    from docx import Document

    folder = tmp_path / "reports"
    folder.mkdir()
    shutil.copy(REPORT, folder / "luodian_2024.txt")
    doc = Document()
    for line in REPORT.read_text("utf-8").split("\n"):
        doc.add_paragraph(line)
    doc.save(str(folder / "luodian_2024.docx"))
    alone = tmp_path / "alone"
    alone.mkdir()
    shutil.copy(REPORT, alone / "luodian_2024.txt")

    items, warnings = _extract_folder(folder)
    assert items == _extract_folder(alone)[0]
    assert warnings == [
        f"luodian-map: warning: {folder / 'luodian_2024.txt'} and "
        f"{folder / 'luodian_2024.docx'} are one report in two formats; reading only "
        "luodian_2024.txt, the most faithful (.txt, then .docx, then .pdf)"
    ]


def test_the_same_report_under_another_name_is_read_once(tmp_path: Path, printed: Path) -> None:
    """A PDF printed from the report, under its own name: the same items, so one copy."""
    folder = tmp_path / "reports"
    folder.mkdir()
    shutil.copy(printed, folder / "a_printed.pdf")  # first in name order
    shutil.copy(REPORT, folder / "b_report.txt")
    alone = tmp_path / "alone"
    alone.mkdir()
    shutil.copy(REPORT, alone / "b_report.txt")

    items, warnings = _extract_folder(folder)
    assert items == _extract_folder(alone)[0]
    assert len(warnings) == 1
    assert warnings[0].startswith(
        f"luodian-map: warning: {folder / 'b_report.txt'} and {folder / 'a_printed.pdf'} "
        "are the same report (the same "
    )
    assert warnings[0].endswith(
        "items); reading only b_report.txt, the most faithful (.txt, then .docx, then .pdf)"
    )
