"""Score extracted items against a hand-annotated gold file."""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from luodian_map.model import Item


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
    )
