"""Linking: the same place or project, mentioned in several reports or parts, is one entity.

A planner's question spans years: what was promised for 2025, and what the next report
says was done. Items are linked within a town (光明村 exists in many towns) by gazetteer
identity — two spellings that the gazetteer resolves to one place by name, alias or a
near spelling — or else by their normalised name; the evidence is kept. Phases
("美兰西湖公园一期", "二期") stay distinct entities that point to their parent.

Each entity becomes one feature per year it is mentioned in, with that year's status:
a review of the year outranks the plan for it, a later report outranks an earlier one.
For a year the entity was planned for, ``follow_up`` says what became of the promise.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .categories import FOLLOW_UP_STATES
from .model import Item

if TYPE_CHECKING:
    from .gazetteer import Gazetteer

PHASE = re.compile(r"[（(]?(?:[一二三四五六七八九十]|\d{1,2})期[）)]?$")
DELIVERED, IN_PROGRESS, NOT_MENTIONED, PENDING = FOLLOW_UP_STATES


def _fold_spelling(name: str) -> str:
    """The spelling entities are keyed on: width, spaces, bracket style and the middle dot
    fold away. Narrower than :func:`luodian_map.gazetteer.normalise_name` on purpose (no
    traditional forms or case folding), since entity ids are derived from it and must stay
    stable across releases."""
    name = unicodedata.normalize("NFKC", name)
    return re.sub(r"[\s·•・]", "", name).replace("（", "(").replace("）", ")")


def _entity_id(category: str, town: str | None, key: str) -> str:
    digest = hashlib.sha1(f"{town or ''}|{key}".encode()).hexdigest()[:10]
    return f"{category}-{digest}"


@dataclass
class Entity:
    """One place or project with every mention of it, oldest first."""

    id: str
    key: str
    town: str | None
    category: str
    items: list[Item]
    evidence: list[str] = field(default_factory=list)
    parent: str | None = None  # the parent entity's id, for a phase
    parent_name: str | None = None

    @property
    def name(self) -> str:
        """The latest spelling: what the town calls it now."""
        return self.items[-1].name

    @property
    def names(self) -> list[str]:
        return list(dict.fromkeys(item.name for item in reversed(self.items)))

    def mentions(self) -> list[dict[str, Any]]:
        return [
            {"report": i.report, "year": i.year, "part": i.part, "status": i.status,
             "quote": i.quote}
            for i in self.items
        ]  # fmt: skip

    def years(self) -> list[int]:
        return sorted({item.year for item in self.items})

    def mention_for(self, year: int) -> Item:
        """The mention that speaks for a year: a review over a plan, then the latest report."""
        of_year = [item for item in self.items if item.year == year]
        return max(of_year, key=lambda i: (i.part == "review", _when(i)))

    def follow_up(self, year: int, reviewed_years: set[int]) -> str | None:
        """What became of a promise for ``year``; None if the entity was not promised then."""
        of_year = [item for item in self.items if item.year == year]
        if not any(item.part == "plan" for item in of_year):
            return None
        reviews = [item for item in of_year if item.part == "review"]
        if reviews:
            latest = max(reviews, key=_when)
            return DELIVERED if latest.status == "completed" else IN_PROGRESS
        return NOT_MENTIONED if year in reviewed_years else PENDING


def _when(item: Item) -> tuple[str, int, int]:
    """Report date, then the review part before the plan part, then text order."""
    return (item.report_date or f"{item.year}", item.part != "review", item.span[0])


def link_items(
    items: Sequence[Item], gazetteers: Mapping[str | None, Gazetteer] | None = None
) -> list[Entity]:
    """Group items into entities, town by town, in order of first mention."""
    gazetteers = gazetteers or {}
    groups: dict[tuple[str | None, str], list[Item]] = defaultdict(list)
    evidence: dict[tuple[str | None, str], set[str]] = defaultdict(set)
    for item in sorted(items, key=_when):
        key, why = _link_key(item.name, gazetteers.get(item.town))
        groups[(item.town, key)].append(item)
        evidence[(item.town, key)].add(why)
    entities = []
    for (town, key), members in groups.items():
        category = _category(members)
        entity = Entity(
            _entity_id(category, town, key),
            key,
            town,
            category,
            members,
            sorted(evidence[(town, key)]),
        )
        entities.append(entity)
    _attach_parents(entities, gazetteers)
    return entities


def _link_key(name: str, gazetteer: Gazetteer | None) -> tuple[str, str]:
    """The identity of a name within its town, and why."""
    if gazetteer is not None:
        match = gazetteer.match(name)
        if match is not None and match.method in ("exact", "alias", "fuzzy"):
            place = match.row["name"]
            return f"place:{place}", f"gazetteer {match.method}: {name} → {place}"
    normal = _fold_spelling(name)
    return f"name:{normal}", f"same name: {normal}"


def _category(members: list[Item]) -> str:
    """The category most mentions give; on a tie, the latest mention's."""
    counts = Counter(item.category for item in members)
    best = max(counts.values())
    return next(i.category for i in reversed(members) if counts[i.category] == best)


def _attach_parents(entities: list[Entity], gazetteers: Mapping[str | None, Gazetteer]) -> None:
    """A phase points to its parent, whether or not the parent is mentioned itself."""
    by_key = {(e.town, e.key): e for e in entities}
    for entity in entities:
        base = PHASE.sub("", entity.name)
        if base == entity.name or len(base) < 2:
            continue
        key, _ = _link_key(base, gazetteers.get(entity.town))
        parent = by_key.get((entity.town, key))
        entity.parent = parent.id if parent else _entity_id(entity.category, entity.town, key)
        entity.parent_name = parent.name if parent else base
        entity.evidence.append(f"phase of {entity.parent_name}")


def reviewed_years(items: Sequence[Item]) -> dict[str | None, set[int]]:
    """Per town, the years some report reviews (so silence about a promise means something)."""
    years: dict[str | None, set[int]] = defaultdict(set)
    for item in items:
        if item.part == "review":
            years[item.town].add(item.year)
    return years
