"""Tests for report ingestion: decoding, normalisation, structure and offsets."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from luodian_map.errors import InputError
from luodian_map.report import Report, load_report, parse_report

SHIPPED = (
    Path(__file__).resolve().parents[1] / "geodata" / "reports" / "luodian_2024_work_report.txt"
)
RAW = SHIPPED.read_text(encoding="utf-8")

REVIEW_HEADING = "一、2024年工作回顾"
PLAN_HEADING = "二、2025年目标任务和重点工作"
SECTION_ONE = "（一）更大力度推动全镇经济稳进提质，充分释放产业发展新动能"


@pytest.fixture(scope="module")
def shipped() -> Report:
    return load_report(SHIPPED)


def check_invariants(report: Report) -> None:
    """What every later stage relies on, whatever the input was."""
    text = report.text
    covered = list(text)
    previous_end = 0
    for s in report.sentences:
        assert text[s.start : s.end] == s.text
        assert s.text and s.text == s.text.strip() and "\n" not in s.text
        assert s.start >= previous_end
        previous_end = s.end
        assert s.paragraph == text.count("\n", 0, s.start)
        assert s.part in ("review", "plan", "other")
        covered[s.start : s.end] = [""] * (s.end - s.start)
        if s.part == "other":
            assert s.year is None
        else:
            [part] = [p for p in report.parts if p.start <= s.start and s.end <= p.end]
            assert part.first_year <= s.year <= part.last_year  # a year the part covers
            if part.heading:  # a whole text without headings may name next year's plan
                assert s.part == part.kind
    assert not "".join(covered).strip(), "text outside every sentence"
    for part in report.parts:
        assert part.kind in ("review", "plan")
        assert text[part.start :].startswith(part.heading)
        assert 0 <= part.start < part.end <= len(text)
    assert report.title == text.split("\n", 1)[0]


def sentence_with(report: Report, fragment: str):
    found = [s for s in report.sentences if fragment in s.text]
    assert len(found) == 1, f"{fragment!r} in {len(found)} sentences"
    return found[0]


# ------------------------------------------------------------------ shipped report


def test_shipped_report_has_review_and_plan_with_their_years(shipped: Report) -> None:
    assert [(p.kind, p.year, p.heading) for p in shipped.parts] == [
        ("review", 2024, REVIEW_HEADING),
        ("plan", 2025, PLAN_HEADING),
    ]
    assert shipped.id == SHIPPED.stem
    assert shipped.path == SHIPPED
    assert (shipped.title, shipped.town, shipped.date) == ("政府工作报告", "罗店镇", "2024-12-24")
    check_invariants(shipped)


def test_preamble_is_other_and_closing_words_stay_in_the_plan(shipped: Report) -> None:
    opening = sentence_with(shipped, "向大会报告工作")
    assert (opening.part, opening.year, opening.section) == ("other", None, ())
    closing = sentence_with(shipped, "全力打造更富魅力神韵的金罗店")
    assert (closing.part, closing.year) == ("plan", 2025)
    assert shipped.sentences[-1] == closing


def test_page_breaks_inside_a_sentence_are_rejoined(shipped: Report) -> None:
    assert sentence_with(shipped, "新增森林面积7.5公顷").part == "review"
    assert "美兰金苑养老院获评上海市养老机构信用评价A级" in shipped.text
    assert "化解群众信访矛盾，深化完善" in shipped.text
    assert not any(s.text.endswith(("新增森", "信访矛")) for s in shipped.sentences)


def test_footnote_leaves_the_flow_and_its_paragraph_is_rejoined(shipped: Report) -> None:
    assert shipped.footnotes == {"1": "二升一降：实际解决率、满意率提升，不满意率下降。"}
    assert "实际解决率" not in shipped.text
    assert "“二升一降”[1]" in sentence_with(shipped, "[1]").text
    rejoined = sentence_with(shipped, "违规出租出借整治整改92户")
    assert rejoined.section == (REVIEW_HEADING, "城市运行平稳有序")


def test_spaces_punctuation_and_markup_are_canonical(shipped: Report) -> None:
    text = shipped.text
    for expected in (
        "MAX科技园一期",
        "推动MAX科技园二期",
        "全年处置564亩低效产业用地",
        "第六届人民代表大会",
        "1-11月新设立企业2872户",
        "全科社工·AI助手",
        "宝山“主阵地、主城区、样板区”战略定位",
        "东方生命港·宝山药谷（一期）",
        "提高至18.84%，1个国考",
        "2025年全镇经济社会发展的主要预期指标是：区级",
    ):
        assert expected in text
    assert "**" not in text
    assert not re.search(r"[一-龥，。] | [一-龥，。]", text), "space next to Chinese text"
    assert not re.search(r"[一-龥][,:;!?()\"]|[,:;!?()\"][一-龥]", text), "ASCII mark in Chinese"


def test_section_path_has_heading_topic_and_lead_phrase(shipped: Report) -> None:
    task = sentence_with(shipped, "推动宝济二期等项目如期竣工")
    assert task.section == (PLAN_HEADING, SECTION_ONE, "全力加快产业转型发展")
    assert (task.part, task.year) == ("plan", 2025)
    heading = sentence_with(shipped, "（一）更大力度")
    assert heading.text == SECTION_ONE + "。"
    assert heading.section == (PLAN_HEADING, SECTION_ONE)
    body = sentence_with(shipped, "坚持巩固提升优势产业")
    assert body.section == (PLAN_HEADING, SECTION_ONE)
    assert body.paragraph == heading.paragraph
    park = sentence_with(shipped, "美兰西湖公园一期建成开放")
    assert park.section == (REVIEW_HEADING, "功能品质持续提升")
    # a long first sentence is a summary, not a topic heading
    summary = sentence_with(shipped, "面对房地产下行压力")
    assert summary.section == (REVIEW_HEADING,)
    assert (
        sentence_with(shipped, "进一步提升乡村产业发展水平。").section[-1]
        == "进一步提升乡村产业发展水平"
    )


def test_sentences_split_at_final_marks_but_not_inside_quotes_or_at_colons(
    shipped: Report,
) -> None:
    assert sentence_with(shipped, "开业至今稳居宝山商场热门榜第1位").text.endswith("第1位；")
    assert sentence_with(shipped, "主要预期指标是").text.endswith("工业固定资产投资增长20%。")
    report = parse_report(
        "一、2024年工作回顾\n"
        "他说：“道路要修好。桥也要修。”随后开工。提出“三个一”要求！是否完成？是。\n"
        "二、2025年工作安排\n建设（一期。二期）工程。",
        "quotes",
    )
    assert [s.text for s in report.sentences] == [
        "一、2024年工作回顾",
        "他说：“道路要修好。桥也要修。”",
        "随后开工。",
        "提出“三个一”要求！",
        "是否完成？",
        "是。",
        "二、2025年工作安排",
        "建设（一期。二期）工程。",
    ]


def test_normalising_twice_changes_nothing(shipped: Report) -> None:
    again = parse_report(shipped.text, shipped.id)
    assert again.text == shipped.text
    assert again.sentences == shipped.sentences
    assert again.parts == shipped.parts


# ------------------------------------------------------------------ file formats


@pytest.mark.parametrize("encoding", ["gb18030", "gbk", "utf-8-sig", "utf-16"])
def test_encodings_are_detected_from_the_bytes(
    tmp_path: Path, shipped: Report, encoding: str
) -> None:
    copy = tmp_path / "luodian_2024_work_report.txt"
    copy.write_bytes(RAW.replace("\n", "\r\n").encode(encoding))
    report = load_report(copy)
    assert report.text == shipped.text
    assert report.sentences == shipped.sentences
    assert report.footnotes == shipped.footnotes


def test_full_width_copy_normalises_to_the_same_text(shipped: Report) -> None:
    full_width = RAW.translate({c: c + 0xFEE0 for c in range(0x21, 0x7F)}).replace(" ", "\u3000")
    assert "２０２４年" in full_width and "ＭＡＸ" in full_width
    assert parse_report(full_width, shipped.id).text == shipped.text


def _unicode_table() -> tuple[dict[str, str], set[str]]:
    """The shipped Equivalent_Unified_Ideograph table, and the characters it says have none."""
    from importlib import resources

    table = resources.files("luodian_map").joinpath("data/unicode/EquivalentUnifiedIdeograph.txt")
    mapped, none = {}, set()
    for line in table.read_text("utf-8").splitlines():
        if m := re.match(r"([0-9A-F]{4,6})(?:\.\.([0-9A-F]{4,6}))?\s*;\s*([0-9A-F]{4,6})", line):
            for code in range(int(m[1], 16), int(m[2] or m[1], 16) + 1):
                mapped[chr(code)] = chr(int(m[3], 16))
        elif m := re.match(r"# ([0-9A-F]{4,6}); CJK (?:RADICAL|STROKE)", line):
            none.add(chr(int(m[1], 16)))
    return mapped, none


def test_radicals_a_pdf_font_gives_read_as_their_ideographs(shipped: Report) -> None:
    """Chromium prints 民 as ⺠ (U+2EA0, CJK Radicals Supplement), which NFKC keeps."""
    import unicodedata

    text = parse_report("罗店镇人⺠政府：⻓者⻄侧⼯作", "t", year=2024).text
    assert text == "罗店镇人民政府：长者西侧工作"
    printed = RAW.replace("民", "⺠").replace("长", "⻓").replace("工", "⼯")
    assert parse_report(printed, shipped.id).text == shipped.text
    assert parse_report(printed, shipped.id).town == "罗店镇"
    # every radical, stroke and compatibility ideograph becomes a unified ideograph, but
    # those Unicode gives no equivalent ("⺀")
    mapped, none = _unicode_table()
    assert mapped["⺠"] == "民" and len(mapped) > 300
    blocks = [(0x2E80, 0x2EFF), (0x2F00, 0x2FDF), (0x31C0, 0x31EF), (0xF900, 0xFAFF),
              (0x2F800, 0x2FA1F)]  # fmt: skip
    chars = [
        chr(c) for a, b in blocks for c in range(a, b + 1) if unicodedata.category(chr(c)) != "Cn"
    ]
    text = parse_report("".join(chars), "t", year=2024).text

    def unified(c: str) -> bool:  # the unified blocks, and FA0E, FA0F, FA11… in F900–FAFF
        code = ord(c)
        in_blocks = 0x3400 <= code <= 0x4DBF or 0x4E00 <= code <= 0x9FFF
        in_blocks |= 0x20000 <= code <= 0x323AF and not 0x2F800 <= code <= 0x2FA1F
        return in_blocks or (0xF900 <= code <= 0xFAFF and not unicodedata.decomposition(c))

    left = {c for c in text if not unified(c)}
    assert left and left <= none
    assert all(map(unified, mapped.values()))


def test_format_characters_and_variation_selectors_are_removed() -> None:
    """Bidi controls, zero-width and other format characters (category Cf) would end up in
    names, the CSV and the search box: invisible, but a different name."""
    import sys
    import unicodedata

    from luodian_map.extract import extract_items

    hidden = "\u202e\u2066\u2067\u2068\u2069\u202a\u202b\u202c\u202d\u061c\u200e\u200f\u200b\u00ad"
    body = f"新建罗{hidden[:7]}溪路、美\u2069兰{hidden[7:]}路和葛\U000e0100村。"
    report = parse_report(
        f"某镇政府工作报告\n一、2024年工作回顾\n{body}\n二、2025年工作安排\n建设示范路。", "t"
    )
    assert {i.name for i in extract_items(report)} >= {"罗溪路", "美兰路"}
    assert not set(hidden) & set(report.text)
    format_characters = [
        chr(c)
        for c in range(sys.maxunicode + 1)
        if unicodedata.category(chr(c)) == "Cf" or 0xFE00 <= c <= 0xFE0F or 0xE0100 <= c <= 0xE01EF
    ]
    text = "美兰" + "".join(format_characters) + "路"
    assert parse_report(text, "t", year=2024).text == "美兰路"


def test_one_file_per_report_keeps_the_most_faithful_format(tmp_path: Path) -> None:
    from luodian_map.report import one_file_per_report

    a, b = tmp_path / "a", tmp_path / "b"
    paths = [a / "r.pdf", a / "r.txt", a / "s.docx", a / "s.PDF", b / "r.docx", a / "t.pdf"]
    notes: list[str] = []
    assert one_file_per_report(paths, notes.append) == [a / "r.txt", a / "s.docx", b / "r.docx",
                                                        a / "t.pdf"]  # fmt: skip
    assert notes == [
        f"{a / 'r.txt'} and {a / 'r.pdf'} are one report in two formats; reading only r.txt, "
        "the most faithful (.txt, then .docx, then .pdf)",
        f"{a / 's.docx'} and {a / 's.PDF'} are one report in two formats; reading only "
        "s.docx, the most faithful (.txt, then .docx, then .pdf)",
    ]


def test_docx_paragraphs_and_tables_load_in_order(tmp_path: Path, shipped: Report) -> None:
    from docx import Document

    doc = Document()
    for line in RAW.split("\n"):
        doc.add_paragraph(line)
    path = tmp_path / "luodian_2024_work_report.docx"
    doc.save(str(path))
    report = load_report(path)
    assert report.text == shipped.text
    assert report.sentences == shipped.sentences

    doc = Document()
    for line in ("政府工作报告", "一、2024年工作回顾", "主要指标如下："):
        doc.add_paragraph(line)
    table = doc.add_table(rows=2, cols=2)
    for row, cells in zip(table.rows, [("指标", "完成情况"), ("减量化", "15.6公顷")], strict=True):
        for cell, value in zip(row.cells, cells, strict=True):
            cell.text = value
    doc.add_paragraph("二、2025年工作安排")
    doc.add_paragraph("完成美兰西湖公园二期工程。")
    doc.save(str(tmp_path / "table.docx"))
    texts = [s.text for s in load_report(tmp_path / "table.docx").sentences]
    assert texts[2:6] == [
        "主要指标如下：",
        "指标，完成情况。",
        "减量化，15.6公顷。",
        "二、2025年工作安排",
    ]


def _wrap(paragraph: str, width: int) -> list[str]:
    """Break like a layout engine: every `width` characters, never inside an ASCII word."""
    lines = []
    while len(paragraph) > width:
        cut = width
        while paragraph[cut - 1 : cut + 1].isascii() and paragraph[cut - 1 : cut + 1].isalnum():
            cut -= 1
        lines.append(paragraph[:cut])
        paragraph = paragraph[cut:]
    return [*lines, paragraph]


def _write_pdf(path: Path, pages: list[list[str]]) -> None:
    """A minimal PDF whose text layer maps two-byte glyph ids to Unicode (ToUnicode CMap).

    That is how real CJK PDFs carry text; no font program is embedded, since only text
    extraction is under test.
    """
    chars = sorted({c for page in pages for line in page for c in line})
    cid = {c: i + 1 for i, c in enumerate(chars)}
    entries = [f"<{cid[c]:04X}> <{c.encode('utf-16-be').hex().upper()}>" for c in chars]
    blocks = [entries[i : i + 100] for i in range(0, len(entries), 100)]
    cmap = "\n".join(
        [
            "/CIDInit /ProcSet findresource begin 12 dict begin begincmap",
            "/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def",
            "/CMapName /Adobe-Identity-UCS def /CMapType 2 def",
            "1 begincodespacerange <0000> <FFFF> endcodespacerange",
            *(f"{len(b)} beginbfchar\n" + "\n".join(b) + "\nendbfchar" for b in blocks),
            "endcmap CMapName currentdict /CMap defineresource pop end end",
        ]
    ).encode()

    def stream(data: bytes) -> bytes:
        return b"<< /Length %d >>\nstream\n%s\nendstream" % (len(data), data)

    first_page = 7
    kids = " ".join(f"{first_page + 2 * i + 1} 0 R" for i in range(len(pages)))
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        f"<< /Type /Pages /Kids [{kids}] /Count {len(pages)} >>".encode(),
        b"<< /Type /Font /Subtype /Type0 /BaseFont /NotoSansCJKsc-Regular /Encoding /Identity-H"
        b" /DescendantFonts [4 0 R] /ToUnicode 5 0 R >>",
        b"<< /Type /Font /Subtype /CIDFontType2 /BaseFont /NotoSansCJKsc-Regular /CIDSystemInfo"
        b" << /Registry (Adobe) /Ordering (Identity) /Supplement 0 >> /FontDescriptor 6 0 R"
        b" /DW 1000 /CIDToGIDMap /Identity >>",
        stream(cmap),
        b"<< /Type /FontDescriptor /FontName /NotoSansCJKsc-Regular /Flags 4"
        b" /FontBBox [0 -120 1000 880] /ItalicAngle 0 /Ascent 880 /Descent -120"
        b" /CapHeight 700 /StemV 80 >>",
    ]
    for i, page in enumerate(pages):
        shown = "".join("<" + "".join(f"{cid[c]:04X}" for c in line) + "> Tj T* " for line in page)
        objects.append(stream(f"BT /F1 12 Tf 14 TL 40 800 Td {shown}ET".encode()))
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents {first_page + 2 * i}"
            " 0 R /Resources << /Font << /F1 3 0 R >> >> >>".encode()
        )
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    path.write_bytes(bytes(out))


def test_pdf_text_layer_with_wrapped_lines_headers_and_page_numbers(
    tmp_path: Path, shipped: Report
) -> None:
    lines = [line for paragraph in RAW.split("\n") for line in _wrap(paragraph, 38)]
    body = [lines[i : i + 45] for i in range(0, len(lines), 45)]
    pages = [
        ["罗店镇2024年政府工作报告", *chunk, f"- {n} -"] for n, chunk in enumerate(body, start=1)
    ]
    assert len(pages) >= 3
    path = tmp_path / "luodian_2024_work_report.pdf"
    _write_pdf(path, pages)
    report = load_report(path)
    # A wrapped line that happens to end with "。" cannot be told from a paragraph end, so
    # paragraph breaks may differ; the words and the sentences may not.
    assert report.text.replace("\n", "") == shipped.text.replace("\n", "")
    assert [s.text for s in report.sentences] == [s.text for s in shipped.sentences]
    assert [(p.kind, p.year) for p in report.parts] == [("review", 2024), ("plan", 2025)]
    assert report.footnotes == shipped.footnotes
    assert (report.title, report.town, report.date) == ("政府工作报告", "罗店镇", "2024-12-24")


def test_pdf_without_text_layer_is_rejected(tmp_path: Path) -> None:
    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(595, 842)
    path = tmp_path / "scan.pdf"
    with path.open("wb") as handle:
        writer.write(handle)
    with pytest.raises(InputError, match=r"scan\.pdf: the PDF has no text layer"):
        load_report(path)


# ------------------------------------------------------------------ other reports

REPORT_2023 = """嘉定区华亭镇2024年政府工作报告

——2024年1月10日在华亭镇第七届人民代表大会第四次会议上

各位代表：
现在，我代表华亭镇人民政府向大会报告工作。

一、2023年工作总结
过去一年，全镇经济稳中有进。
全镇经济运行保持平稳向好的良好发展态势。规上工业产值增长5%。
道路建设有序推进。完成华亭大道改造 3.2 公里，
新建停车场 2 处。

二、2024年工作安排
打造宜居华亭。新建社区公园 1 座，改造易积水点 5 处。
三、加强政府自身建设
坚持依法行政。
"""


def test_a_2023_review_report_of_another_town() -> None:
    report = parse_report(REPORT_2023, "huating_2023")
    assert [(p.kind, p.year) for p in report.parts] == [("review", 2023), ("plan", 2024)]
    assert (report.town, report.date) == ("华亭镇", "2024-01-10")
    road = sentence_with(report, "华亭大道")
    assert road.text == "完成华亭大道改造3.2公里，新建停车场2处。"
    assert road.section == ("一、2023年工作总结", "道路建设有序推进")
    # a first sentence too long for a topic leaves the paragraph under its heading
    assert sentence_with(report, "规上工业产值").section == ("一、2023年工作总结",)
    # an unrecognised top-level heading after the plan continues the plan
    last = sentence_with(report, "坚持依法行政")
    assert (last.part, last.year, last.section) == ("plan", 2024, ("三、加强政府自身建设",))
    check_invariants(report)


def _without_heading_years(date_line: str) -> str:
    return (
        REPORT_2023.replace("2023年工作总结", "过去一年工作回顾")
        .replace("2024年工作安排", "今年工作安排")
        .replace("2024年1月10日", date_line)
    )


@pytest.mark.parametrize(
    ("date_line", "iso", "years"),
    [
        ("2024年1月10日", "2024-01-10", (2023, 2024)),
        ("2024年12月24日", "2024-12-24", (2024, 2025)),
        ("二〇二五年一月八日", "2025-01-08", (2024, 2025)),
    ],
)
def test_years_come_from_the_report_date_when_headings_have_none(
    date_line: str, iso: str, years: tuple[int, int]
) -> None:
    report = parse_report(_without_heading_years(date_line), "dated")
    assert report.date == iso
    assert tuple(p.year for p in report.parts) == years
    assert sentence_with(report, "社区公园").year == years[1]


def test_years_fall_back_to_the_year_argument_then_to_none() -> None:
    undated = _without_heading_years("某日")
    assert [p.year for p in parse_report(undated, "x", year=2030).parts] == [2030, 2031]
    with pytest.raises(InputError, match=r"cannot tell which year.*--year"):
        parse_report(undated, "x")
    # the year argument is a guess the report did not confirm: a note, an error if strict
    assert parse_report(undated, "x", year=2030).notes
    with pytest.raises(InputError, match="--strict"):
        parse_report(undated, "x", year=2030, strict=True)
    # one heading with a year dates the other
    half = undated.replace("今年工作安排", "2021年工作安排")
    assert [p.year for p in parse_report(half, "x", year=2030).parts] == [2020, 2021]


@pytest.mark.parametrize(
    ("review_heading", "plan_heading"),
    [
        ("一、2024年目标任务完成情况", "二、2025年目标任务和重点工作"),
        ("一、过去一年工作回顾", "二、今后五年主要任务"),
        ("第一部分 2024年工作总结", "第二部分 2025年工作思路"),
    ],
)
def test_part_kind_comes_from_the_heading_words(review_heading: str, plan_heading: str) -> None:
    text = f"政府工作报告\n{review_heading}\n完成道路改造。\n{plan_heading}\n推进公园建设。"
    report = parse_report(text, "kinds", year=2024)
    assert [(p.kind, p.year) for p in report.parts] == [("review", 2024), ("plan", 2025)]


@pytest.mark.parametrize(
    ("preamble", "town"),
    [
        ("——2024年1月10日在嘉定区华亭镇第七届人民代表大会第四次会议上", "华亭镇"),
        ("现在，我代表宝山区罗店镇人民政府向大会报告工作。", "罗店镇"),
        ("——在德清县新市镇第十七届人民代表大会第三次会议上", "新市镇"),
        ("现在，我代表庙行街道办事处报告工作。", "庙行街道"),
        ("现在报告工作。", None),
    ],
)
def test_town_comes_from_the_reports_own_words(preamble: str, town: str | None) -> None:
    text = f"政府工作报告\n{preamble}\n一、2024年工作回顾\n完成。\n二、2025年工作安排\n推进。"
    assert parse_report(text, "town").town == town


def test_unnumbered_part_headings_and_back_matter() -> None:
    text = (
        "政府工作报告\n2024年工作回顾\n完成罗店大居道路建设。\n"
        "2025年主要任务\n推进美兰湖体育公园建设。\n"
        "附件：名词解释\n五好两宜：好环境、好产业。"
    )
    report = parse_report(text, "plain")
    assert [(p.kind, p.year, p.heading) for p in report.parts] == [
        ("review", 2024, "2024年工作回顾"),
        ("plan", 2025, "2025年主要任务"),
    ]
    glossary = sentence_with(report, "好环境")
    assert (glossary.part, glossary.section) == ("other", ("附件：名词解释",))
    check_invariants(report)


def test_pdf_artifacts_letter_spacing_width_forms_and_markers_kept() -> None:
    text = (
        "政 府 工 作 报 告\n一、2024年工作回顾\n"
        "全 年 完 成 收 入 7 . 1 1    亿 元 ， M A X    科 技 园 开 工 。\n"
        "⼀年来完成２０２４年目标①3个，面积10m²。\n二、2025年工作安排\n建设「美丽乡村」。"
    )
    report = parse_report(text, "pdf-like")
    assert report.title == "政府工作报告"
    assert "全年完成收入7.11亿元，MAX科技园开工。" in report.text
    assert "一年来完成2024年目标①3个，面积10m²。" in report.text
    assert "建设“美丽乡村”。" in report.text


def test_running_header_that_repeats_the_title_keeps_the_title() -> None:
    pages = [
        "——2024年12月24日在罗店镇人民代表大会上\n一、2024年工作回顾\n全面完成美兰湖路和潘泾路道路",
        "改造工程。\n二、2025年工作安排\n加快推进美兰湖体育公园和体育中心",
        "建设。",
    ]
    text = "".join(f"政府工作报告\n{page}\n- {n} -\n" for n, page in enumerate(pages, 1))
    report = parse_report(text, "headers")
    assert report.title == "政府工作报告"
    assert report.text.count("政府工作报告") == 1
    assert [s.text for s in report.sentences][-3:] == [
        "全面完成美兰湖路和潘泾路道路改造工程。",
        "二、2025年工作安排",
        "加快推进美兰湖体育公园和体育中心建设。",
    ]


# ------------------------------------------------------------------ bad input


def _one_line_error(path: Path, pattern: str) -> None:
    with pytest.raises(InputError) as caught:
        load_report(path)
    message = str(caught.value)
    assert "\n" not in message and message.startswith(f"{path}: ")
    assert re.search(pattern, message), message


@pytest.mark.parametrize(
    ("name", "data", "pattern"),
    [
        ("empty.txt", b"", "file is empty"),
        ("blank.txt", b" \n\r\n\t", "file is empty"),
        ("bom.txt", b"\xef\xbb\xbf\n", "file is empty"),
        ("image.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary file"),
        ("controls.txt", bytes(range(1, 9)) * 20, "binary file"),
        ("latin.txt", "caf\xe9 \x80 na\xefve r\xe9sum\xe9".encode("latin-1"), "cannot decode"),
        ("cut.txt", RAW.encode()[:3000] + b"\xff" + RAW.encode()[3001:6000], "not valid UTF-8"),
        ("noparts.txt", "罗店镇简介\n罗店镇位于宝山区。".encode(), "cannot tell which year"),
        ("report.odt", b"text", "unsupported file type '.odt'"),
        ("fake.docx", b"not a zip archive", r"not a readable \.docx"),
        ("empty.docx", None, "contains no text"),
        ("fake.pdf", b"%PDF-1.4 broken", "not a readable PDF"),
    ],
)
def test_unusable_files_raise_one_line_input_errors(
    tmp_path: Path, name: str, data: bytes | None, pattern: str
) -> None:
    path = tmp_path / name
    if data is None:
        from docx import Document

        Document().save(str(path))
    else:
        path.write_bytes(data)
    _one_line_error(path, pattern)


def test_missing_file_and_directory(tmp_path: Path) -> None:
    _one_line_error(tmp_path / "missing.txt", "no such file")
    _one_line_error(tmp_path, "is a directory")


# ------------------------------------------------------------------ properties

SKELETON = [
    "政府工作报告",
    "——2024年12月24日在宝山区罗店镇第六届人民代表大会第七次会议上",
    REVIEW_HEADING,
    PLAN_HEADING,
    "(一)更大力度推动经济发展。坚持创新。",
    "新旧动能加快转换。MAX 科技园开工",
    "^[1] 二升一降: 实际解决率提升。",
    "附件：名词解释",
    "",
]


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text())
def test_arbitrary_text_raises_only_input_error(text: str) -> None:
    try:
        report = parse_report(text, "fuzz")
    except InputError as exc:
        assert "\n" not in str(exc)
    else:
        check_invariants(report)


MARKS = (
    "。！？；：，、,:;!?()（）“”「」\"'[]^*— \u3000\n\r\f一二三、年月日回顾安排镇代表0123456789Ａ①"
)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.one_of(st.sampled_from(SKELETON), st.text(max_size=40), st.text(MARKS, max_size=40)),
        max_size=25,
    )
)
def test_report_like_text_keeps_offsets(lines: list[str]) -> None:
    try:
        report = parse_report("\n".join(lines), "fuzz", year=2024)
    except InputError as exc:
        assert "cannot tell which year" in str(exc) or "no text" in str(exc)
    else:
        check_invariants(report)


def _neighbours_per_character(s: str) -> tuple[list[bool], list[bool], list[int]]:
    """For each character of ``s``: whether its nearest neighbour that is neither a space
    nor a mark is wide on either side, and on the right; and the count of wide characters
    before each position."""
    from luodian_map.report import _CONVERTIBLE, _is_wide

    n = len(s)
    left, right = [False] * n, [False] * n
    wide = False
    for i, c in enumerate(s):
        left[i] = wide
        if c != " " and c not in _CONVERTIBLE:
            wide = _is_wide(c)
    wide = False
    for i in range(n - 1, -1, -1):
        right[i] = wide
        if s[i] != " " and s[i] not in _CONVERTIBLE:
            wide = _is_wide(s[i])
    near = [left[i] or right[i] for i in range(n)]
    wide_before = [0] * (n + 1)
    for i, c in enumerate(s):
        wide_before[i + 1] = wide_before[i] + _is_wide(c)
    return near, right, wide_before


def _stays_ascii_per_character(s: str, i: int) -> bool:
    after = s[i + 1 : i + 3]
    return (
        (0 < i < len(s) - 1 and s[i - 1].isdigit() and s[i + 1].isdigit())
        or after[:1] in ("", " ")
        or (s[i] == ":" and after == "//")
    )


def _punctuate_per_character(s: str) -> str:
    """The first, per-character implementation of ``report._punctuate``: the oracle for the
    linear one, which must convert exactly the same marks."""
    from luodian_map.report import _PUNCT_FORMS

    near, right, wide_before = _neighbours_per_character(s)

    def pair_is_chinese(a: int, b: int) -> bool:
        return near[a] or near[b] or wide_before[b] > wide_before[a + 1]

    out = list(s)
    for i, c in enumerate(s):
        if c in _PUNCT_FORMS and (near[i] or not _stays_ascii_per_character(s, i)):
            out[i] = _PUNCT_FORMS[c]
    stack: list[int] = []
    for i, c in enumerate(s):
        if c == "(":
            stack.append(i)
        elif c == ")" and stack:
            a = stack.pop()
            if pair_is_chinese(a, i):
                out[a], out[i] = "（", "）"
        elif c == ")" and near[i]:
            out[i] = "）"
    for a in stack:
        if near[a]:
            out[a] = "（"
    for mark, opening, closing in (('"', "“", "”"), ("'", "‘", "’")):
        marks = [i for i, c in enumerate(s) if c == mark]
        for a, b in zip(marks[0::2], marks[1::2], strict=False):
            if pair_is_chinese(a, b):
                out[a], out[b] = opening, closing
        if len(marks) % 2 and near[marks[-1]]:
            out[marks[-1]] = opening if right[marks[-1]] else closing
    return "".join(out)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(alphabet=st.sampled_from(list(" ,:;!?()\"'ab1/中文。“”…—한"))))
def test_punctuation_by_runs_matches_the_per_character_rules(text: str) -> None:
    from luodian_map.report import _punctuate

    assert _punctuate(text) == _punctuate_per_character(text)


def _sentence_spans_per_character(p: str) -> list[tuple[int, int]]:
    """The first, per-character implementation of ``report._sentence_spans``: the oracle
    for the one that visits only brackets and final marks."""
    from luodian_map.report import _CLOSERS, _FINAL, _OPENERS

    n = len(p)
    depth_change = [0] * (n + 1)
    range_ends: set[int] = set()
    stack: list[tuple[str, int]] = []
    for i, c in enumerate(p):
        if c in _OPENERS:
            stack.append((_OPENERS[c], i))
        elif c in _CLOSERS and any(closer == c for closer, _ in stack):
            while stack[-1][0] != c:
                stack.pop()
            _, start = stack.pop()
            depth_change[start + 1] += 1
            depth_change[i] -= 1
            range_ends.add(i)
    spans = []
    start = depth = 0
    last_solid = ""
    i = 0
    while i < n:
        depth += depth_change[i]
        c = p[i]
        ends = depth == 0 and (c in _FINAL or (i in range_ends and last_solid in _FINAL))
        if c not in _CLOSERS:
            last_solid = c
        i += 1
        if ends:
            while i < n and (p[i] in _FINAL or p[i] in _CLOSERS) and i not in range_ends:
                depth += depth_change[i]
                i += 1
            spans.append((start, i))
            start = i
    if start < n:
        spans.append((start, n))
    out = []
    for a, b in spans:
        text = p[a:b]
        a += len(text) - len(text.lstrip())
        b -= len(text) - len(text.rstrip())
        if a < b:
            out.append((a, b))
    return out


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(alphabet=st.sampled_from(list("“‘（《”’）》\"')。！？；，：a中 "))))
def test_sentence_spans_by_marks_match_the_per_character_rules(text: str) -> None:
    from luodian_map.report import _sentence_spans

    assert _sentence_spans(text) == _sentence_spans_per_character(text)


# ------------------------------------------------------------- layouts as reports arrive


def _parts(report: Report) -> list[tuple[str, int | None, int | None]]:
    return [(p.kind, p.first_year, p.year) for p in report.parts]


def test_part_headings_inside_a_paragraph_get_lines_of_their_own() -> None:
    text = (
        "政府工作报告\n镇长 吴某 各位代表：现在，我代表某镇人民政府报告工作。 2023年工作回顾 "
        "2023年，我们完成美兰路改造。 2024年工作安排 2024年，我们将新建祁连公园。"
    )
    report = parse_report(text, "inline")
    assert [(p.kind, p.year, p.heading) for p in report.parts] == [
        ("review", 2023, "2023年工作回顾"),
        ("plan", 2024, "2024年工作安排"),
    ]
    assert sentence_with(report, "祁连公园").year == 2024
    assert sentence_with(report, "各位代表").part == "other"
    check_invariants(report)


def test_a_heading_broken_over_two_lines_is_one_heading() -> None:
    text = (
        "政府工作报告\n2024年\n工作回顾\n完成美兰路改造，全长两公里，沿线绿化同步完成。\n"
        "二、\n2025年工作安排\n新建祁连公园。"
    )
    report = parse_report(text, "split")
    assert [(p.kind, p.year, p.heading) for p in report.parts] == [
        ("review", 2024, "2024年工作回顾"),
        ("plan", 2025, "二、2025年工作安排"),
    ]
    check_invariants(report)


def test_a_five_year_review_dates_each_sentence_by_the_year_it_names() -> None:
    text = (
        "某镇政府工作报告\n2021年12月15日\n一、本届政府工作回顾\n"
        "2019年，建成美兰路。新建祁连公园，比2016年增加绿地一倍。\n"
        "二、今后五年主要任务\n推进A路建设。"
    )
    report = parse_report(text, "five")
    assert _parts(report) == [("review", 2017, 2021), ("plan", 2022, 2022)]
    assert sentence_with(report, "美兰路").year == 2019
    assert sentence_with(report, "祁连公园").year == 2021  # 2016 is outside the five years
    assert sentence_with(report, "A路").year == 2022
    check_invariants(report)


def test_parts_numbered_as_sections_are_parts_when_there_are_no_others() -> None:
    text = (
        "某镇政府工作报告\n（一）2023年工作回顾\n建成美兰路。\n（二）2024年工作安排\n推进A路建设。"
    )
    report = parse_report(text, "sections")
    assert [(p.kind, p.year, p.heading) for p in report.parts] == [
        ("review", 2023, "（一）2023年工作回顾"),
        ("plan", 2024, "（二）2024年工作安排"),
    ]
    assert report.notes == []
    check_invariants(report)


def test_a_half_year_review_plans_the_rest_of_its_own_year() -> None:
    text = (
        "某镇政府工作报告\n一、2021年上半年工作回顾\n建成美兰路。\n"
        "二、下半年工作安排\n推进A路建设。"
    )
    assert _parts(parse_report(text, "half")) == [("review", 2021, 2021), ("plan", 2021, 2021)]


def test_web_page_furniture_is_dropped_and_its_date_kept() -> None:
    text = (
        "索引号：SY-2024-01 | 发布机构：某镇人民政府 | 发布时间 2024-01-03\n某镇政府工作报告\n"
        "打开网易新闻 查看更多图片\n一、过去一年工作回顾\n建成美兰路。\n点赞 在看\n"
        "关联信息：某镇2023年预算报告\n二、今年工作安排\n推进A路建设。\n扫一扫在手机打开当前页\n阅读原文"
    )
    report = parse_report(text, "web")
    assert (report.date, report.title) == ("2024-01-03", "某镇政府工作报告")
    assert _parts(report) == [("review", 2023, 2023), ("plan", 2024, 2024)]
    for furniture in ("索引号", "网易", "点赞", "关联信息", "扫一扫", "阅读原文"):
        assert furniture not in report.text
    check_invariants(report)


def test_a_text_without_part_headings_is_one_part_and_says_so() -> None:
    summary = (
        "某镇召开第七届人民代表大会第三次会议\n——2024年1月10日，某镇第七届人民代表大会第三次"
        "会议开幕。过去一年，建成美兰路。2024年，将新建祁连公园。"
    )
    report = parse_report(summary, "news")
    assert _parts(report) == [("review", 2023, 2023)]
    assert len(report.notes) == 1 and "no part headings" in report.notes[0]
    assert "review part of 2023" in report.notes[0] and "2024-01-10" in report.notes[0]
    dated = sentence_with(report, "2024年1月10日")  # a date is not a year the text is about
    assert (dated.part, dated.year) == ("review", 2023)
    planned = sentence_with(report, "祁连公园")
    assert (planned.part, planned.year) == ("plan", 2024)
    check_invariants(report)
    with pytest.raises(InputError, match=r"no part headings.*\(--strict\)$"):
        parse_report(summary, "news", strict=True)
    # a list of tasks titled with its year is a plan of that year
    tasks = parse_report("2024年某镇政府实事项目\n1. 新建祁连公园。\n2. 改造美兰路。", "tasks")
    assert _parts(tasks) == [("plan", 2024, 2024)]
    assert "year from the title" in tasks.notes[0]
