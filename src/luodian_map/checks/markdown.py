"""``coverage.md``: the report as inert Markdown tables, with its charts."""

from __future__ import annotations

import html
from typing import Any

from .report import (
    COMMITTEE_LABELS,
    PRECISION_ORDER,
    CoverageReport,
    _label,
    failed_thresholds,
    guess_note,
)

# --------------------------------------------------------------------------- writing
_MD_SPECIAL = str.maketrans({c: "\\" + c for c in "\\`*_[]|#"})


def _cell(value: Any) -> str:
    """Report text as inert Markdown: no HTML, no links, no table breaks."""
    if value is None:
        return "–"
    if isinstance(value, float):
        value = f"{value:g}"
    if isinstance(value, list | tuple):
        value = "、".join(map(str, value))
    text = " ".join(str(value).split())
    return html.escape(text, quote=False).translate(_MD_SPECIAL)


def _table(headers: list[str], rows: list[list[Any]]) -> str:
    if not rows:
        return "_None._\n"
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _percent(share: float | None) -> str:
    return "–" if share is None else f"{share:.0%}"


def coverage_markdown(report: CoverageReport, charts: dict[str, str]) -> str:
    """The figures as Markdown tables; ``charts`` maps a chart key to its file name."""
    s, c, cfg = report.summary, report.checks, report.config
    town = report.town or "the town"
    out = [f"# {_cell(town)} 任务覆盖检查 Coverage checks\n"]
    out.append(
        f"- Reports: {_cell(s['reports'])}\n"
        f"- Items: {s['items']}; located below town level: {s['located']} "
        f"({_percent(s['located_share'])}); needing a surveyed location: {s['needs_survey']}\n"
        f"- Stated but unnamed: {s['unnamed_items']} "
        f"(in {len(c['stated_vs_named'])} statements)\n"
        f"- Quantities compared with their geometry: {s['quantities_compared']}, "
        f"flagged: {s['quantities_flagged']}\n"
        f"- Features outside {_cell(town)} beyond their uncertainty: {s['features_outside']}\n"
        f"- Committees without any task: {s['committees_without_task']} of {s['committees']}\n"
    )
    failures = failed_thresholds(report)
    out.append(
        "**Thresholds:** "
        + (
            "all met.\n"
            if not failures
            else "missed —\n\n" + "".join(f"- {_cell(r)}\n" for r in failures)
        )
    )
    for note in report.notes:
        out.append(f"> Note: {_cell(note)}\n")
    out.append(
        "\n_Distances are straight lines in "
        f"{_cell(cfg.metric_crs)}; committee points and most features are hand-placed "
        "(approximate), so distance-based figures are indicative until surveyed._\n"
    )

    out.append("\n## 定位情况 Located\n")
    if "items" in charts:
        out.append(f"![Items per category and year]({charts['items']})\n")
    out.append(
        _table(
            ["report", "year", "category", "items", *PRECISION_ORDER, "located share"],
            [
                [
                    r["report"],
                    r["year"],
                    r["category_label"],
                    r["items"],
                    *(r[p] for p in PRECISION_ORDER),
                    _percent(r["located_share"]),
                ]
                for r in c["located"]
            ],
        )
    )
    out.append("\n### 需要实测位置 Needs a surveyed location\n")
    out.append(
        _table(
            ["id", "name", "year", "precision", "uncertainty (m)"],
            [
                [r["id"], r["name"], r["year"], r["precision"], round(r["uncertainty_m"])]
                for r in c["needs_survey"]
            ],
        )
    )

    out.append("\n## 所述数量与列名 Stated vs named\n")
    out.append(
        _table(
            ["year", "category", "type", "stated", "named", "unnamed", "names", "basis", "quote"],
            [
                [
                    r["year"],
                    r["category_label"],
                    r["type"],
                    r["stated"],
                    r["named"],
                    r["unnamed"],
                    r["names"],
                    r["basis"],
                    _short(r["quote"]),
                ]
                for r in c["stated_vs_named"]
            ],
        )
    )

    out.append("\n## 数量与几何 Quantities vs geometry\n")
    out.append(
        f"Flagged when stated and measured differ by a factor of {cfg.area_ratio_flag:g} "
        f"(area) or {cfg.length_ratio_flag:g} (length) or more.\n\n"
    )
    out.append(
        _table(
            ["id", "name", "quantity", "measured", "ratio", "status"],
            [
                [
                    r["id"],
                    r["name"],
                    r["quantity"],
                    None if r["measured"] is None else f"{r['measured']:g}{r['unit']}",
                    r["ratio"],
                    r["status"],
                ]
                for r in c["quantities"]
            ],
        )
    )

    out.append(f"\n## 镇域范围 Inside {_cell(town)}\n")
    out.append(
        "Features reaching beyond the outline; **outside** when farther than their own "
        "uncertainty.\n\n"
    )
    out.append(
        _table(
            ["id", "name", "precision", "distance (m)", "uncertainty (m)", "outside"],
            [
                [
                    r["id"],
                    r["name"],
                    r["precision"],
                    r["distance_m"],
                    round(r["uncertainty_m"]),
                    "yes" if r["outside"] else "no",
                ]
                for r in c["outside_town"]
            ],
        )
    )

    out.append("\n## 村居覆盖 Village and residents' committee coverage\n")
    out.append(
        f"A task touches a committee when the committee's name appears in the item's name or "
        f"quote, or when the task lies within {cfg.village_distance_m:g} m of the committee's "
        "point (town-level items only by name). "
        f"{guess_note(s['guess_inputs']['villages'])}.\n\n"
    )
    if "villages" in charts:
        out.append(f"![Village coverage]({charts['villages']})\n\n")
    uncovered = [v["committee"] for v in c["villages"] if v["tasks"] == 0]
    out.append(f"**Without any task ({len(uncovered)}):** {_cell(uncovered) or '–'}\n\n")
    years = list(c["villages"][0]["by_year"]) if c["villages"] else []
    out.append(
        _table(
            ["committee", "kind", *years, "total", "tasks"],
            [
                [
                    v["committee"],
                    COMMITTEE_LABELS.get(v["kind"], v["kind"]),
                    *v["by_year"].values(),
                    v["tasks"],
                    _short("、".join(f"{t['name']}({t['match']})" for t in v["items"]), 80),
                ]
                for v in c["villages"]
            ],
        )
    )

    out.append("\n## 服务覆盖 Service reach (15分钟社区生活圈)\n")
    out.append(
        f"Share of the residents' committees within {cfg.walk_distance_m:g} m of a facility "
        "of each kind: before = the facilities of the review, after = with the plan's added. "
        "Town-level facilities have no place and are not counted. "
        f"**{guess_note(s['guess_inputs']['service_reach'])}**"
        + (
            " (`reach_include_guesses = true` in the config counts them).\n\n"
            if s["guess_inputs"]["service_reach"]["excluded"]
            else ".\n\n"
        )
    )
    if "reach" in charts:
        out.append(f"![Service reach]({charts['reach']})\n\n")
    out.append(
        _table(
            [
                "kind",
                "facilities before",
                "after",
                "town-level",
                "guesses",
                "reached before",
                "after",
                "share before",
                "share after",
            ],
            [
                [
                    f"{r['kind_label']} {r['kind']}",
                    r["facilities_before"],
                    r["facilities_after"],
                    r["town_level"],
                    r["guesses"],
                    f"{r['reached_before']}/{r['committees']}",
                    f"{r['reached_after']}/{r['committees']}",
                    _percent(r["share_before"]),
                    _percent(r["share_after"]),
                ]
                for r in c["service_reach"]
            ],
        )
    )

    out.append("\n## 易积水点与工程 Flood points vs works\n")
    out.append(
        f"Planned {_cell('、'.join(_label(x) for x in cfg.flood_work_categories))} works "
        f"within {cfg.flood_work_distance_m:g} m of each flood-prone point. "
        f"{guess_note(s['guess_inputs']['flood_works'])}.\n\n"
    )
    out.append(
        _table(
            ["id", "name", "year", "precision", "works nearby"],
            [
                [
                    r["id"],
                    r["name"],
                    r["year"],
                    r["precision"],
                    "town-level: no place to compare"
                    if r["works"] is None
                    else "、".join(f"{w['name']} ({w['distance_m']} m)" for w in r["works"])
                    or "none",
                ]
                for r in c["flood_works"]
            ],
        )
    )

    out.append("\n## 跨报告跟踪 Follow-up across reports\n")
    if len(s["reports"]) < 2:
        out.append(f"Needs two or more reports: the features come from {len(s['reports'])}.\n")
    else:
        counts = ", ".join(f"{status}: {n}" for status, n in s["follow_up"].items())
        out.append(f"Promises by outcome — {_cell(counts)}.\n\n")
        out.append(
            _table(
                ["report", "year", "id", "name", "status", "later report", "match"],
                [
                    [
                        r["report"],
                        r["year"],
                        r["id"],
                        r["name"],
                        r["status"],
                        r["later_report"],
                        r["match"],
                    ]
                    for r in c["follow_up"]
                ],
            )
        )
    return "\n".join(out)
