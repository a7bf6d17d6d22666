"""Ingestion: load a report file, normalise its text, split it into parts and sentences.

A report arrives as PDF-extracted text, GB18030 text, Word or PDF, with lines broken
mid-sentence, stray spaces and half- and full-width forms mixed. Every later stage quotes
sentences and points into the text, so one canonical text (``Report.text``) is built first
and every offset refers to it.

Decoding (``.txt``)
    From the bytes, never from the file name: UTF-16 only with a BOM; then strict UTF-8
    (with or without BOM); then strict GB18030 (a superset of GBK and GB2312). The
    statistical detector is not asked to choose, because on short Chinese text it answers
    Big5 as often as GB18030; it only names what undecodable bytes look like in the error.
    A file that is mostly valid UTF-8 with a few bad bytes is reported as corrupted rather
    than read as GB18030 mojibake.

Normalisation (``Report.text``)
    - Format characters (Unicode category Cf: zero-width spaces and joiners, soft hyphens,
      bidi marks, embeddings, overrides and isolates, the BOM, tag characters) and
      variation selectors are removed: they are invisible, and inside a name they would
      keep it from matching itself, or turn its letters round on a screen.
    - NFKC, so full-width digits and letters become ASCII ("２０２５" → "2025") and the
      Kangxi radicals and compatibility ideographs some PDF fonts produce become
      ordinary characters; then the CJK radicals and strokes NFKC leaves ("人⺠政府" from
      a PDF printed by Chromium) become the unified ideograph Unicode names as their
      equivalent (``data/unicode/EquivalentUnifiedIdeograph.txt``). Circled numbers
      (①), superscripts (m²), squared units (㎡) and "…" stay as written: NFKC would merge
      them into neighbouring digits.
    - Punctuation has one canonical set: the full-width Chinese forms ，：；！？（）“”‘’, with
      。、…《》 as written; 「」 become “” and 『』 become ‘’. An ASCII , : ; ! ? takes the
      Chinese form unless it sits between digits ("1,000", "12:30"), before a space or the
      line end with no Chinese next to it ("Big Data, AI"), or in "://". Brackets and
      quotes take it when they, or what they enclose, touch Chinese text. Context decides,
      never the width the input used, so half- and full-width copies of a report normalise
      to the same text.
    - Spaces next to a Chinese character or mark are removed ("完成 564 亩" → "完成564亩",
      "MAX 科技园" → "MAX科技园", "AI 助手" → "AI助手"); spaces between two ASCII words
      become one ("Big Data"). PDF lines extracted letter by letter ("政 府 工 作") are
      closed up.
    - ``**`` is removed; page-number lines and running headers (a short line repeated on
      three or more pages) are dropped, and so is the frame of a web or WeChat copy
      ("索引号 | 发布机构 | …", "打开网易新闻 查看更多图片", "关联信息：", "扫一扫…",
      "阅读原文", "点赞 在看"), whose dates are kept for dating the report.
    - A part heading written inside a paragraph, between spaces ("…各位代表：… 2023年工作
      回顾 2023年，…"), gets a line of its own; one broken over two lines ("2024年" /
      "工作回顾", "二、" / "2025年工作安排") is joined.
    - Lines are joined into paragraphs, across blank lines and page breaks, when the previous
      line does not end a sentence (。！？；：) and neither line is a heading, the title, a
      byline ("——…"), a bracketed line or a short standalone line (≤ 12 characters).
    - Footnotes: a line "[1] text" or "^[1] text" leaves the flow for
      ``Report.footnotes["1"]`` and the paragraph it interrupted is rejoined. The marker
      "[1]" stays in the body: it is what links a sentence to its footnote.
    - Paragraphs are separated by one "\\n"; ``Sentence.paragraph`` is the line number.

Structure
    - Top-level headings: "一、…" or "第一部分…" on a line of their own, or an unnumbered
      short line naming a part ("2025年工作安排"). Second level: "（一）…", whose first
      sentence is the heading and the rest of the paragraph body text. Third level: a short
      first sentence (≤ 15 characters, no comma) leading a paragraph, e.g. "新旧动能加快转换。";
      it names that paragraph only, because the next paragraph without one is usually a new
      summary. ``Sentence.section`` is this path, outermost first, without the final "。".
    - A top-level heading is a part when its words say so (回顾, 总结, 过去… → "review";
      目标, 任务, 安排, 计划… → "plan"; the last such word wins, as the head of a Chinese
      noun phrase comes last: "2024年目标任务完成情况" is a review). An unrecognised top-level
      heading after a part continues that part; "附件"/"名词解释" start back matter.
    - Years come from the part headings. A heading without a year takes it from the other
      part's heading, else from the report's date ("2024年1月10日", "2024-01-03"; a report
      given in July–December of Y reviews Y, one given in January–June reviews Y-1), else
      from the ``year`` argument (the review year), which is noted; no year at all is an
      error. A plan is the year after its review, or the same year after a half-year
      review ("上半年工作回顾" / "下半年工作安排"). A five-year review ("过去五年",
      "本届政府") covers the five years up to its year and a five-year plan the five from
      its year: a sentence naming one of them takes that year.
    - A text without part headings (a fragment, a news summary, a list of 实事项目) is
      read whole as one part, a plan if its title says so ("2024年…实事项目"), else a
      review; a year named in a paragraph holds for the rest of that paragraph, and the
      year after the review makes a plan. This is noted in ``Report.notes`` and is an
      error with ``strict``.
    - Text before the first part (title, preamble) and back matter have part "other" and
      year None. Closing words at the end of the plan stay in the plan.
    - Sentences end at 。！？；outside quotes and brackets, not at "：": the colon introduces
      what follows ("主要预期指标是：…"), and the two halves only make sense together.
"""

from __future__ import annotations

import codecs
import io
import re
import unicodedata
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import InputError

if TYPE_CHECKING:
    from docx.table import Table


@dataclass(frozen=True)
class Part:
    """A top-level part of the report: the review of a year, or the plan for a year."""

    kind: str  # "review" | "plan"
    year: int | None
    heading: str
    start: int  # offsets into Report.text
    end: int
    # the years a sentence may name to take that year instead of ``year``: a review of
    # five years ("过去五年"), a plan of five ("今后五年"), the year after a whole text
    first_year: int | None = None
    last_year: int | None = None


@dataclass(frozen=True)
class Sentence:
    text: str
    start: int  # offset of text[0] in Report.text; Report.text[start:end] == text
    end: int
    part: str  # "review" | "plan" | "other" (preamble, closing words)
    year: int | None
    # heading path, outermost first, e.g. ("一、2024年工作回顾", "城市更新蹄疾步稳")
    section: tuple[str, ...]
    paragraph: int  # index of the paragraph in the report


@dataclass
class Report:
    id: str  # file stem; names the report in every item and feature
    text: str  # normalised full text; all offsets point into it
    title: str
    town: str | None  # e.g. "罗店镇", from the report's own words
    date: str | None  # ISO date of the report if stated ("2024-12-24")
    parts: list[Part]
    sentences: list[Sentence]
    footnotes: dict[str, str] = field(default_factory=dict)  # marker -> footnote text
    district: str | None = None  # e.g. "宝山区", when written before the town
    path: Path | None = None
    # what ingestion had to guess (no part headings, a year from --year): one line each
    notes: list[str] = field(default_factory=list)


def load_report(path: str | Path, *, year: int | None = None, strict: bool = False) -> Report:
    """Read a .txt, .docx or .pdf report; anything wrong with the file is an InputError.

    ``year`` is the year under review when neither the headings nor the report's date say;
    what had to be guessed is in ``Report.notes``, and with ``strict`` it is an error.
    """
    path = Path(path)
    where = str(path)
    if not path.exists():
        raise InputError(f"{where}: no such file")
    if path.is_dir():
        raise InputError(f"{where}: is a directory, not a report file")
    reader = _READERS.get(path.suffix.lower())
    if reader is None:
        raise InputError(
            f"{where}: unsupported file type {path.suffix or '(none)'!r}; "
            "expected .txt, .docx or .pdf"
        )
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{where}: cannot read the file ({exc.strerror or exc})") from exc
    if not data.strip():
        raise InputError(f"{where}: file is empty")
    report = _parse(reader(data, where), path.stem, year, where, strict)
    report.path = path
    return report


def parse_report(
    text: str, report_id: str, *, year: int | None = None, strict: bool = False
) -> Report:
    """Normalise and split text that is already decoded (in-memory text, tests)."""
    return _parse(text, report_id, year, report_id, strict)


# --------------------------------------------------------------------------- reading


def faithfulness(path: Path) -> int:
    """How faithful the text read from a report file is, best (0) first: a .txt is read as
    written, a .docx keeps its paragraphs, a .pdf's text is rebuilt from its layout (line
    breaks, running headers, radicals from its fonts)."""
    suffixes = list(_READERS)
    suffix = path.suffix.lower()
    return suffixes.index(suffix) if suffix in suffixes else len(suffixes)


SAME_REPORT = "reading only {kept}, the most faithful (.txt, then .docx, then .pdf)"


def one_file_per_report(paths: list[Path], warn: Callable[[str], None] | None = None) -> list[Path]:
    """``paths`` without the other formats of one report: of "a.txt", "a.docx" and "a.pdf"
    in one folder only the most faithful (:func:`faithfulness`) is kept, in its place,
    and ``warn`` is told in one line naming both. Reading both would give every item
    twice (and the two would share one report id)."""
    best: dict[tuple[Path, str], Path] = {}
    for path in paths:
        key = (path.parent, path.stem)
        if key not in best or faithfulness(path) < faithfulness(best[key]):
            best[key] = path
    kept = []
    for path in paths:
        chosen = best[(path.parent, path.stem)]
        if path == chosen:
            kept.append(path)
        elif warn:
            warn(
                f"{chosen} and {path} are one report in two formats; "
                + SAME_REPORT.format(kept=chosen.name)
            )
    return kept


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


_CONTROL = re.compile("[\x00-\x08\x0e-\x1f]")  # below " ", except \t \n \v \f \r


def _read_txt(data: bytes, where: str) -> str:
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            text = data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise InputError(f"{where}: not valid UTF-16 at byte {exc.start}") from exc
    elif b"\x00" in data:
        raise InputError(f"{where}: binary file, not text (contains NUL bytes)")
    else:
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            text = _decode_legacy(data, exc, where)
    controls = len(_CONTROL.findall(text))
    if controls * 100 > len(text):
        raise InputError(f"{where}: binary file, not text (contains control characters)")
    if not text.strip():
        raise InputError(f"{where}: file is empty")
    return text


def _decode_legacy(data: bytes, utf8_error: UnicodeDecodeError, where: str) -> str:
    """GB18030 for Chinese legacy files; a corrupted UTF-8 file must not become mojibake."""
    lenient = data.decode("utf-8", errors="replace")
    bad = lenient.count("\ufffd")
    non_ascii = sum(1 for c in lenient if c > "\x7f")
    if non_ascii - bad >= 20 and bad * 100 <= non_ascii:
        raise InputError(
            f"{where}: not valid UTF-8 at byte {utf8_error.start} although the rest of the "
            "file is UTF-8 (truncated or corrupted?)"
        )
    try:
        return data.decode("gb18030")
    except UnicodeDecodeError as gb_error:
        import charset_normalizer  # only to name the encoding of a file we cannot read

        guess = charset_normalizer.from_bytes(data).best()
        hint = f"; it looks like {guess.encoding}" if guess is not None else ""
        raise InputError(
            f"{where}: cannot decode the text: neither UTF-8 (bad byte at {utf8_error.start}) "
            f"nor GB18030/GBK (bad byte at {gb_error.start}){hint}; save it as UTF-8"
        ) from gb_error


def _read_docx(data: bytes, where: str) -> str:
    # Imported here: only .docx input needs python-docx (and lxml).
    from docx import Document
    from docx.table import Table

    lines: list[str] = []
    try:
        for block in Document(io.BytesIO(data)).iter_inner_content():
            if isinstance(block, Table):
                lines.extend(_table_rows(block))
            else:
                lines.append(block.text)
    except Exception as exc:  # python-docx raises many types for a broken package
        raise InputError(f"{where}: not a readable .docx file ({_one_line(exc)})") from exc
    text = "\n".join(lines)
    if not text.strip():
        raise InputError(f"{where}: the document contains no text")
    return text


def _table_rows(table: Table) -> list[str]:
    """One line per row, cells joined by "，": a table row reads as one sentence."""
    rows = []
    for row in table.rows:
        seen: set[int] = set()
        cells = []
        for cell in row.cells:
            if id(cell._tc) in seen:  # a merged cell repeats in every column it spans
                continue
            seen.add(id(cell._tc))
            cells.append(" ".join(cell.text.split()))
        line = "，".join(c for c in cells if c)
        if line:
            rows.append(line if _ends_sentence(line) else line + "。")
    return rows


def _read_pdf(data: bytes, where: str) -> str:
    # Imported here: only .pdf input needs pypdf.
    from pypdf import PdfReader

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise InputError(f"{where}: the PDF is password-protected")
        pages = [page.extract_text() or "" for page in reader.pages]
    except InputError:
        raise
    except Exception as exc:  # pypdf raises many types for a damaged file
        raise InputError(f"{where}: not a readable PDF ({_one_line(exc)})") from exc
    text = "\n\n".join(pages)
    if not text.strip():
        raise InputError(
            f"{where}: the PDF has no text layer (a scan?); OCR it or supply the report "
            "as .txt or .docx"
        )
    return text


_READERS: dict[str, Callable[[bytes, str], str]] = {
    ".txt": _read_txt,
    ".docx": _read_docx,
    ".pdf": _read_pdf,
}


# --------------------------------------------------------------------- normalisation

_LINE_BREAKS = {"\r": "\n", "\f": "\n", "\v": "\n", "\x85": "\n", "\u2028": "\n", "\u2029": "\n"}
# Controls other than line breaks and tabs, format characters (category Cf), variation
# selectors and lone surrogates.
_INVISIBLE = re.compile(
    "[\x00-\x08\x0e-\x1f\x7f-\x84\x86-\x9f\u00ad\u0600-\u0605\u061c\u06dd\u070f"
    "\u0890\u0891\u08e2\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f"
    "\ud800-\udfff\ufe00-\ufe0f\ufeff\ufff9-\ufffb\U000110bd\U000110cd\U00013430-\U0001343f"
    "\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0001\U000e0020-\U000e007f"
    "\U000e0100-\U000e01ef]"
)
# Kept out of NFKC: it would turn "①3个" into "13个" and "m²" into "m2".
_NFKC_KEEP = re.compile(
    "([\u00b2\u00b3\u00b9\u2026\u2070-\u209f\u2460-\u24ff\u2776-\u2793"
    "\u3251-\u325f\u3280-\u32bf\u3300-\u33ff]+)"
)
_QUOTE_FORMS = {"「": "“", "」": "”", "『": "‘", "』": "’", "・": "·"}
_FINAL = "。！？；"
_LINE_END = "。！？；：!?;:"
_CLOSERS = "”’）》\"')"
_OPENERS = {"“": "”", "‘": "’", "（": "）", "《": "》"}
_PUNCT_FORMS = {",": "，", ":": "：", ";": "；", "!": "！", "?": "？"}
_CONVERTIBLE = frozenset(",:;!?()\"'")
_MARK_RUN = re.compile("[ ,:;!?()\"']+")  # the marks _punctuate converts, and spaces
# Chinese (or other CJK) text and punctuation: CJK blocks, compatibility and half-/full-width
# forms, the supplementary ideographs, and the Chinese quotes, ellipsis and dash.
_WIDE = re.compile(
    "[\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff\ufe10-\ufe6f\uff00-\uffef\U00020000-\U0003ffff“”‘’…—]"
)


def _is_wide(c: str) -> bool:
    """Chinese (or other CJK) text or punctuation: spaces next to it are not word breaks."""
    return _WIDE.match(c) is not None


def _clean(raw: str) -> str:
    text = _replace_all(raw.replace("\r\n", "\n"), _LINE_BREAKS).replace("\t", " ")
    text = _INVISIBLE.sub("", text)
    pieces = _NFKC_KEEP.split(text)
    # split() with a group alternates free text (even) and kept runs (odd)
    text = "".join(
        unicodedata.normalize("NFKC", p) if i % 2 == 0 else p for i, p in enumerate(pieces)
    )
    return _replace_all(_fold_radicals(text), _QUOTE_FORMS).replace("**", "")


def _fold_radicals(text: str) -> str:
    """CJK radicals and strokes as the unified ideographs Unicode names as their
    equivalents ("⺠" → "民"); those without one stay."""
    pattern, unified = _radicals()
    return pattern.sub(lambda m: unified[m.group()], text)


@cache
def _radicals() -> tuple[re.Pattern[str], dict[str, str]]:
    """The Equivalent_Unified_Ideograph property of the Unicode Character Database: one
    pattern matching every character it maps, and the mapping."""
    table = resources.files("luodian_map").joinpath("data/unicode/EquivalentUnifiedIdeograph.txt")
    unified: dict[str, str] = {}
    for line in table.read_text("utf-8").splitlines():
        fields = line.split("#", 1)[0].split(";")
        if len(fields) == 2:
            first, _, last = fields[0].strip().partition("..")
            for code in range(int(first, 16), int(last or first, 16) + 1):
                unified[chr(code)] = chr(int(fields[1], 16))
    return re.compile("[" + "".join(map(re.escape, unified)) + "]"), unified


def _replace_all(text: str, forms: dict[str, str]) -> str:
    """``str.translate`` for a few characters: one ``replace`` each is ~100× faster on
    Chinese text, where ``translate`` looks up every character."""
    for old, new in forms.items():
        text = text.replace(old, new)
    return text


def _close_letter_spacing(line: str) -> str:
    """Undo PDF extraction that puts a space after every character ("政 府 工 作")."""
    chars = len(line) - line.count(" ")
    single_gaps = len(re.findall(r"(?<=\S) (?=\S)", line))
    if chars >= 6 and single_gaps >= 0.8 * (chars - 1):
        return re.sub(r" {2,}| ", lambda m: " " if len(m.group()) > 1 else "", line)
    return line


def _punctuate(s: str) -> str:
    """Give ASCII marks their Chinese form where a neighbour is Chinese (see module doc).

    A mark's neighbours are the nearest characters that are neither spaces nor marks, i.e.
    the two characters around its run of marks and spaces: looking at runs, found by one
    regex, keeps this linear in the paragraph (it runs on every paragraph).
    """
    if _CONVERTIBLE.isdisjoint(s):
        return s
    near, right = _mark_neighbours(s)
    out = list(s)
    stack: list[int] = []
    marks: dict[str, list[int]] = {'"': [], "'": []}
    for i in near:
        c = s[i]
        if c in _PUNCT_FORMS:
            if near[i] or not _stays_ascii(s, i):
                out[i] = _PUNCT_FORMS[c]
        elif c == "(":
            stack.append(i)
        elif c == ")" and stack:
            a = stack.pop()
            if _pair_is_chinese(s, near, a, i):
                out[a], out[i] = "（", "）"
        elif c == ")" and near[i]:
            out[i] = "）"
        elif c in marks:
            marks[c].append(i)
    for a in stack:
        if near[a]:
            out[a] = "（"
    _pair_quotes(s, out, marks, near, right)
    return "".join(out)


def _pair_quotes(
    s: str,
    out: list[str],
    marks: dict[str, list[int]],
    near: dict[int, bool],
    right: dict[int, bool],
) -> None:
    """Give ``out`` the Chinese form of each pair of the quote ``marks`` of ``s`` that is
    Chinese, and of an odd one out beside Chinese (opening or closing by its side)."""
    for mark, opening, closing in (('"', "“", "”"), ("'", "‘", "’")):
        found = marks[mark]
        for a, b in zip(found[0::2], found[1::2], strict=False):  # odd one out: below
            if _pair_is_chinese(s, near, a, b):
                out[a], out[b] = opening, closing
        if len(found) % 2 and near[found[-1]]:
            out[found[-1]] = opening if right[found[-1]] else closing


def _pair_is_chinese(s: str, near: dict[int, bool], a: int, b: int) -> bool:
    """Whether a pair of marks at ``a`` and ``b`` is Chinese: beside or around wide text."""
    return near[a] or near[b] or _WIDE.search(s, a + 1, b) is not None


def _mark_neighbours(s: str) -> tuple[dict[int, bool], dict[int, bool]]:
    """For each mark position of ``s``: whether a neighbour is wide, and whether the
    neighbour after it is."""
    n = len(s)
    near: dict[int, bool] = {}
    right: dict[int, bool] = {}
    for run in _MARK_RUN.finditer(s):
        a, b = run.span()
        after = b < n and _is_wide(s[b])
        around = after or (a > 0 and _is_wide(s[a - 1]))
        for i in range(a, b):
            near[i] = around
            right[i] = after
    return near, right


def _stays_ascii(s: str, i: int) -> bool:
    """Whether the mark at ``i`` keeps its ASCII form: "1,000", "12:30", "http://", or
    English prose ("a, b"; "Go!")."""
    after = s[i + 1 : i + 3]
    return (
        (0 < i < len(s) - 1 and s[i - 1].isdigit() and s[i + 1].isdigit())
        or after[:1] in ("", " ")
        or (s[i] == ":" and after == "//")
    )


def _canonical(paragraph: str) -> str:
    s = re.sub(r"\[\^(\d+)\]", r"[\1]", paragraph)
    s = _punctuate(s)

    def space(m: re.Match[str]) -> str:
        a, b = m.start(), m.end()
        if a == 0 or b == len(s) or _is_wide(s[a - 1]) or _is_wide(s[b]):
            return ""
        return " "

    return re.sub(r" +", space, s)


# -------------------------------------------------------------------- lines, headings

_NUM = "一二三四五六七八九十"
_LEVEL1 = re.compile(rf"^(?:[{_NUM}]{{1,3}}\s*[、.]|第[{_NUM}]{{1,3}}部分\s*[、.:：]?)\s*")
_LEVEL2 = re.compile(rf"^[(（]\s*[{_NUM}]{{1,3}}\s*[)）]")
_BACK_MATTER = re.compile(rf"^(?:附件|附录|附表|名词解释|注释)[\d{_NUM}]*(?:\s*[:：].{{0,30}})?$")
_CLAUSE_PUNCT = re.compile(r"[，,；;。！？!?：:]")
# "^[1] text", "[1] text", "[1]: text"; "[1]，…" at a line start is a wrapped body line
_FOOTNOTE = re.compile(
    r"^(?:\^\[\^?(\d{1,3})\]\s*[:：]?\s*|\[\^?(\d{1,3})\](?:\s*[:：]\s*|\s+))"
    r"(?=[\w\"“(（])(.+)$"
)
_PAGE_NUMBER = re.compile(
    r"^(?:[-—–~\s]*\d{1,3}[-—–~\s]*|第\s*\d{1,3}\s*页(?:\s*[,，/]?\s*共\s*\d{1,3}\s*页)?|\d{1,3}\s*/\s*\d{1,3})$"
)
_DATE_LINE = re.compile(r"^\d{4}年\d{1,2}月\d{1,2}日$")
_REVIEW_WORDS = (
    "回顾", "总结", "过去", "一年来", "五年来", "工作情况", "完成情况", "执行情况", "成绩",
)  # fmt: skip
_PLAN_WORDS = (
    "目标", "任务", "重点工作", "安排", "打算", "计划", "思路", "展望", "部署",
    "今后", "新的一年", "今年", "明年", "总体要求", "实事项目",
)  # fmt: skip


def _part_kind(heading: str) -> str | None:
    """'review' or 'plan' by the last telling word: a Chinese noun phrase ends in its head.

    "2024年目标任务完成情况" is a review, "2025年目标任务和重点工作" a plan.
    """
    found = [
        (pos + len(word), len(word), kind)
        for kind, words in (("review", _REVIEW_WORDS), ("plan", _PLAN_WORDS))
        for word in words
        if (pos := heading.rfind(word)) >= 0
    ]
    return max(found)[2] if found else None


def _level(line: str, *, first: bool = False) -> int:
    """1 for a top-level heading or back matter, 2 for "（一）…", else 0."""
    m = _LEVEL1.match(line)
    if m and 1 <= len(line) - m.end() <= 40 and not _CLAUSE_PUNCT.search(line, m.end()):
        return 1
    if _LEVEL2.match(line):
        return 2
    if len(line) <= 30 and _BACK_MATTER.match(line):
        return 1
    if (
        not first
        and len(line) <= 30
        and not _CLAUSE_PUNCT.search(line)
        and not _is_standalone(line)
        and _part_kind(line)
    ):
        return 1
    return 0


def _is_standalone(line: str) -> bool:
    """Bylines, bracketed subtitles and bare dates never join a neighbouring line."""
    return (
        line.startswith(("—", "--"))
        or (line[:1] in "(（" and line[-1:] in ")）")
        or bool(_DATE_LINE.match(line))
    )


def _ends_sentence(line: str) -> bool:
    return line.rstrip(_CLOSERS)[-1:] in _LINE_END


def _continues(prev: str, line: str, *, prev_is_title: bool) -> bool:
    """Is ``line`` the rest of the paragraph ``prev`` that a line or page break cut?"""
    if prev_is_title or _ends_sentence(prev) or len(prev) <= 12:
        return False
    if _is_standalone(prev) or _is_standalone(line) or _level(line):
        return False
    level = _level(prev)
    return level == 0 or (level == 2 and any(c in _FINAL for c in prev))


def _lines(raw: str) -> tuple[list[str], list[str]]:
    """Cleaned lines, and the page furniture taken out of them.

    Page numbers and running headers become blank lines: a short line repeated three or
    more times is a running header. Its first copy stays as the title when it opens the
    document and the next line could not be a title itself. Lines of a web page's frame
    (``_is_furniture``) are dropped and returned apart: they may carry the report's date.
    Part headings written inside a paragraph get lines of their own, and a heading broken
    over two lines ("2024年" / "工作回顾") is joined.
    """
    lines: list[str] = []
    furniture: list[str] = []
    for line in _clean(raw).split("\n"):
        line = _close_letter_spacing(line).strip()
        if _is_furniture(line):
            furniture.append(line)
            line = ""
        lines.extend(_split_inline_headings(line))
    lines = _join_split_headings(lines)
    repeated = Counter(line for line in lines if _is_title_like(line))
    filled = [i for i, line in enumerate(lines) if line]
    keep_first = len(filled) > 1 and not _is_title_like(lines[filled[1]])
    kept = [
        ""
        if _PAGE_NUMBER.match(line) or (repeated[line] >= 3 and not (keep_first and i == filled[0]))
        else line
        for i, line in enumerate(lines)
    ]
    return kept, furniture


# A web page's frame around the text: document metadata, share buttons, links.
_FURNITURE = re.compile(
    r"索引号|发布机构|信息来源\s*[:：]|打开网易新闻|查看更多图片|关联信息|扫一扫|阅读原文|"
    r"责任编辑|打印本页|关闭窗口|分享到|原标题\s*[:：]|返回顶部|上一篇\s*[:：]|下一篇\s*[:：]|"
    r"ICP备|网站标识码|主办单位\s*[:：]|版权所有"
)
_FURNITURE_LINE = re.compile(
    r"^(?:(?:来源|作者|编辑|发布时间|发布日期|日期|浏览次数|阅读量|字号)\s*[:：]|发布时间\s*\d)"
    r"|^(?:分享|点赞|在看|收藏|转发|评论|阅读|打印|关闭|字号|[大中小赞|【】\[\]\s\d:：])+$"
)


def _is_furniture(line: str) -> bool:
    """A line of a web page's frame: "索引号 | 发布机构 | …", "打开网易新闻 查看更多图片",
    "点赞 在看"."""
    return (len(line) <= 80 and _FURNITURE.search(line) is not None) or (
        len(line) <= 40
        and _FURNITURE_LINE.match(line) is not None
        and _WORDLIKE.search(line) is not None
    )


_WORDLIKE = re.compile(r"[一-龥]")
_NUMBERING = (
    rf"(?:[{_NUM}]{{1,3}}\s*[、.]|[(（]\s*[{_NUM}]{{1,3}}\s*[)）]"
    rf"|第[{_NUM}]{{1,3}}部分\s*[、.:：]?)"
)
# What a part heading covers: a year, a half year, a span or a period of the government.
_PERIOD = (
    r"(?:(?:19|20)\d{2}\s*[-—–~至到]\s*(?:19|20)\d{2}年|(?:19|20)\d{2}年(?:上半年|下半年|度)?"
    r"|过去的?(?:一|五|几)年|五年来|一年来|本届政府|今年|明年|今后(?:五年)?|未来五年|上半年|下半年)"
)
_HEAD_WORDS = (
    "工作回顾|工作总结|回顾|工作安排|工作打算|工作计划|工作思路|目标任务|主要任务|重点任务"
    "|重点工作|实事项目|总体要求|主要工作"
)
_HEADING_TEXT = (
    rf"(?:{_NUMBERING}?\s*{_PERIOD}[^\s。！？；：!?;:，,]{{0,14}}?(?:{_HEAD_WORDS})"
    rf"|{_NUMBERING}\s*[^\s。！？；：!?;:，,]{{0,14}}?(?:{_HEAD_WORDS}))"
)
# a heading inside a paragraph: after a sentence or a space, before a space or the line end
_INLINE_HEADING = re.compile(rf"(?:^|(?<=[。！？；：!?;:…\s]))\s*({_HEADING_TEXT})(?=\s|$)")
_HEADING_START = re.compile(rf"^{_NUMBERING}?\s*{_PERIOD}?$")


def _split_inline_headings(line: str) -> list[str]:
    """ "…各位代表：… 2023年工作回顾 2023年，…" → the text before, the heading, the text after."""
    pieces = []
    position = 0
    for match in _INLINE_HEADING.finditer(line):
        start, end = match.span(1)
        if start == 0 and end == len(line):
            break  # already a heading line
        pieces += [line[position:start].strip(), match.group(1)]
        position = end
    rest = line[position:].strip()
    return [p for p in [*pieces, rest] if p] if pieces else [line]


def _join_split_headings(lines: list[str]) -> list[str]:
    """ "2024年" or "一、" on one line and "工作回顾" on the next are one heading."""
    out = list(lines)
    for i, line in enumerate(out):
        if not line or not _HEADING_START.match(line):
            continue
        j = next((k for k in range(i + 1, min(i + 3, len(out))) if out[k]), None)
        if j is None:
            continue
        joined = line + out[j]
        if len(joined) <= 30 and not _CLAUSE_PUNCT.search(joined) and _part_kind(joined):
            out[i], out[j] = joined, ""
    return out


def _is_title_like(line: str) -> bool:
    return (
        0 < len(line) <= 30
        and not _ends_sentence(line)
        and not _is_standalone(line)
        and not _level(line)
    )


def _paragraphs(lines: list[str]) -> tuple[list[str], dict[str, str]]:
    """Join broken lines into paragraphs and take footnotes out of the flow."""
    paragraphs: list[str] = []
    footnotes: dict[str, str] = {}
    for line in lines:
        if not line:
            continue
        m = _FOOTNOTE.match(line)
        if m:
            footnotes.setdefault(m.group(1) or m.group(2), m.group(3))
        elif paragraphs and _continues(paragraphs[-1], line, prev_is_title=len(paragraphs) == 1):
            words = _is_word_char(paragraphs[-1][-1]) and _is_word_char(line[0])
            paragraphs[-1] += (" " if words else "") + line
        else:
            paragraphs.append(line)
    return paragraphs, footnotes


def _is_word_char(c: str) -> bool:
    return c.isascii() and c.isalnum()


# ------------------------------------------------------------------------- sentences


_BRACKET = re.compile(f"[{re.escape(''.join(_OPENERS) + _CLOSERS)}]")
_FINAL_MARK = re.compile(f"[{_FINAL}]")


def _sentence_spans(p: str) -> list[tuple[int, int]]:
    """Sentence (start, end) pairs in a paragraph; quotes and brackets are never split.

    Only brackets and final marks can change or end a sentence, so only their positions
    (found by regex) are visited, not every character.
    """
    n = len(p)
    depth_change: dict[int, int] = {}
    range_ends: set[int] = set()
    stack: list[tuple[str, int]] = []
    for match in _BRACKET.finditer(p):
        i, c = match.start(), match.group()
        if c in _OPENERS:
            stack.append((_OPENERS[c], i))
        elif any(closer == c for closer, _ in stack):
            while stack[-1][0] != c:  # drop openers left unclosed inside this pair
                stack.pop()
            _, start = stack.pop()
            depth_change[start + 1] = depth_change.get(start + 1, 0) + 1
            depth_change[i] = depth_change.get(i, 0) - 1
            range_ends.add(i)
    changes = sorted(depth_change.items())
    spans = []
    start = depth = applied = 0
    i = 0  # the first position not yet part of a sentence's closing marks
    for end in sorted({m.start() for m in _FINAL_MARK.finditer(p)} | range_ends):
        while applied < len(changes) and changes[applied][0] <= end:
            depth += changes[applied][1]
            applied += 1
        if end < i or depth != 0:
            continue
        if p[end] not in _FINAL and _last_solid(p, end) not in _FINAL:
            continue  # a closing bracket ends a sentence only after a final mark
        i = end + 1
        while i < n and (p[i] in _FINAL or p[i] in _CLOSERS) and i not in range_ends:
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


def _last_solid(p: str, i: int) -> str:
    """The last character before ``i`` that is not a closing mark ("" if none)."""
    j = i - 1
    while j >= 0 and p[j] in _CLOSERS:
        j -= 1
    return p[j] if j >= 0 else ""


def _strip_final(s: str) -> str:
    return s.rstrip(_FINAL + "：")


def _lead_phrase(sentence: str) -> str | None:
    """A short first sentence that names the topic of its paragraph ("新旧动能加快转换。")."""
    body = sentence[:-1]
    if (
        sentence.endswith("。")
        and 2 <= len(body) <= 15
        and not re.search(r"[，：；（）,:;()]", body)
    ):
        return body
    return None


# ------------------------------------------------------------------ years, date, town

_CN_DIGITS = {c: i for i, c in enumerate("〇一二三四五六七八九")} | {"○": 0, "零": 0}
_YEAR = re.compile(r"((?:19|20)\d{2}|[〇○零一二三四五六七八九]{4})年")
_DATE = re.compile(
    r"((?:19|20)\d{2}|[〇○零一二三四五六七八九]{4})年"
    rf"(\d{{1,2}}|[{_NUM}]{{1,3}})月(\d{{1,2}}|[{_NUM}]{{1,3}})日"
)
_TOWN_PATTERNS = (
    re.compile(r"代表([一-龥]{1,12}?(?:镇|乡|街道))(?:人民政府|办事处)"),
    re.compile(rf"([一-龥]{{2,12}}?(?:镇|乡|街道))第[{_NUM}\d]+届人民代表大会"),
    re.compile(r"([一-龥]{2,12}?(?:镇|乡|街道))(?:人民政府|人民代表大会|办事处)"),
)
_ADMIN_PREFIX = re.compile(r"省|市|区|县|代表|在|于|向")


def _number(s: str) -> int:
    """An Arabic or Chinese numeral: "2024", "二〇二四", "十二", "二十四"."""
    if s.isdigit():
        return int(s)
    if "十" in s:
        tens, _, units = s.partition("十")
        return _number(tens or "一") * 10 + (_number(units) if units else 0)
    value = 0
    for c in s:
        value = value * 10 + _CN_DIGITS[c]
    return value


def _year_in(heading: str) -> int | None:
    m = _YEAR.search(heading)
    return _number(m.group(1)) if m else None


_ISO_DATE = re.compile(r"(?<![\d.])((?:19|20)\d{2})[-./](\d{1,2})[-./](\d{1,2})(?![\d.])")
_SPAN = re.compile(r"((?:19|20)\d{2})年?\s*[-—–~至到]\s*((?:19|20)\d{2})年")
_FIVE_YEARS = re.compile(r"过去的?五年|五年来|本届政府|近五年|本届以来|今后五年|未来五年")
_ANY_YEAR = re.compile(r"(?<!\d)((?:19|20)\d{2})年(?!\d{1,2}月)")  # a year, not a date


def _find_date(text: str) -> date | None:
    """The first date of the text: "2024年1月10日", "二〇二五年一月八日", "2024-01-03"."""
    found = sorted(
        (m.start(), (m.group(1), m.group(2), m.group(3)))
        for pattern in (_DATE, _ISO_DATE)
        for m in pattern.finditer(text)
    )
    for _, (y, mo, d) in found:
        try:
            return date(_number(y), _number(mo), _number(d))
        except ValueError:
            continue
    return None


def _find_town(text: str) -> str | None:
    for pattern in _TOWN_PATTERNS:
        for m in pattern.finditer(text):
            town = _trim_town(m.group(1))
            if town:
                return town
    return None


def _find_district(text: str, town: str | None) -> str | None:
    """The district or county written right before the town ("在宝山区罗店镇…")."""
    if not town:
        return None
    m = re.search(rf"([一-龥]{{2,5}}(?:区|县))(?:{re.escape(town)})", text)
    name = re.split(r"[在于日月年的]", m.group(1))[-1] if m else ""
    return name if len(name) >= 2 else None


def _trim_town(candidate: str) -> str | None:
    """ "在宝山区罗店镇" → "罗店镇": cut at the last admin word that leaves a 2+ character name."""
    suffix = "街道" if candidate.endswith("街道") else candidate[-1]
    name = candidate[: -len(suffix)]
    cut = 0
    for m in _ADMIN_PREFIX.finditer(name):
        if len(name) - m.end() >= 2:
            cut = m.end()
    name = name[cut:]
    return name + suffix if 1 <= len(name) <= 6 else None


def _review_year(
    parts: list[_PartDraft], report_date: date | None, year: int | None
) -> tuple[int | None, str]:
    """The year under review and where it comes from: a part heading, the report's date
    (a report given in July–December of Y reviews Y, one given in January–June reviews
    Y-1; a half-year review is of its own year), else ``year``."""
    half = _is_half_year(parts)
    for kind, offset in (("review", 0), ("plan", 0 if half else 1)):
        for part in parts:
            if part.kind == kind and part.heading_year is not None:
                return part.heading_year - offset, "the headings"
    if report_date is not None:
        late = report_date.month >= 7 or half
        return report_date.year - (not late), f"the report date {report_date.isoformat()}"
    return year, "--year"


def _is_half_year(parts: list[_PartDraft]) -> bool:
    """A review of the first half ("2021年上半年工作回顾") plans the second half."""
    return any(
        "上半年" in p.heading if p.kind == "review" else "下半年" in p.heading for p in parts
    )


# ------------------------------------------------------------------------- structure


@dataclass
class _PartDraft:
    kind: str
    heading: str
    heading_year: int | None
    start: int
    end: int


_Placed = list[tuple[int, int, int, tuple[str, ...], _PartDraft | None]]


def _structure(paragraphs: list[str], *, promote: bool) -> tuple[list[_PartDraft], _Placed]:
    """The parts of the report and every sentence with its offsets, paragraph, heading
    path and part. With ``promote``, a second-level heading that names a part and its
    period ("（一）2023年工作回顾") is a top-level one: for reports numbered that way."""
    drafts: list[_PartDraft] = []
    current: _PartDraft | None = None
    placed: _Placed = []
    top: str | None = None
    second: str | None = None
    offset = 0
    for index, p in enumerate(paragraphs):
        spans = _sentence_spans(p)
        level = _level(p, first=index == 0)
        if promote and level == 2 and _is_part_heading(p):
            level = 1
        lead = None
        if level == 1:
            top, second = _strip_final(p), None
            kind = None if _BACK_MATTER.match(p) else _part_kind(top)
            if _BACK_MATTER.match(p):
                current = None
            elif kind is not None:
                current = _PartDraft(kind, top, _year_in(top), offset, offset)
                drafts.append(current)
        elif level == 2:
            second = _strip_final(p[slice(*spans[0])])
        elif len(spans) > 1:
            lead = _lead_phrase(p[slice(*spans[0])])
        section = tuple(h for h in (top, second, lead) if h)
        placed.extend((offset + a, offset + b, index, section, current) for a, b in spans)
        if current is not None:
            current.end = offset + len(p)
        offset += len(p) + 1
    return drafts, placed


def _is_part_heading(line: str) -> bool:
    """A whole line that names a period and a part ("（一）2023年工作回顾")."""
    return (
        len(line) <= 40
        and not _CLAUSE_PUNCT.search(line)
        and bool(re.search(_PERIOD, line) and _part_kind(line))
    )


def _parse(raw: str, report_id: str, year: int | None, where: str, strict: bool) -> Report:
    lines, furniture = _lines(raw)
    paragraphs, raw_footnotes = _paragraphs(lines)
    paragraphs = [p for p in map(_canonical, paragraphs) if p]
    if not paragraphs:
        raise InputError(f"{where}: the report contains no text")
    text = "\n".join(paragraphs)

    drafts, placed = _structure(paragraphs, promote=False)
    if not drafts:  # parts numbered "（一）2023年工作回顾", as sections usually are
        drafts, placed = _structure(paragraphs, promote=True)

    notes: list[str] = []
    whole = not drafts
    if whole:  # a fragment, a news summary, a list: the whole text is one part
        title_kind = _part_kind(paragraphs[0])
        drafts = [
            _PartDraft(
                title_kind or "review",
                "",
                _year_in(paragraphs[0]) if title_kind else None,
                0,
                len(text),
            )
        ]
        placed = [(a, b, index, section, drafts[0]) for a, b, index, section, _ in placed]
    preamble = text[: drafts[0].start]
    report_date = next(filter(None, map(_find_date, (preamble, "\n".join(furniture), text))), None)
    review_year, source = _review_year(drafts, report_date, year)
    if review_year is None:
        raise InputError(
            f"{where}: cannot tell which year the report is about: no year in its part "
            "headings, no report date (such as '2024年1月10日' or '发布时间 2024-01-03'); "
            "give it with --year"
        )
    if whole:
        kind = drafts[0].kind
        source = source.replace("the headings", "the title")
        notes.append(
            f"{where}: no part headings found (looked for lines such as '一、2024年工作回顾', "
            "'过去五年工作回顾', '2025年工作安排', '目标任务', '实事项目'); the whole text is "
            f"read as one {kind} part of {review_year + (kind == 'plan')} (year from {source})"
        )
    elif source == "--year":
        notes.append(f"{where}: no year in the part headings and no report date; using --year")
    if strict and notes:
        raise InputError(f"{notes[0]} (--strict)")

    half = _is_half_year(drafts)
    parts = {id(d): _part(d, review_year, half) for d in drafts}
    sentences = []
    named: tuple[int, str, int | None] = (-1, "other", None)  # paragraph, part, year
    for a, b, index, section, d in placed:
        kind, sentence_year = (
            _sentence_year(text[a:b], parts[id(d)], review_year) if d else ("other", None)
        )
        if d and not parts[id(d)].heading:  # no headings: a year named in a paragraph
            if (kind, sentence_year) != (parts[id(d)].kind, parts[id(d)].year):
                named = (index, kind, sentence_year)  # holds for its following sentences
            elif named[0] == index:
                kind, sentence_year = named[1:]
        sentences.append(
            Sentence(
                text=text[a:b],
                start=a,
                end=b,
                part=kind,
                year=sentence_year,
                section=section,
                paragraph=index,
            )
        )
    town = _find_town(preamble) or _find_town(text)
    return Report(
        id=report_id,
        text=text,
        title=paragraphs[0],
        town=town,
        district=_find_district(text, town),
        date=report_date.isoformat() if report_date else None,
        parts=list(parts.values()),
        sentences=sentences,
        footnotes={k: _canonical(v) for k, v in raw_footnotes.items()},
        notes=notes,
    )


def _part(draft: _PartDraft, review_year: int, half: bool) -> Part:
    """The part of a draft, with its year (from its heading, else the review year; a plan
    is the year after, or the same year after a half-year review) and the first year it
    covers: five years for "过去五年"/"本届政府", or the named span."""
    span = _SPAN.search(draft.heading)
    if span:
        first, last = int(span.group(1)), int(span.group(2))
        year = last if draft.kind == "review" else first
        return Part(draft.kind, year, draft.heading, draft.start, draft.end, first, last)
    year = (
        draft.heading_year
        if draft.heading_year is not None
        else review_year + (draft.kind == "plan" and not half)
    )
    first = last = year
    if not draft.heading and draft.kind == "review":
        last = year + 1
    elif _FIVE_YEARS.search(draft.heading):
        first, last = (year - 4, year) if draft.kind == "review" else (year, year + 4)
    return Part(draft.kind, year, draft.heading, draft.start, draft.end, first, last)


def _sentence_year(sentence: str, part: Part, review_year: int) -> tuple[str, int | None]:
    """Part and year of a sentence: its part's, or, in a part of several years, the
    latest of them the sentence names. In a whole text read as one review, a sentence
    naming the next year is a plan of that year."""
    if part.first_year is None or part.last_year is None or part.first_year == part.last_year:
        return part.kind, part.year
    years = [int(y) for y in _ANY_YEAR.findall(sentence)]
    named = [y for y in years if part.first_year <= y <= part.last_year]
    if not named:
        return part.kind, part.year
    year = max(named)
    return ("plan" if not part.heading and year > review_year else part.kind), year
