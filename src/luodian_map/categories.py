"""The fixed category ids of docs/architecture.md, with their labels and display defaults.

Ids are part of the data contract (layer file names, URL hashes, feature properties), so
they never change; labels are for people and come in Chinese and English.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Category:
    id: str
    label_zh: str
    label_en: str
    geometry: str  # the geometry a placed feature of this category usually has
    color: str

    def label(self, lang: str = "zh") -> str:
        return self.label_en if lang == "en" else self.label_zh


CATEGORIES: dict[str, Category] = {
    c.id: c
    for c in (
        Category("road", "道路", "Roads", "LineString", "#e6550d"),
        Category("park", "公园绿地", "Parks and green space", "Polygon", "#31a354"),
        Category("village", "村庄", "Villages", "Point", "#8c6d31"),
        Category(
            "inefficient_land", "低效用地处置", "Inefficient land disposal", "Polygon", "#756bb1"
        ),
        Category("flood_point", "易积水点", "Flood-prone points", "Point", "#3182bd"),
        Category("land_reduction", "减量化", "Land reduction", "Polygon", "#bcbddc"),
        Category("industry", "产业项目", "Industrial projects", "Point", "#de2d26"),
        Category("facility", "公共服务设施", "Public facilities", "Point", "#e377c2"),
        Category("renewal", "城市更新", "Urban renewal", "Polygon", "#fd8d3c"),
        Category("transport", "交通设施", "Transport", "Point", "#636363"),
        Category("ecology", "生态环境", "Ecology (rivers, forest)", "Polygon", "#17becf"),
        Category("agriculture", "农业农村", "Agriculture", "Polygon", "#bcbd22"),
        Category("area", "重点片区", "Key districts", "Polygon", "#9467bd"),
    )
}

STATUSES: dict[str, tuple[str, str]] = {
    "completed": ("已完成", "Completed"),
    "in_progress": ("推进中", "In progress"),
    "planned": ("计划", "Planned"),
}

PRECISIONS: dict[str, tuple[str, str]] = {
    "surveyed": ("实测", "Surveyed"),
    "sourced": ("有来源", "Sourced"),
    "approximate": ("近似位置", "Approximate"),
    "town": ("镇级汇总", "Town level"),
}
PUBLIC_PRECISIONS = ("surveyed", "sourced")
"""Precisions a map for public display draws as places; the others are guesses (approximate
placements and town-level aggregates) and are only listed, never drawn."""
GUESS_PRECISIONS = tuple(p for p in PRECISIONS if p not in PUBLIC_PRECISIONS)
"""Precisions whose position is a guess: drawn dashed on the planners' map, left out of public
maps and of the coverage check's service reach."""

FOLLOW_UPS: dict[str, tuple[str, str]] = {
    "delivered": ("承诺已兑现", "delivered"),
    "in_progress": ("推进中", "in progress"),
    "not_mentioned": ("未提及", "not mentioned"),
    "pending": ("待回顾", "pending"),
    "none": ("非当年承诺", "no promise"),
}
"""What became of a promise (``link.py`` decides it, the checks count it, the map shows it):
id → (Chinese, English) label. "none": the entity was not promised for that year."""
FOLLOW_UP_STATES = tuple(k for k in FOLLOW_UPS if k != "none")
"""The verdicts on a year's plan: delivered, in progress, not mentioned, pending."""

PROVIDER_NAMES = ("nominatim", "baidu", "arcgis", "amap", "tianditu")
"""The online geocoders (``providers.PROVIDERS`` describes each), for ``--provider``."""

# Colours of the coverage pictures, shared by the charts and the map.
PRECISION_COLORS = {
    "surveyed": "#1a9641",
    "sourced": "#a6d96a",
    "approximate": "#fdae61",
    "town": "#d7191c",
}
UNCOVERED_COLOR = "#d7191c"
# Committee colour by number of tasks touching it: (lowest count, colour, legend).
TASK_BINS = (
    (1, "#d9f0a3", "1"),
    (2, "#addd8e", "2"),
    (3, "#78c679", "3–5"),
    (6, "#31a354", "6–10"),
    (11, "#006837", "> 10"),
)
STAGE_COLORS = {"review": "#2b83ba", "plan": "#d95f0e"}
