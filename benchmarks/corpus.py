"""Seeded, reproducible synthetic corpora of town government work reports.

    python benchmarks/corpus.py N [--seed S] [--out DIR]

Writes N ``.txt`` reports to DIR (default: a new temporary folder) and prints the folder.
Each report is built from the shipped report (``geodata/reports/``) and the gazetteer:

* the skeleton is the shipped one: title, byline with the meeting date, the two parts
  ("一、YYYY年工作回顾", "二、YYYY+1年目标任务和重点工作"), the "（一）…" headings and the
  paragraph lead phrases ("新旧动能加快转换。");
* each paragraph's body is re-drawn from the sentences of the same part of the shipped
  report, so phrasing, sentence length and density of places stay realistic;
* place names the gazetteer knows are swapped for another name of the same kind (a road for
  a road, a village for a village), or, one time in three, for a new name with the same
  generic tail ("…村", "…路", "…公园"), so that exact, alias, fuzzy and unknown look-ups all
  occur;
* the town and year vary (report i is town i // 11 of 97 suburban Shanghai towns, Luodian
  first, in year 2014 + i % 11: whole towns with consecutive years, no (town, year) twice
  up to 1,067 reports), and so do the meeting date and the figures;
* about one paragraph in four is broken mid-sentence across a blank line, the way
  PDF-extracted text is.

The same N and seed give byte-identical files on any machine (``random.Random`` seeded with
a string is stable across Python versions and runs).
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REPORT = ROOT / "geodata" / "reports" / "luodian_2024_work_report.txt"


def _find_gazetteer() -> Path:
    """The Luodian gazetteer, wherever the project keeps it (the layout has moved before)."""
    geodata = ROOT / "geodata"
    packaged = ROOT / "src" / "luodian_map" / "data" / "towns" / "luodian" / "gazetteer.geojson"
    for path in (
        packaged,
        geodata / "luodian" / "gazetteer.geojson",
        geodata / "gazetteer.geojson",
    ):
        if path.exists():
            return path
    found = sorted(geodata.glob("**/gazetteer.geojson"))
    if not found:
        raise SystemExit(f"no gazetteer.geojson under {geodata}")
    return found[0]


GAZETTEER = _find_gazetteer()

# Towns (镇) of Shanghai's suburban districts, without the 镇; Luodian first. Report i is
# town i // len(YEARS) in year YEARS[i % len(YEARS)]: a corpus holds whole towns, each with
# a run of consecutive yearly reports, and no (town, year) twice up to 97 × 11 reports, as
# a real archive would (a district's 12 towns over 10+ years is ~130 reports).
_DISTRICT_TOWNS = {
    "宝山区": "罗店 月浦 罗泾 顾村 杨行 大场 庙行 淞南 高境",
    "嘉定区": "安亭 马陆 南翔 江桥 华亭 外冈 徐行",
    "青浦区": "朱家角 练塘 金泽 赵巷 徐泾 华新 重固 白鹤",
    "松江区": "泗泾 佘山 车墩 新桥 洞泾 九亭 泖港 石湖荡 新浜 叶榭 小昆山",
    "奉贤区": "南桥 奉城 庄行 金汇 四团 青村 柘林 海湾",
    "金山区": "朱泾 枫泾 张堰 亭林 吕巷 廊下 金山卫 漕泾 山阳",
    "闵行区": "七宝 浦江 梅陇 虹桥 马桥 吴泾 华漕 颛桥 莘庄",
    "浦东新区": "川沙新 高桥 北蔡 合庆 曹路 高行 高东 张江 三林 惠南 周浦 新场 大团 康桥 "
    "航头 祝桥 泥城 宣桥 书院 万祥 老港 金桥",
    "崇明区": "城桥 新河 竖新 向化 三星 港沿 中兴 陈家 绿华 港西 建设 新海 东平 长兴",
}
TOWNS = tuple((d, t) for d, towns in _DISTRICT_TOWNS.items() for t in towns.split())
HOME_DISTRICT, HOME_TOWN = "宝山区", "罗店"
REVIEW_YEAR = 2024
YEARS = range(2014, 2025)
# Share of swapped names replaced by an invented name (unknown to the gazetteer).
NOVEL_SHARE = 1 / 3
BROKEN_PARAGRAPH_SHARE = 0.25

_PART_HEADING = re.compile(r"^[一二三四五六七八九十]+、")
_SECOND_HEADING = re.compile(r"^[（(][一二三四五六七八九十]+[）)]")
_SENTENCE = re.compile(r"[^。！？；]*[。！？；]|[^。！？；]+$")
_ENDS_SENTENCE = re.compile(r"[。！？；：:!?;]\s*$")
_FIGURE = re.compile(r"(?<![0-9.])(\d+(?:\.\d+)?)(?![0-9.])")
_GENERIC_TAILS = tuple(
    sorted(
        ("村", "路", "支路", "公园", "中心", "广场", "镇", "站", "苑", "园", "街", "河", "医院",
         "养老院", "居委会", "小镇", "之心", "湾", "老镇", "古镇", "大居", "监狱", "科技园",
         "产业园", "东部"),
        key=len,
        reverse=True,
    )
)  # fmt: skip


@dataclass
class Paragraph:
    lead: str  # heading or lead phrase kept as written ("" if none)
    count: int  # how many body sentences the shipped paragraph has


@dataclass
class Part:
    heading: str
    paragraphs: list[Paragraph] = field(default_factory=list)
    pool: list[str] = field(default_factory=list)


@dataclass
class Template:
    preamble: list[str]
    parts: list[Part]


def _paragraphs(raw: str) -> list[str]:
    """Lines joined into paragraphs where the shipped PDF text broke them mid-sentence."""
    out: list[str] = []
    joinable = False
    for line in raw.splitlines():
        line = line.strip()
        if not line or line.startswith(("^[", "[")):  # blank or footnote
            continue
        if joinable and out and not _PART_HEADING.match(line):
            out[-1] += line
        else:
            out.append(line)
        joinable = (
            len(out[-1]) > 12
            and not out[-1].startswith("——")  # the byline
            and not _PART_HEADING.match(out[-1])
            and not _ENDS_SENTENCE.search(out[-1])
        )
    return out


def _sentences(paragraph: str) -> list[str]:
    return [s for s in _SENTENCE.findall(paragraph) if s.strip()]


def load_template(report: Path = REPORT) -> Template:
    """The shipped report's skeleton and, per part, its pool of body sentences."""
    paragraphs = _paragraphs(report.read_text("utf-8"))
    preamble: list[str] = []
    parts: list[Part] = []
    for p in paragraphs:
        if _PART_HEADING.match(p):
            parts.append(Part(p))
        elif not parts:
            preamble.append(p)
        else:
            sentences = _sentences(p)
            lead = ""
            first = sentences[0] if sentences else ""
            if _SECOND_HEADING.match(p) or (len(sentences) > 1 and len(first) <= 16):
                lead, sentences = first, sentences[1:]
            parts[-1].paragraphs.append(Paragraph(lead, len(sentences)))
            parts[-1].pool += sentences
    return Template(preamble, parts)


def load_names(gazetteer: Path = GAZETTEER) -> dict[str, list[str]]:
    """Gazetteer names (3+ characters) by kind; roads and villages are what reports name most."""
    by_kind: dict[str, list[str]] = {}
    for feature in json.loads(gazetteer.read_text("utf-8"))["features"]:
        props = feature["properties"]
        if props["kind"] in ("district", "town"):
            continue
        if len(props["name"]) >= 3:
            by_kind.setdefault(props["kind"], []).append(props["name"])
    return {kind: sorted(names) for kind, names in sorted(by_kind.items())}


class Generator:
    """Makes report ``i`` of a corpus from the template, the names and the seed."""

    def __init__(self, seed: int = 0, report: Path = REPORT, gazetteer: Path = GAZETTEER):
        self.seed = seed
        self.template = load_template(report)
        self.names = load_names(gazetteer)
        self.kind_of = {n: k for k, names in self.names.items() for n in names}
        alternation = "|".join(
            re.escape(n) for n in sorted(self.kind_of, key=lambda n: (-len(n), n))
        )
        self.name_pattern = re.compile(alternation)
        chars = {c for n in self.kind_of for c in n if "\u4e00" <= c <= "\u9fff"}
        self.chars = sorted(chars)

    def _novel(self, rng: random.Random, name: str) -> str:
        tail = next((t for t in _GENERIC_TAILS if name.endswith(t) and len(name) > len(t)), "")
        stem = "".join(rng.choice(self.chars) for _ in range(rng.choice((2, 2, 3))))
        return stem + (tail or name[-1])

    def _swap_names(self, rng: random.Random, sentence: str) -> str:
        def swap(m: re.Match[str]) -> str:
            name = m.group(0)
            if rng.random() < NOVEL_SHARE:
                return self._novel(rng, name)
            return rng.choice(self.names[self.kind_of[name]])

        return self.name_pattern.sub(swap, sentence)

    @staticmethod
    def _vary_figures(rng: random.Random, sentence: str) -> str:
        def vary(m: re.Match[str]) -> str:
            text = m.group(1)
            if re.fullmatch(r"20\d\d", text):  # a year: the caller shifts those
                return text
            value = float(text) * rng.uniform(0.5, 1.5)
            if "." in text:
                return f"{value:.{len(text.split('.')[1])}f}"
            return str(max(1, round(value)))

        return _FIGURE.sub(vary, sentence)

    @staticmethod
    def _break_like_pdf(rng: random.Random, paragraph: str) -> str:
        """Split a long paragraph mid-sentence across a blank line, as PDF extraction does."""
        if len(paragraph) < 60 or rng.random() >= BROKEN_PARAGRAPH_SHARE:
            return paragraph
        for _ in range(10):
            cut = rng.randrange(25, len(paragraph) - 25)
            if (
                paragraph[cut - 1] not in "。！？；：，、“”（）《》"
                and paragraph[cut] not in "，。"
            ):
                return paragraph[:cut] + "\n\n" + paragraph[cut:]
        return paragraph

    def report(self, index: int) -> tuple[str, str]:
        """(file name, text) of report ``index``; depends only on the seed and the index."""
        rng = random.Random(f"luodian-bench:{self.seed}:{index}")
        district, town = TOWNS[index // len(YEARS) % len(TOWNS)]
        year = YEARS[index % len(YEARS)]
        shift = year - REVIEW_YEAR

        def localise(text: str) -> str:
            text = re.sub(
                r"20\d\d",
                lambda m: str(int(m.group(0)) + shift) if m.group(0) >= "2020" else m.group(0),
                text,
            )
            if town != HOME_TOWN:
                text = text.replace(HOME_TOWN, town)
            if district != HOME_DISTRICT:
                text = text.replace(HOME_DISTRICT, district).replace(
                    HOME_DISTRICT[:2], district[:2]
                )
            return text

        lines = []
        for line in self.template.preamble:
            if line.startswith("——"):
                day = rng.randint(10, 28)
                line = re.sub(r"\d{4}年\d{1,2}月\d{1,2}日", f"{REVIEW_YEAR}年12月{day}日", line)
            lines.append(localise(line))
        for part in self.template.parts:
            lines.append(localise(part.heading))
            for paragraph in part.paragraphs:
                count = max(1, paragraph.count + rng.randint(-1, 1)) if paragraph.count else 0
                body = [
                    self._vary_figures(rng, self._swap_names(rng, s))
                    for s in rng.sample(part.pool, min(count, len(part.pool)))
                ]
                text = localise(paragraph.lead + "".join(body))
                lines.append(self._break_like_pdf(rng, text))
        name = f"{index:04d}_{town}镇_{year}.txt"
        return name, "\n\n".join(lines) + "\n"


def generate(n: int, out_dir: str | Path | None = None, *, seed: int = 0) -> Path:
    """Write ``n`` synthetic reports to ``out_dir`` (a new temporary folder by default)."""
    out = Path(out_dir) if out_dir else Path(tempfile.mkdtemp(prefix=f"luodian-corpus-{n}-"))
    out.mkdir(parents=True, exist_ok=True)
    generator = Generator(seed)
    for i in range(n):
        name, text = generator.report(i)
        (out / name).write_text(text, encoding="utf-8")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("n", type=int, help="number of reports")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, help="output folder (default: a new temp folder)")
    args = parser.parse_args(argv)
    print(generate(args.n, args.out, seed=args.seed))
    return 0


if __name__ == "__main__":
    sys.exit(main())
