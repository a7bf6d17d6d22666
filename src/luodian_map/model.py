"""The item: the contract between extraction and every later stage.

An :class:`Item` is one spatial mention found in a report. It is plain data so it can be
written to ``items.json`` and read back unchanged; geocoding turns items into features.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, fields
from typing import Any

from .categories import CATEGORIES, STATUSES


@dataclass(frozen=True)
class Quantity:
    """A number with its unit as the report states it ("564 亩")."""

    value: float
    unit: str
    text: str

    def to_dict(self) -> dict[str, Any]:
        value: float | int = int(self.value) if float(self.value).is_integer() else self.value
        return {"value": value, "unit": self.unit, "text": self.text}


@dataclass
class Item:
    """One place, project or aggregate named in a report."""

    name: str
    category: str
    year: int
    status: str
    report: str
    part: str  # "review" (what was done) or "plan" (what will be done)
    section: str  # heading path, " / "-joined
    quote: str  # the whole sentence the item comes from
    span: tuple[int, int]  # character offsets of the name (or trigger) in Report.text
    quantities: list[Quantity] = field(default_factory=list)
    kind: str | None = None  # sub-kind, e.g. "elderly" for a facility
    aggregate: bool = False  # a figure without a place ("处置564亩低效产业用地")
    stated_count: int | None = None  # "等4条道路": how many the report says there are
    town: str | None = None
    district: str | None = None
    report_date: str | None = None  # ISO date of the report, to order mentions in time

    def __post_init__(self) -> None:
        if self.category not in CATEGORIES:
            raise ValueError(f"unknown category {self.category!r}")
        if self.status not in STATUSES:
            raise ValueError(f"unknown status {self.status!r}")

    @property
    def id(self) -> str:
        """Stable across rebuilds: depends on what the item is, not on where it was found."""
        key = f"{self.report}|{self.year}|{self.category}|{self.name}"
        return f"{self.category}-{hashlib.sha1(key.encode()).hexdigest()[:10]}"

    @property
    def category_label(self) -> str:
        return CATEGORIES[self.category].label_zh

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON data; field by field, as ``dataclasses.asdict``'s deep copy is slow and
        every field but the two rebuilt here is immutable."""
        data = {name: getattr(self, name) for name in _ITEM_FIELDS}
        data["quantities"] = [q.to_dict() for q in self.quantities]
        data["span"] = list(self.span)
        return {"id": self.id, "category_label": self.category_label, **data}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Item:
        values = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        values["quantities"] = [Quantity(**q) for q in data.get("quantities", [])]
        values["span"] = tuple(data["span"])
        return cls(**values)


_ITEM_FIELDS = tuple(f.name for f in fields(Item))
