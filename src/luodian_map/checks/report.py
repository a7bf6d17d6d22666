"""The report model of the checks, below both the checks and what shows them (Markdown,
charts, the coverage map): :class:`CoverageReport` and the readings of it."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, cast

import geopandas as gpd

from ..categories import CATEGORIES, FOLLOW_UP_STATES, PRECISIONS
from ..layers import plain
from .config import CheckConfig

PRECISION_ORDER = tuple(PRECISIONS)  # surveyed, sourced, approximate, town
COMMITTEE_KINDS = ("village_committee", "residents_committee")
COMMITTEE_LABELS = {"village_committee": "村委会", "residents_committee": "居委会"}
KIND_LABELS = {
    "elderly": "养老",
    "health": "医疗",
    "culture": "文化",
    "sport": "体育",
    "school": "教育",
    "safety": "安全",
}

# What became of a promise (the vocabulary of link.py).
FOLLOW_UP = FOLLOW_UP_STATES


# --------------------------------------------------------------------------- report
@dataclass
class CoverageReport:
    """The figures of every check as plain tables (lists of JSON-ready rows).

    ``frames`` holds the geometries the map and charts need (WGS-84); they are not part
    of :meth:`to_dict`.
    """

    town: str | None
    summary: dict[str, Any]
    checks: dict[str, list[dict[str, Any]]]
    notes: list[str]
    config: CheckConfig
    frames: dict[str, gpd.GeoDataFrame] = field(default_factory=dict, repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        return cast(
            "dict[str, Any]",
            plain(
                {
                    "town": self.town,
                    "config": asdict(self.config),
                    "summary": self.summary,
                    "notes": self.notes,
                    "checks": self.checks,
                }
            ),
        )


def _category_rank(category: str) -> int:
    """docs/architecture.md's order of categories, unknown ones last."""
    return list(CATEGORIES).index(category) if category in CATEGORIES else len(CATEGORIES)


def _label(category: str) -> str:
    return CATEGORIES[category].label_zh if category in CATEGORIES else str(category)


def guess_note(counts: dict[str, Any]) -> str:
    """ "N of M inputs are guesses, excluded" (or included), for a figure's text."""
    fate = "excluded" if counts["excluded"] else "included, so the figure is indicative only"
    return f"{counts['guesses']} of {counts['inputs']} inputs are guesses, {fate}"


# --------------------------------------------------------------------------- thresholds
def failed_thresholds(report: CoverageReport, config: CheckConfig | None = None) -> list[str]:
    """Why a strict run fails, one readable sentence per missed threshold (none: it passes)."""
    config = config or report.config
    summary = report.summary
    reasons = []
    share = summary["located_share"]
    if share is None:
        reasons.append("no features to check")
    elif share < config.min_located_share:
        reasons.append(
            f"located share {share:.1%} ({summary['located']} of {summary['items']} items "
            f"placed below town level) is below min_located_share {config.min_located_share:.0%}"
        )
    outside = [r for r in report.checks["outside_town"] if r["outside"]]
    if len(outside) > config.max_features_outside:
        names = ", ".join(f"{r['name']} ({r['distance_m']} m)" for r in outside[:5])
        more = f" and {len(outside) - 5} more" if len(outside) > 5 else ""
        reasons.append(
            f"{len(outside)} feature(s) outside {report.town or 'the town'} beyond their "
            f"uncertainty (max_features_outside {config.max_features_outside}): {names}{more}"
        )
    return reasons
