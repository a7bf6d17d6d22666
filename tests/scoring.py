"""Score extracted items against hand-annotated gold files; print the corpus table.

``python tests/scoring.py`` prints, for every report of the test corpus, precision,
recall, category accuracy and year accuracy, then the means (the figures of the README's
extraction table). ``--markdown`` prints the table as Markdown. The code scored is the
``luodian_map`` on ``sys.path`` (``PYTHONPATH=<worktree>/src``).
"""

from __future__ import annotations

import csv
import json
import re
import sys
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from luodian_map.gazetteer import GEODATA_DIR
from luodian_map.model import Item

ROOT = Path(__file__).resolve().parents[1]
TESTS = ROOT / "tests"
GOLD = TESTS / "gold"
COMMITTEES = GEODATA_DIR / "sources" / "luodian_committees_2022.csv"


@dataclass(frozen=True)
class CorpusReport:
    """A report of the test corpus, its gold file and how it is read."""

    path: Path
    origin: str  # "shipped" | "written" (for the tests, seeing the extractor) | "blind"
    layout: str  # what the report exercises
    committees: bool = False  # the town's committee list is known beforehand (罗店)
    year: int | None = None  # --year, for a report that states no year at all

    @property
    def gold(self) -> Path:
        return GOLD / f"{self.path.stem}.json"


CORPUS = [
    CorpusReport(
        ROOT / "geodata/reports/luodian_2024_work_report.txt",
        "shipped",
        "real report, PDF text with page breaks, numbered headings",
        committees=True,
    ),
    CorpusReport(
        TESTS / "data/reports/luojing_2023_work_report.txt",
        "written",
        "full-width forms, footnote, enumerations",
    ),
    CorpusReport(
        TESTS / "data/heldout/yanghang_2021_work_report.txt",
        "blind (earlier; tuned since)",
        "plain numbered headings",
    ),
    CorpusReport(
        TESTS / "data/blind/zhujing_2024_web.txt",
        "blind",
        "web copy, inline headings, furniture; a town in 浙江",
    ),
    CorpusReport(
        TESTS / "data/blind/xinqiao_2021_fiveyear.txt",
        "blind",
        "街道 five-year 换届 report, date in the header only",
    ),
    CorpusReport(
        TESTS / "data/blind/huating_2024_wechat.txt",
        "blind",
        "WeChat digest of a 实事项目 list, no headings",
    ),
    CorpusReport(
        TESTS / "data/blind/meilan_2022_halfyear.txt",
        "blind",
        "PDF-like half-year report, heading over two lines",
    ),
    CorpusReport(
        TESTS / "data/written/chenghu_2024_pdf.txt",
        "written",
        "PDF text with running headers and page footers, 第一部分 headings; 江苏",
    ),
    CorpusReport(
        TESTS / "data/written/linjiang_2024_district.docx",
        "written",
        "district report, .docx with heading styles and a table of 实事项目",
    ),
    CorpusReport(
        TESTS / "data/written/luojing_2024_news.txt",
        "written",
        "news summary of a report, no headings",
    ),
]


def committee_villages() -> dict[str, str]:
    """The real list of Luodian's village committees: vocabulary, not answers."""
    with COMMITTEES.open(encoding="utf-8") as handle:
        names = [row["name"] for row in csv.DictReader(handle)]
    return {n.removesuffix("村委会") + "村": "village" for n in names if n.endswith("村委会")}


def normalise(name: str) -> str:
    name = unicodedata.normalize("NFKC", name)
    return re.sub(r"\s+", "", name).replace("(", "（").replace(")", "）")


@dataclass
class Score:
    precision: float
    recall: float
    year_accuracy: float
    category_accuracy: float
    missed: list[str]
    spurious: list[str]
    extracted: int = 0
    gold: int = 0

    def __str__(self) -> str:
        return (
            f"precision {self.precision:.3f}, recall {self.recall:.3f}, "
            f"year accuracy {self.year_accuracy:.3f}, category accuracy "
            f"{self.category_accuracy:.3f}\nmissed: {self.missed}\nspurious: {self.spurious}"
        )


def score(items: list[Item], gold_path: Path) -> Score:
    """One-to-one matching by name (or a gold alternative), preferring the same year."""
    gold = json.loads(gold_path.read_text("utf-8"))
    names = [{normalise(n) for n in [g["name"], *g.get("alt", [])]} for g in gold]
    unmatched_gold = set(range(len(gold)))
    pairs: list[tuple[Item, dict]] = []
    spurious = []
    for same_year in (True, False):
        remaining = []
        for item in items if same_year else spurious:
            hit = next(
                (
                    i
                    for i in sorted(unmatched_gold)
                    if normalise(item.name) in names[i]
                    and (not same_year or gold[i]["year"] == item.year)
                ),
                None,
            )
            if hit is None:
                remaining.append(item)
            else:
                unmatched_gold.discard(hit)
                pairs.append((item, gold[hit]))
        spurious = remaining
    matched = len(pairs)
    return Score(
        precision=matched / len(items) if items else 0.0,
        recall=matched / len(gold) if gold else 0.0,
        year_accuracy=sum(i.year == g["year"] for i, g in pairs) / matched if matched else 0.0,
        category_accuracy=(
            sum(i.category == g["category"] for i, g in pairs) / matched if matched else 0.0
        ),
        missed=[f"{gold[i]['year']} {gold[i]['name']}" for i in sorted(unmatched_gold)],
        spurious=[f"{i.year} {i.name}" for i in spurious],
        extracted=len(items),
        gold=len(gold),
    )


def score_report(entry: CorpusReport) -> Score:
    """Load, extract and score one corpus report. A report the code rejects scores 0."""
    from luodian_map.errors import InputError
    from luodian_map.extract import extract_items
    from luodian_map.report import load_report

    try:
        report = load_report(entry.path, year=entry.year)
    except InputError as error:
        print(f"{entry.path.name}: rejected: {error}", file=sys.stderr)
        return score([], entry.gold)
    known = committee_villages() if entry.committees else {}
    return score(extract_items(report, known_places=known), entry.gold)


def table(scores: list[tuple[CorpusReport, Score]], *, markdown: bool) -> str:
    head = ("report", "origin", "items", "gold", "precision", "recall", "category", "year")
    rows = [
        (
            e.path.name,
            e.origin,
            str(s.extracted),
            str(s.gold),
            f"{s.precision:.2f}",
            f"{s.recall:.2f}",
            f"{s.category_accuracy:.2f}",
            f"{s.year_accuracy:.2f}",
        )
        for e, s in scores
    ]
    n = len(scores)
    rows.append(
        (
            f"mean of {n}",
            "",
            "",
            "",
            *(
                f"{sum(getattr(s, field) for _, s in scores) / n:.2f}"
                for field in ("precision", "recall", "category_accuracy", "year_accuracy")
            ),
        )
    )
    if markdown:
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        return "\n".join([*lines, *("| " + " | ".join(r) + " |" for r in rows)])
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in [head, *rows]
    )


def main(argv: list[str]) -> int:
    scores = [(entry, score_report(entry)) for entry in CORPUS]
    if "-v" in argv:
        for entry, result in scores:
            print(f"{entry.path.name}: {result}\n")
    print(table(scores, markdown="--markdown" in argv))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
