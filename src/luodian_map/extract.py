"""Extraction: find every spatial item a report names, with category, status and figures.

The method is patterns plus a vocabulary (``data/vocabulary.toml``), never a list of one
report's answers. A sentence is cut into clauses at Chinese punctuation, clauses into
segments at enumeration marks (、 等 的 以及 …). In each segment a place name is the
longest run of text that ends in a known suffix (路, 村, 公园, 照料中心 …) and contains
no boundary word (verbs, adverbs, prepositions): in Chinese the words around a name are
what delimit it. Enumerations ("年祥路、泽阳路等4条道路") give their members the head's
category and the stated count; aggregates ("处置564亩低效产业用地") are matched by phrase.
Names the caller already knows (committee list, gazetteer) are found wherever they occur.

Every scan is linear in the length of the text: a place name is at most ``MAX_NAME``
characters, so no scan looks further back for the start of one; a clause longer than
``MAX_CLAUSE`` characters (a list, or not prose at all) is read in pieces cut at an
enumeration mark; a number is matched from the start of its run of digits only.
"""

from __future__ import annotations

import hashlib
import json
import re
import tomllib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from ._process import Mapper, usable_cpus
from .errors import InputError
from .model import Item, Quantity
from .report import SAME_REPORT, Report, Sentence, faithfulness

CLAUSE_BREAK = re.compile(r"[，；：,;:。！？!?]")
CHINESE_DIGITS = dict(zip("零一二三四五六七八九", range(10), strict=True)) | {"两": 2}
CHINESE_NUMERALS = "零一二两三四五六七八九十百千"
# A number starts where its run of numerals starts (the lookbehinds): a regex tried at
# every digit of a long run would take time quadratic in its length.
CHINESE_NUMBER = f"(?<![{CHINESE_NUMERALS}])[{CHINESE_NUMERALS}]+"
ARABIC_NUMBER = r"(?<!\d)\d+(?:\.\d+)?"
CLASSIFIERS = "个|条|处|家|批|所|座|项|块|片"
# The longest place name (the longest of the gold files has 16 characters): a candidate
# longer than this, or than the longest known name, is not a name.
MAX_NAME = 20
# The longest clause read whole (the longest of the test reports has 89 characters): a
# longer one is a list, or no prose at all, and is read in pieces of at most this length.
MAX_CLAUSE = 300
# The longest quote an item carries (the longest sentence of the test reports has 260
# characters): of a longer sentence, the part around the mention, so that a list of
# thousands of names does not copy the whole list into each of its items.
MAX_QUOTE = 300


# Gazetteer kinds whose places a report may name without a suffix-bearing category.
KIND_CATEGORIES = {"village_committee": "village"}


@dataclass(frozen=True)
class Vocabulary:
    """The compiled vocabulary; see ``data/vocabulary.toml`` for what each part means."""

    suffixes: dict[str, str]
    locative_suffixes: dict[str, str]
    facility_kinds: dict[str, str]
    enumeration_heads: dict[str, str]
    phase: re.Pattern[str]
    not_names: frozenset[str]
    generic: re.Pattern[str]
    strict_suffixes: frozenset[str]
    followers: re.Pattern[str]
    venue: re.Pattern[str]
    boundary: re.Pattern[str]
    title: re.Pattern[str]
    completed: re.Pattern[str]
    in_progress: re.Pattern[str]
    partial: re.Pattern[str]
    # (pattern, category, requires a figure, text every match contains)
    aggregates: tuple[tuple[re.Pattern[str], str, bool, str], ...]
    quantity: re.Pattern[str]
    enumeration: re.Pattern[str]


def _alternation(words: Iterable[str]) -> str:
    return "|".join(re.escape(w) for w in sorted(set(words), key=lambda w: (-len(w), w)))


@cache
def load_vocabulary() -> Vocabulary:
    """Load and compile the packaged vocabulary once per process."""
    raw = tomllib.loads(
        resources.files("luodian_map").joinpath("data/vocabulary.toml").read_text("utf-8")
    )
    names, status = raw["names"], raw["status"]
    heads = raw["enumeration_heads"]
    count = rf"(?:(?<!\d)\d+|{CHINESE_NUMBER})"
    return Vocabulary(
        suffixes=raw["suffixes"],
        locative_suffixes=raw["locative_suffixes"],
        facility_kinds=raw["facility_kinds"],
        enumeration_heads=heads,
        phase=re.compile(names["phase_pattern"]),
        not_names=frozenset(names["not_names"]),
        generic=re.compile("|".join(names["generic_parts"])),
        strict_suffixes=frozenset(names["strict_suffixes"]),
        followers=re.compile(_alternation(names["name_followers"])),
        venue=re.compile(_alternation(names["venue_verbs"])),
        boundary=re.compile(
            _alternation(
                names["boundary_words"] + names["title_verbs"] + list(raw["locative_suffixes"])
            )
        ),
        title=re.compile(_alternation(names["title_verbs"])),
        completed=re.compile(_alternation(status["completed"])),
        in_progress=re.compile(_alternation(status["in_progress"])),
        partial=re.compile(status["partial_pattern"]),
        aggregates=tuple(
            (
                pattern := re.compile(a["pattern"]),
                a["category"],
                a.get("requires_figure", False),
                _required_text(pattern),
            )
            for a in raw["aggregates"]
        ),
        quantity=re.compile(
            rf"(?P<num>{ARABIC_NUMBER}|{CHINESE_NUMBER})\s*(?P<mult>万)?多?"
            rf"(?P<unit>{_alternation(raw['quantities']['units'])})"
        ),
        enumeration=re.compile(
            rf"(?:等(?P<count>{count})?(?P<classifier>{CLASSIFIERS})?|"
            rf"(?P<bare>{count})(?P<bare_classifier>{CLASSIFIERS}))"
            rf"[一-龥]{{0,4}}?(?P<head>{_alternation(heads)})(?!级)"  # "村级": an adjective
        ),
    )


def _required_text(pattern: re.Pattern[str]) -> str:
    """The longest literal text every match of ``pattern`` contains ("" if none is certain):
    a clause without it is skipped before the slower regex runs ("…易积水点" → "积水点")."""
    # the standard library's own regex parser; typeshed stubs it only as sre_parse
    from re import _parser  # type: ignore[attr-defined]

    if pattern.flags & re.IGNORECASE:
        return ""
    best = run = ""

    def walk(items: Iterable[tuple[Any, Any]]) -> None:
        nonlocal best, run
        for op, arg in items:
            if op is _parser.LITERAL:
                run += chr(arg)
            elif op is _parser.SUBPATTERN and not arg[1] & re.IGNORECASE:
                walk(arg[-1])  # a group that must match: its text is inline
            else:  # optional, repeated or alternative: ends the run of certain text
                best, run = max(best, run, key=len), ""

    walk(_parser.parse(pattern.pattern, pattern.flags))
    return max(best, run, key=len)


def chinese_number(text: str) -> float | None:
    """Parse "564", "15.6", "七", "二十" or "十二"; None if it is not a number."""
    if DECIMAL.fullmatch(text):
        return float(text)
    total, current = 0, 0
    for char in text:
        if char in CHINESE_DIGITS:
            current = CHINESE_DIGITS[char]
        elif char in "十百千":
            total += (current or 1) * {"十": 10, "百": 100, "千": 1000}[char]
            current = 0
        else:
            return None
    return float(total + current) if text else None


@dataclass
class _Mention:
    """A name found in a clause, before status and quantities are attached."""

    name: str
    category: str
    start: int  # offsets into the clause
    end: int
    kind: str | None = None
    aggregate: bool = False
    stated_count: int | None = None


@dataclass(frozen=True)
class _Enumeration:
    """ "A、B等4条道路": members lie in [start, end), the head after them."""

    start: int
    end: int
    head_end: int
    category: str  # "" when the members are not places (companies, events)
    count: int | None


SEGMENT_BREAK = re.compile(
    r"、|以及|及|与|的|等|和|\[\d+\]|(?<![A-Za-z])\+|\+(?![A-Za-z])|[“”\"'‘’「」《》〈〉—~～/\s]"
    r"|(?<![0-9A-Za-z])-|-(?![0-9A-Za-z])"  # "1-7村", "MLa-07地块" stay whole
)
COUNTED = re.compile(rf"(?P<number>{ARABIC_NUMBER}|{CHINESE_NUMBER})\s*(?:{CLASSIFIERS})")
CJK = re.compile(r"[一-龥]")
DECIMAL = re.compile(r"\d+(?:\.\d+)?")
LISTED_COUNT = re.compile(rf"[等共]?{COUNTED.pattern}")  # "等4个", "共3处"
PARENTHESES = re.compile(r"[（(][^（）()]*[）)]")
WORD_GOES_ON = re.compile(r"[一-龥”\"」]")
DIGITS = re.compile(r"[\d零一二两三四五六七八九十-]")
NUMBERED = re.compile(r"\d号$")
WORDS = re.compile(r"[一-龥A-Za-z]")
PHASED = re.compile(r"(?:[一二三四五六七八九十]|\d{1,2})期")
INNER_ACRONYM = re.compile(r"(?<=[一-龥])[A-Z]{2,}(?=[一-龥])")
# Quoted text names brands, slogans, programmes and titles ("博爱家园", "美兰湖、创新药");
# the only places a report quotes are coined district names ("美兰湖之心").
QUOTED = re.compile(r"[“\"「]([^“”\"「」]*)[”\"」]")


def _inside(mention: _Mention, spans: list[tuple[int, int]], *, partly: bool = False) -> bool:
    """Whether the mention lies in one of ``spans``; with ``partly``, only when it does
    not fill the whole span (a coined district name is quoted whole: "美兰湖之心")."""
    return any(
        start <= mention.start
        and mention.end <= end
        and not (partly and (start + 1, end - 1) == (mention.start, mention.end))
        for start, end in spans
    )


class _ClauseReader:
    """Finds the mentions of one clause; holds the vocabulary and the known names."""

    def __init__(self, vocabulary: Vocabulary, known: dict[str, str], town: str | None):
        self.vocab = vocabulary
        self.known = known
        self.known_pattern = re.compile(_alternation(known)) if known else None
        self.suffix_pattern = re.compile(
            f"(?:{_alternation(vocabulary.suffixes)})(?:{vocabulary.phase.pattern})?"
        )
        # the suffix_pattern match at every offset, found in one scan (lookahead)
        self.suffix_at = re.compile(f"(?=({self.suffix_pattern.pattern}))")
        self.suffix_lengths = sorted({len(s) for s in vocabulary.suffixes}, reverse=True)
        self.facility_nouns = sorted(vocabulary.facility_kinds, key=len, reverse=True)
        self._categories: dict[str, tuple[str | None, str | None]] = {}
        self.locative_pattern = re.compile(_alternation(vocabulary.locative_suffixes))
        self.town = town
        # the longest a candidate may be: a name (or the longest known one) and "项目",
        # which _name_at may cut off it; its start is looked for no further back than
        # name_window, which leaves room for the boundary word before it
        self.longest_name = max([MAX_NAME, *map(len, known)]) + len("项目")
        self.name_window = 2 * self.longest_name
        # text every aggregate match contains (None: some pattern may match anything)
        texts = [text for _, _, _, text in vocabulary.aggregates]
        self.aggregate_texts = re.compile(_alternation(texts)) if all(texts) else None

    def mentions(self, clause: str) -> list[_Mention]:
        if not self._may_name_a_place(clause):
            return []
        found = self._aggregates(clause)
        enumerations = self._enumerations(clause)
        remarks = self._remarks(clause)
        taken = [(m.start, m.end) for m in found] + remarks
        for start, end in self._segments(clause, enumerations, taken):
            listed = next((e for e in enumerations if e.start <= start < e.end), None)
            if listed and not listed.category:
                continue
            names = self._names_in(clause, start, end)
            if not names and found:
                names = self._sharing_prefix(clause, start, end, found[-1])
            if not names and listed:
                names = self._bare_member(clause, start, end, listed.category)
            if listed:
                for mention in names:
                    if mention.category == listed.category:  # "新镇东部6条道路": not 6 areas
                        mention.stated_count = listed.count
            found += names
        found += self._known_names(clause, [(m.start, m.end) for m in found] + remarks)
        quotes = list(QUOTED.finditer(clause))
        quoted = [m.span() for m in quotes]
        slogans = [m.span() for m in quotes if self._is_slogan(clause, m)]
        return sorted(
            (
                m
                for m in found
                if not _inside(m, slogans)
                and not _inside(m, quoted, partly=m.category == "area")
                and not self._is_venue(clause, m)
            ),
            key=lambda m: m.start,
        )

    def _is_venue(self, clause: str, mention: _Mention) -> bool:
        """ "在镇市民中心开幕": where a meeting or event takes place."""
        return clause[mention.start - 1 : mention.start] == "在" and bool(
            self.vocab.venue.search(clause, mention.end)
        )

    def _is_slogan(self, clause: str, quote: re.Match[str]) -> bool:
        """A quoted pair of phrases ("幸福新桥·品质街区") or a quote followed by a head that is
        not a place ("…”品牌"): a slogan or a programme, even when it sounds like a district."""
        return "·" in quote.group(1) or any(
            clause.startswith(head, quote.end())
            for head, category in self.vocab.enumeration_heads.items()
            if not category
        )

    def _may_name_a_place(self, clause: str) -> bool:
        """Whether any way of finding a mention has something to start from: a suffix, an
        enumeration, a known name or an aggregate's text. Most clauses have none, and
        are done after these few scans."""
        return bool(
            self.suffix_pattern.search(clause)
            or self.locative_pattern.search(clause)
            or PHASED.search(clause)
            or self.vocab.enumeration.search(clause)
            or (self.known_pattern and self.known_pattern.search(clause))
            or self.aggregate_texts is None
            or self.aggregate_texts.search(clause)
        )

    def _aggregates(self, clause: str) -> list[_Mention]:
        found: list[_Mention] = []
        has_figure = self.vocab.quantity.search(clause) is not None
        for pattern, category, requires_figure, required in self.vocab.aggregates:
            if (requires_figure and not has_figure) or required not in clause:
                continue
            for match in pattern.finditer(clause):
                group = "name" if "name" in pattern.groupindex else 0
                start, end = match.span(group)
                if "place" in pattern.groupindex and match["place"]:
                    lead = self.vocab.boundary.finditer(clause, *match.span("place"))
                    start = max([start, *(b.end() for b in lead if len(b.group()) > 1)])
                    place = clause[start : match.end("place")]
                    if place in self.vocab.not_names or self.vocab.generic.search(place):
                        start = match.end("place")  # "城区5处易积水点": no place named
                counted = COUNTED.search(clause, start, end)
                name = LISTED_COUNT.sub("", clause[start:end])
                if not any(m.start <= start < m.end for m in found):
                    stated = int(chinese_number(counted["number"]) or 0) if counted else None
                    found.append(
                        _Mention(
                            name, category, start, end, aggregate=True, stated_count=stated or None
                        )
                    )
        return found

    def _enumerations(self, clause: str) -> list[_Enumeration]:
        found = []
        previous_end = 0
        for match in self.vocab.enumeration.finditer(clause):
            members = clause[previous_end : match.start()]
            if "、" not in members and not CJK.search(members[-2:] or "x"):
                continue
            if match["bare"] and clause[match.start() - 1 : match.start()] == "第":
                continue  # "第六批": an ordinal, not a count
            count = match["count"] or match["bare"]
            batch = "批" in (match["classifier"], match["bare_classifier"])
            value = chinese_number(count) if count and not batch else None
            found.append(
                _Enumeration(
                    previous_end,
                    match.start(),
                    match.end(),
                    self.vocab.enumeration_heads[match["head"]],
                    int(value) if value else None,
                )
            )
            previous_end = match.end()
        return found

    def _segments(
        self, clause: str, enumerations: list[_Enumeration], taken: list[tuple[int, int]]
    ) -> Iterator[tuple[int, int]]:
        """Spans between enumeration marks, without enumeration heads and the ``taken``
        spans (aggregates, remarks in ()).

        "和" splits only after a place suffix ("潘川路和富锦路") or between list members of
        two or more characters, not inside a name ("嘉和智能").
        """
        cuts = [(e.end, e.head_end) for e in enumerations] + taken
        previous = 0
        for match in SEGMENT_BREAK.finditer(clause):
            listed = any(e.start <= match.start() < e.end for e in enumerations)
            if match.group() == "和" and (
                match.start() - previous < 2
                or (
                    not listed
                    and not self.suffix_pattern.search(
                        clause[max(0, match.start() - 6) : match.start()] + "\0"
                    )
                )
            ):
                continue
            cuts.append(match.span())
            previous = match.end()
        position = 0
        for start, end in sorted(cuts):
            if start > position:
                yield position, start
            position = max(position, end)
        if position < len(clause):
            yield position, len(clause)

    def _remarks(self, clause: str) -> list[tuple[int, int]]:
        """Spans in parentheses that are remarks, not phases: "（潘泾路-潘泾河）"."""
        return [
            m.span()
            for m in PARENTHESES.finditer(clause)
            if not self.vocab.phase.fullmatch(m.group())
        ]

    def _names_in(self, clause: str, start: int, end: int) -> list[_Mention]:
        """The names in clause[start:end], right to left: each is the longest that ends
        in a suffix and has no boundary word inside."""
        text = clause[start:end]
        spans = (
            {m.span(1) for m in self.suffix_at.finditer(text)}
            | {m.span() for m in self.locative_pattern.finditer(text) if m.start()}
            | {m.span() for m in PHASED.finditer(text) if m.start()}
        )
        # last first: the end of the list is the suffix that ends last (the longest of them)
        candidates = sorted(((start + a, start + b) for a, b in spans), key=lambda s: (s[1], -s[0]))
        names = []
        while end > start and (mention := self._rightmost_name(clause, start, end, candidates)):
            names.append(mention)
            end = mention.start
        return names[::-1]

    def _rightmost_name(
        self, clause: str, start: int, end: int, candidates: list[tuple[int, int]]
    ) -> _Mention | None:
        """The name that ends last in clause[start:end]; ``candidates`` are the suffix spans
        of the segment, the last at the end of the list: those tried are removed, so the
        names of a segment are found in one pass over its suffixes."""
        while candidates:
            suffix_start, suffix_end = candidates.pop()
            if suffix_end > end:  # inside a name already found
                continue
            if mention := self._name_at(clause, start, end, suffix_start, suffix_end):
                return mention
        return None

    def _name_at(
        self, clause: str, start: int, end: int, suffix_start: int, suffix_end: int
    ) -> _Mention | None:
        """The name in clause[start:end] that ends in the suffix clause[suffix_start:
        suffix_end], if it is one; looks back at most ``name_window`` characters."""
        if not self._ends_word(clause, suffix_start, suffix_end):
            return None
        if self._inside_a_word(clause, suffix_start, suffix_end, start, end):
            return None  # "欢迎广大居民": the suffix 大居 starts inside 广大
        lead = max(start, suffix_start - self.name_window)
        name_start = lead + self._name_start(clause[lead:suffix_start], suffix_start - lead)
        if self._is_title(clause, name_start):
            return None
        # a count shortly before the name counts it ("5个居民区家门口养老服务站")
        counts = [*COUNTED.finditer(clause, max(start, name_start - 6), suffix_start)]
        if counts and counts[-1].end() > name_start:
            name_start = counts[-1].end()
        if suffix_end - name_start > self.longest_name:
            return None  # too long to be a name, however it is cut
        if clause.endswith("项目", start, suffix_end) and self._longest_suffix(
            self.vocab.phase.sub("", clause[name_start : suffix_end - 2])
        ) not in ("", "项目"):
            suffix_end -= 2  # "梅澜生物医药产业园项目": the park is the place
        name = clause[name_start:suffix_end]
        category, kind = self._categorise(name)
        after = COUNTED.match(clause, suffix_end, end)  # "企业技术中心7家", not "盘古路两条断头路"
        count = (
            counts[-1]
            if counts
            else (after if after and not CJK.match(clause, after.end(), end) else None)
        )
        if not category or not self._valid(name, category, counted=count is not None):
            return None
        mention = _Mention(name, category, name_start, suffix_end, kind)
        if count is not None and category in ("facility", "park"):  # "新建更新7处健身苑"
            mention.aggregate = True
            mention.stated_count = int(chinese_number(count["number"]) or 0) or None
        elif count is not None:
            return None
        return mention

    def _inside_a_word(self, text: str, start: int, end: int, lo: int, hi: int) -> bool:
        """Whether the suffix text[start:end] is part of a boundary word within text[lo:hi]:
        one that starts before it and ends inside it ("广大居民"), or starts with it and
        goes on ("农田水利")."""
        words = self.vocab.boundary.finditer(text, max(lo, start - 3), min(hi, end + 4))
        return any(
            w.start() < start < w.end() or (w.start() == start < end < w.end()) for w in words
        )

    def _ends_word(self, text: str, suffix_start: int, suffix_end: int) -> bool:
        """A one-character suffix ends a name only where the word ends too."""
        suffix = self.vocab.phase.sub("", text[suffix_start:suffix_end])
        if suffix not in self.vocab.strict_suffixes or not WORD_GOES_ON.match(text, suffix_end):
            return True
        return bool(
            self.vocab.boundary.match(text, suffix_end)
            or self.vocab.followers.match(text, suffix_end)
            or self.suffix_pattern.match(text, suffix_end)
            or COUNTED.match(text, suffix_end)
        )

    def _name_start(self, text: str, suffix_start: int) -> int:
        """After the last boundary word before the suffix (and any acronym inside it)."""
        start = 0
        verb = True  # what ends at ``start`` is a verb, or nothing
        for match in self.vocab.boundary.finditer(text, 0, suffix_start):
            if match.group() == "和" and match.start() - start < 2 and verb:
                continue  # "推进和黄医药…", "嘉和智能": a conjunction joins two words
            start = match.end()
            verb = bool(
                self.vocab.completed.fullmatch(match.group())
                or self.vocab.in_progress.fullmatch(match.group())
            )
        for match in INNER_ACRONYM.finditer(text, start, suffix_start):
            start = match.end()
        return start

    def _is_title(self, clause: str, name_start: int) -> bool:
        """ "获评…", "入围上海市级…": what follows such a verb is a title, not a place."""
        return bool(self.vocab.title.search(clause[max(0, name_start - 8) : name_start]))

    def _longest_suffix(self, bare: str) -> str:
        """The longest vocabulary suffix ``bare`` ends in, or ""."""
        for length in self.suffix_lengths:
            if bare[-length:] in self.vocab.suffixes:
                return bare[-length:]
        return ""

    def _categorise(self, name: str) -> tuple[str | None, str | None]:
        """Category and kind by suffix; memoised, as candidates repeat within a report."""
        if name not in self._categories:
            self._categories[name] = self._categorise_by_suffix(name)
        return self._categories[name]

    def _categorise_by_suffix(self, name: str) -> tuple[str | None, str | None]:
        bare = self.vocab.phase.sub("", name) or name
        for suffix, category in self.vocab.locative_suffixes.items():
            if bare.endswith(suffix) and len(bare) > len(suffix):
                stem_category, kind = self._categorise(bare[: -len(suffix)])
                return (stem_category or category), kind
        suffix = self._longest_suffix(bare)
        if not suffix:  # "启明星材料一期": a phase makes a project of a bare name
            return ("industry", None) if bare != name and PHASED.search(name) else (None, None)
        if suffix == "项目" and len(bare) > 2:
            inner = self._categorise(bare[:-2])
            if inner[0]:
                return inner
        return self.vocab.suffixes[suffix], self.vocab.facility_kinds.get(suffix)

    def _valid(self, name: str, category: str, *, counted: bool = False) -> bool:
        """Whether a candidate is a place name; a counted facility may be generic
        ("新建更新7处健身苑" is an aggregate of unnamed facilities)."""
        bare = self.vocab.phase.sub("", name)
        if name in self.known:
            return True
        if not 2 <= len(name) <= MAX_NAME or name == self.town or self.vocab.generic.search(name):
            return False
        if counted and category in ("facility", "park"):
            return True
        stems = {name, bare, bare.removesuffix("项目")} | {
            bare.removesuffix(s) for s in self.vocab.locative_suffixes if bare.endswith(s)
        }
        if stems & self.vocab.not_names:
            return False
        if category == "village" and "村" in bare:
            stem = bare[: bare.index("村")]  # "七里桥", "万安1-7": not only a numeral
            return 2 <= len(CJK.findall(stem)) <= 4 and DIGITS.sub("", stem) != ""
        if category == "village" or (bare.endswith("号") and not NUMBERED.search(bare)):
            return False
        suffix = self._longest_suffix(bare)
        return len(bare) - len(suffix) >= (2 if len(suffix) <= 1 or suffix == "项目" else 1)

    def _sharing_prefix(
        self, clause: str, start: int, end: int, previous: _Mention
    ) -> list[_Mention]:
        """ "新镇东部九年一贯制学校和幼儿园": a generic facility listed after a located one
        shares its place ("新镇东部幼儿园")."""
        if previous.category != "facility" or previous.end > start:
            return []
        text = clause[start:end]
        noun = next((s for s in self.facility_nouns if text.startswith(s)), None)
        if noun is None:
            return []
        for cut in range(len(previous.name) - 1, 1, -1):
            prefix = previous.name[:cut]
            category, _ = self._categorise(prefix)
            if category not in (None, "facility") and self._valid(prefix, category):
                return [
                    _Mention(
                        prefix + noun,
                        "facility",
                        start,
                        start + len(noun),
                        self.vocab.facility_kinds[noun],
                    )
                ]
        return []

    def _bare_member(self, clause: str, start: int, end: int, category: str) -> list[_Mention]:
        """A listed member without a suffix ("禄巨、蓝鹊等项目") takes the head's category."""
        text = clause[start:end]
        name_start = self._name_start(text, len(text))
        if self._is_title(clause, start + name_start) or COUNTED.search(text, name_start):
            return []
        name = text[name_start:]
        if not 2 <= len(name) <= 12 or name in self.vocab.not_names:
            return []
        if self.vocab.generic.search(name) or not WORDS.search(name):
            return []
        return [_Mention(name, category, start + name_start, end)]

    def _known_names(self, clause: str, taken: list[tuple[int, int]]) -> list[_Mention]:
        if not self.known_pattern:
            return []
        found: list[_Mention] = []
        for match in self.known_pattern.finditer(clause):
            start, end = match.span()
            spans = taken + [(m.start, m.end) for m in found]
            overlaps = any(s < end and start < e for s, e in spans)
            if not overlaps and self._ends_word(clause, end - 1, end):
                found.append(_Mention(match.group(), self.known[match.group()], start, end))
        return found


def _clauses(sentence: Sentence) -> Iterator[tuple[int, str]]:
    """The clauses of a sentence and their offsets, none longer than ``MAX_CLAUSE``."""
    start = 0
    for match in CLAUSE_BREAK.finditer(sentence.text):
        yield from _pieces(start, sentence.text[start : match.start()])
        start = match.end()
    if start < len(sentence.text):
        yield from _pieces(start, sentence.text[start:])


def _pieces(offset: int, clause: str) -> Iterator[tuple[int, str]]:
    """A clause in pieces of at most ``MAX_CLAUSE`` characters, each cut after the last
    "、" (else the last enumeration mark) that leaves it longer than a name; a clause with
    neither is cut at the limit."""
    start = 0
    while len(clause) - start > MAX_CLAUSE:
        limit = start + MAX_CLAUSE
        cut = clause.rfind("、", start + MAX_NAME, limit) + 1
        if not cut:
            marks = [m.end() for m in SEGMENT_BREAK.finditer(clause, start + MAX_NAME, limit)]
            cut = marks[-1] if marks else limit
        yield offset + start, clause[start:cut]
        start = cut
    yield offset + start, clause[start:]


def _status(vocab: Vocabulary, part: str, clause: str, mention: _Mention) -> str:
    """Plan items are planned; review items take the nearest verb, after the name first."""
    if part == "plan":
        return "planned"
    after, before = clause[mention.end :], clause[: mention.start]
    if vocab.partial.search(after):
        return "in_progress"
    hits = []
    for status, pattern in (("completed", vocab.completed), ("in_progress", vocab.in_progress)):
        for match in pattern.finditer(after):
            hits.append((0, match.start(), status))
        for match in pattern.finditer(before):
            hits.append((1, len(before) - match.end(), status))
    return min(hits)[2] if hits else "completed"


def _quantities(
    vocab: Vocabulary, clause: str, mentions: list[_Mention]
) -> dict[int, list[Quantity]]:
    """Attach each figure of a clause to the nearest mention (a stated count is not one)."""
    attached: dict[int, list[Quantity]] = {}
    if not mentions:
        return attached
    for match in vocab.quantity.finditer(clause):
        value = chinese_number(match["num"])
        if value is None or clause[match.end() : match.end() + 1] in ("%", "％"):
            continue
        if (
            any(m.stated_count and m.end <= match.start() for m in mentions)
            and match.start() > 0
            and clause[max(0, match.start() - 1)] == "等"
        ):
            continue
        if match["mult"]:
            value *= 10000
        nearest = min(
            range(len(mentions)),
            key=lambda i: (
                max(mentions[i].start - match.end(), match.start() - mentions[i].end, 0),
                mentions[i].start < match.start(),
            ),
        )
        quantity = Quantity(round(value, 6), match["unit"], match.group().replace(" ", ""))
        attached.setdefault(nearest, []).append(quantity)
    return attached


def _canonical(name: str, known: dict[str, str]) -> str:
    """One key for a name and the known names it is a one-character misprint of
    ("東里桥村" / "束里桥村"): the smallest spelling of the group, so it is the same for all."""
    if len(name) < 3:
        return name
    close = [
        k
        for k in known
        if len(k) == len(name)
        and k[-1] == name[-1]
        and sum(a != b for a, b in zip(k, name, strict=True)) <= 1
    ]
    return min([name, *close])


def _quote(sentence: str, start: int, end: int) -> str:
    """``sentence``, or its :data:`MAX_QUOTE` characters around ``start:end``, with "…"
    where it was cut."""
    if len(sentence) <= MAX_QUOTE:
        return sentence
    left = max(0, min(start - (MAX_QUOTE - (end - start)) // 2, len(sentence) - MAX_QUOTE))
    right = left + max(MAX_QUOTE, end - start)
    return ("…" if left else "") + sentence[left:right] + ("…" if right < len(sentence) else "")


def extract_items(report: Report, *, known_places: dict[str, str] | None = None) -> list[Item]:
    """Every spatial item of ``report``, one per (name, category, year), in text order.

    ``known_places`` maps names the caller knows (committee list, gazetteer) to their
    category; they are found wherever they occur, in addition to the patterns.
    """
    vocab = load_vocabulary()
    known = dict(known_places or {})
    reader = _ClauseReader(vocab, known, report.town)
    items: dict[tuple[str, str, int], Item] = {}
    spellings: dict[str, str] = {}  # name → _canonical(name), which compares with all known
    for sentence in report.sentences:
        if sentence.part not in ("review", "plan") or sentence.year is None:
            continue
        if sentence.text.rstrip("。；：") in sentence.section:  # a heading, not a task
            continue
        for clause_start, clause in _clauses(sentence):
            mentions = reader.mentions(clause)
            figures = _quantities(vocab, clause, mentions)
            for index, mention in enumerate(mentions):
                if mention.name not in spellings:
                    spellings[mention.name] = _canonical(mention.name, known)
                key = (spellings[mention.name], mention.category, sentence.year)
                offset = sentence.start + clause_start
                quantities = figures.get(index, [])
                if key in items:
                    first = items[key]
                    first.quantities += [q for q in quantities if q not in first.quantities]
                    continue
                items[key] = Item(
                    name=mention.name,
                    category=mention.category,
                    year=sentence.year,
                    status=_status(vocab, sentence.part, clause, mention),
                    report=report.id,
                    part=sentence.part,
                    section=" / ".join(sentence.section),
                    quote=_quote(
                        sentence.text, clause_start + mention.start, clause_start + mention.end
                    ),
                    span=(offset + mention.start, offset + mention.end),
                    quantities=list(quantities),
                    kind=mention.kind,
                    aggregate=mention.aggregate,
                    stated_count=mention.stated_count,
                    town=report.town,
                    district=report.district,
                    report_date=report.date,
                )
    return list(items.values())


def known_places(gazetteer: Path | None) -> dict[str, str]:
    """Names (and aliases) from a gazetteer GeoJSON, mapped to their category.

    Read with the json module: extraction needs only the names, not the geometries.
    A missing file gives no names; a broken one is an error. Read once per version of the
    file and process, as every report of its town needs them.
    """
    if gazetteer is None or not gazetteer.exists():
        return {}
    return dict(_known_places(gazetteer, _version(gazetteer)))


def _version(path: Path) -> tuple[int, int]:
    """Modification time and size: a change to the file changes them."""
    stat = path.stat()
    return stat.st_mtime_ns, stat.st_size


@cache
def _known_places(gazetteer: Path, _version: tuple[int, int]) -> dict[str, str]:
    try:
        features = json.loads(gazetteer.read_text("utf-8"))["features"]
    except (ValueError, KeyError, TypeError) as error:
        raise InputError(f"{gazetteer}: not a GeoJSON FeatureCollection ({error})") from None
    known: dict[str, str] = {}
    for feature in features:
        props = feature.get("properties") or {}
        category = props.get("category") or KIND_CATEGORIES.get(props.get("kind") or "")
        if category:
            for name in [props.get("name"), *(props.get("aliases") or [])]:
                if name and _distinctive(name):
                    known.setdefault(name, category)
    return known


def _distinctive(name: str) -> bool:
    """A gazetteer name worth finding anywhere in a text: not a generic word ("古镇")."""
    vocab = load_vocabulary()
    stem = vocab.phase.sub("", name)
    for suffix in vocab.locative_suffixes:
        stem = stem.removesuffix(suffix) or stem
    return len(stem) >= 3 and stem not in vocab.not_names and not vocab.generic.search(stem)


# Below this many reports to extract, starting worker processes costs more than it saves.
PARALLEL_FROM = 8


def extract_reports(
    paths: list[Path],
    gazetteers: dict[str | None, Path],
    *,
    year: int | None = None,
    cache_dir: Path,
    workers: int | None = None,
    strict: bool = False,
    warn: Callable[[str], None] | None = None,
    mapper: Mapper | None = None,
) -> list[tuple[list[Item], bool]]:
    """The items of every report, in the order given, and whether the cache answered.

    A report is re-extracted only when its text, a gazetteer, the vocabulary or this code
    changed since the last run. Reports the cache cannot answer are extracted by
    ``mapper`` (one job per report, e.g. for a Dask cluster) if given, else by ``workers``
    processes (default: one per CPU) when there are at least ``PARALLEL_FROM`` of them, as
    reports are independent; the first that fails raises its error, as a serial run would.
    A report whose items are those of another report (the same report in another format
    or under another name) gives no items, and ``warn`` is told which was read.
    What had to be guessed for a report (no part headings, the year from ``year``) and a
    report without items are passed to ``warn``, one line each; with ``strict`` the first
    of them is an :class:`InputError`.
    """
    sources = _sources_digest(tuple(gazetteers[t] for t in sorted(gazetteers, key=str)))
    keys = [_cache_key(Path(path), year, sources) for path in paths]
    files = [_cache_file(cache_dir, Path(path)) for path in paths]
    cached = [_read_cache(file, key) for file, key in zip(files, keys, strict=True)]
    todo = [i for i, found in enumerate(cached) if found is None]
    workers = min(workers or usable_cpus(), len(todo))
    jobs = [(Path(paths[i]), gazetteers, year, files[i], keys[i]) for i in todo]
    if mapper is not None and todo:
        fresh = dict(zip(todo, mapper(_extract_and_store, jobs), strict=True))
    elif workers > 1 and len(todo) >= PARALLEL_FROM:
        fresh = dict(zip(todo, _in_processes(jobs, workers), strict=True))
    else:
        fresh = dict(zip(todo, map(_extract_and_store, jobs), strict=True))
    results = [
        (fresh[i], False) if found is None else (found, True) for i, found in enumerate(cached)
    ]
    for (_, notes), _ in results:
        if strict and notes:
            raise InputError(f"{notes[0]} (--strict)")
        if warn:
            for note in notes:
                warn(note)
    copies = _copies([Path(path) for path in paths], [items for (items, _), _ in results], warn)
    return [
        ([] if i in copies else items, cached) for i, ((items, _), cached) in enumerate(results)
    ]


def _copies(
    paths: list[Path], found: list[list[Item]], warn: Callable[[str], None] | None
) -> set[int]:
    """The reports that are a copy of another under another name (a .pdf printed from the
    .txt): the same items, by name, category and year. Of each set of copies all but the
    most faithful format (then the first) are dropped, one line to ``warn`` each."""
    groups: dict[frozenset[tuple[str, str, int]], list[int]] = {}
    for index, items in enumerate(found):
        if items:
            key = frozenset((i.name, i.category, i.year) for i in items)
            groups.setdefault(key, []).append(index)
    dropped: set[int] = set()
    for indices in groups.values():
        kept = min(indices, key=lambda i: (faithfulness(paths[i]), i))
        for index in sorted(set(indices) - {kept}):
            dropped.add(index)
            if warn:
                warn(
                    f"{paths[kept]} and {paths[index]} are the same report (the same "
                    f"{len(found[index])} items); " + SAME_REPORT.format(kept=paths[kept].name)
                )
    return dropped


def _in_processes(jobs: list[_Job], workers: int) -> list[tuple[list[Item], list[str]]]:
    from concurrent.futures.process import BrokenProcessPool

    from ._process import CAN_TIE, tied_pool
    from .errors import LuodianMapError

    # fork where its workers can be tied to this process: half the time of spawn, which
    # imports everything again in each worker (benchmarks/processes.py)
    executor = tied_pool(workers, "fork" if CAN_TIE else "spawn")
    try:
        # small chunks: reports differ in length, and the results come back in order
        return list(executor.map(_extract_and_store, jobs, chunksize=4))
    except BrokenProcessPool as error:
        raise LuodianMapError(f"an extraction process stopped unexpectedly ({error})") from None
    finally:
        executor.shutdown(wait=True, cancel_futures=True)


def _cache_key(path: Path, year: int | None, sources: str) -> str:
    digest = hashlib.sha256(path.read_bytes())
    digest.update(f"|{year}|{sources}".encode())
    return digest.hexdigest()


def _cache_file(cache_dir: Path, path: Path) -> Path:
    """Where the extraction of ``path`` is kept: one file per report, named by the report
    and the folder it is in, so reports of one name in two folders keep an entry each."""
    folder = hashlib.sha256(str(path.resolve().parent).encode()).hexdigest()[:12]
    return cache_dir / f"{path.stem}-{folder}.json"


def _read_cache(file: Path, key: str) -> tuple[list[Item], list[str]] | None:
    try:
        data = json.loads(file.read_text("utf-8"))
        if data["key"] == key:
            return [Item.from_dict(entry) for entry in data["items"]], list(data["notes"])
    except (OSError, ValueError, KeyError, TypeError):
        pass  # no cache or a stale or damaged one: extract again
    return None


# one report to extract: (report, gazetteer per town, year, cache file, cache key)
_Job = tuple[Path, dict[str | None, Path], int | None, Path, str]


def _extract_and_store(
    job: _Job,
) -> tuple[list[Item], list[str]]:
    """Extract one report and keep its items and notes in the cache (runs in a worker
    process, or as a task on a cluster whose workers see the same files)."""
    from ._io import write_atomic
    from .report import load_report

    path, gazetteers, year, cache, key = job
    report = load_report(path, year=year)
    items = extract_items(report, known_places=known_places(gazetteers.get(report.town)))
    notes = [*report.notes, *([] if items else [_nothing_found(report)])]
    payload = {"key": key, "items": [item.to_dict() for item in items], "notes": notes}
    write_atomic(cache, json.dumps(payload, ensure_ascii=False))
    return items, notes


def _nothing_found(report: Report) -> str:
    """Where a report without items was looked at, for the one line that says so."""
    parts = ", ".join(f"{p.kind} {p.year} ('{p.heading or 'whole text'}')" for p in report.parts)
    read = sum(s.part != "other" for s in report.sentences)
    return (
        f"{report.path or report.id}: no spatial items found in {read} sentences of "
        f"{parts or 'no part'} (looked for names ending in a place suffix such as 路, 村, "
        "公园, 项目, lists such as 'A、B等项目', and figures such as 低效用地, 减量化)"
    )


def _sources_digest(gazetteers: tuple[Path, ...]) -> str:
    """One digest of the gazetteers and of what extraction depends on besides its inputs,
    computed once per run and folded into every report's key."""
    digest = hashlib.sha256()
    for source in (*gazetteers, *_code_files()):
        digest.update(Path(source).read_bytes())
    return digest.hexdigest()


def _code_files() -> list[Path]:
    """What extraction depends on besides its inputs."""
    package = Path(__file__).parent
    return [package / "report.py", package / "extract.py", package / "model.py",
            package / "data" / "vocabulary.toml",
            package / "data" / "unicode" / "EquivalentUnifiedIdeograph.txt"]  # fmt: skip
