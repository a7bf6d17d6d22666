"""Pictures of the coverage checks: matplotlib charts for ``coverage.md`` and a Folium map.

Both are byte-for-byte reproducible: charts are drawn on a ``Figure`` of their own (no
pyplot state) and saved as SVG with a fixed id salt and no date stamp; the map's element ids,
which folium draws at random, are renumbered before rendering. Report text reaches the
map only HTML-escaped, so a quote holding ``<script>`` stays text.
"""

from __future__ import annotations

import contextlib
import html
import io
import itertools
import warnings
from collections.abc import Iterator
from typing import Any

import folium
import geopandas as gpd
import matplotlib
import numpy as np
import shapely
from branca.element import Element
from matplotlib import font_manager
from matplotlib.cm import ScalarMappable
from matplotlib.colors import BoundaryNorm, ListedColormap
from matplotlib.figure import Figure

from .categories import CATEGORIES, PRECISIONS
from .checks import COMMITTEE_LABELS, CoverageReport

# Fonts with the CJK glyphs of category and committee names, most likely first.
CJK_FONTS = (
    "Noto Sans CJK SC",
    "Source Han Sans SC",
    "Noto Sans SC",
    "WenQuanYi Zen Hei",
    "WenQuanYi Micro Hei",
    "SimHei",
    "Microsoft YaHei",
    "PingFang SC",
)
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


# --------------------------------------------------------------------------- charts
def _cjk_font() -> str | None:
    available = {f.name for f in font_manager.fontManager.ttflist}
    return next((name for name in CJK_FONTS if name in available), None)


@contextlib.contextmanager
def _chart_style() -> Iterator[None]:
    """Text stays text in the SVG, so the viewer's CJK fonts draw it; the installed CJK font
    (if any) only measures it for the layout, and without one the run still succeeds."""
    font = _cjk_font()
    style = {
        "font.family": "sans-serif",
        "font.sans-serif": [*([font] if font else []), "DejaVu Sans"],
        "axes.unicode_minus": False,
        "svg.fonttype": "none",
        "svg.hashsalt": "luodian-map",
    }
    with matplotlib.rc_context(style), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Glyph .* missing from")
        yield


def _svg(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="svg", metadata={"Date": None})
    return buffer.getvalue()


def _margins(figure: Figure, left: float, right: float, bottom: float, top: float) -> None:
    """Fixed margins in inches: constrained layout would measure every label again and
    cost more than drawing the chart."""
    width, height = figure.get_size_inches()
    figure.subplots_adjust(
        left=left / width, right=1 - right / width, bottom=bottom / height, top=1 - top / height
    )


def _items_chart(located: list[dict[str, Any]]) -> bytes:
    """One panel per year: items per category, stacked by how well they are placed."""
    years = sorted({r["year"] for r in located})
    present = {r["category"] for r in located}
    categories = [c for c in CATEGORIES if c in present] + sorted(present - set(CATEGORIES))
    labels = [CATEGORIES[c].label_zh if c in CATEGORIES else c for c in categories]
    counts = np.zeros((len(years), len(categories), len(PRECISIONS)))
    for r in located:
        counts[years.index(r["year"]), categories.index(r["category"])] += [
            r[p] for p in PRECISIONS
        ]
    figure = Figure(figsize=(3.2 * len(years) + 1.2, 0.35 * len(categories) + 1.6))
    # 10-point CJK labels are about 0.14 in a character wide.
    _margins(figure, left=0.3 + 0.14 * max(map(len, labels)), right=0.2, bottom=0.4, top=0.7)
    axes = figure.subplots(1, len(years), sharey=True, squeeze=False)[0]
    positions = np.arange(len(categories))
    for ax, year, table in zip(axes, years, counts, strict=True):
        left = np.zeros(len(categories))
        for j, precision in enumerate(PRECISIONS):
            ax.barh(
                positions,
                table[:, j],
                left=left,
                color=PRECISION_COLORS[precision],
                label=f"{PRECISIONS[precision][0]} {precision}",
            )
            left += table[:, j]
        ax.set_title(f"{year}")
        ax.set_yticks(positions, labels)
        ax.invert_yaxis()
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.grid(axis="x", alpha=0.3)
    axes[0].legend(loc="lower right", fontsize=7, frameon=False)
    figure.suptitle("各类别条目数（按定位精度） Items per category and year")
    return _svg(figure)


def _villages_chart(report: CoverageReport) -> bytes:
    """Committee points on the town outline, coloured by tasks; uncovered ones stand out."""
    crs = report.config.metric_crs
    committees = report.frames["committees"].to_crs(crs)
    outline = report.frames["outline"].to_crs(crs)
    figure = Figure(figsize=(7.5, 7.5))
    _margins(figure, left=0.1, right=0.1, bottom=0.1, top=0.7)
    ax = figure.subplots()
    outline.boundary.plot(ax=ax, color="#555555", linewidth=1, linestyle="--")
    covered = committees[committees["tasks"] > 0]
    bounds = [b[0] for b in TASK_BINS] + [max(int(committees["tasks"].max()), 11) + 1]
    cmap = ListedColormap([b[1] for b in TASK_BINS])
    norm = BoundaryNorm(bounds, cmap.N)
    marker = {"village_committee": "s", "residents_committee": "o"}
    for kind, symbol in marker.items():
        mine = covered[covered["kind"] == kind]
        ax.scatter(
            mine.geometry.x,
            mine.geometry.y,
            c=mine["tasks"],
            cmap=cmap,
            norm=norm,
            marker=symbol,
            s=45,
            edgecolors="#333333",
            linewidths=0.5,
            zorder=3,
        )
        empty = committees[(committees["tasks"] == 0) & (committees["kind"] == kind)]
        ax.scatter(
            empty.geometry.x,
            empty.geometry.y,
            marker=symbol,
            s=55,
            facecolors="white",
            edgecolors=UNCOVERED_COLOR,
            linewidths=1.6,
            zorder=4,
        )
    villages = committees[committees["kind"] == "village_committee"]
    for name, point in zip(villages["name"], villages.geometry, strict=True):
        ax.annotate(
            name,
            (point.x, point.y),
            xytext=(4, 3),
            textcoords="offset points",
            fontsize=6.5,
            color="#333333",
        )
    colorbar = figure.colorbar(
        ScalarMappable(norm=norm, cmap=cmap), ax=ax, shrink=0.6, ticks=bounds[:-1]
    )
    colorbar.set_label("任务数 tasks")
    ax.set_aspect("equal")
    ax.set_axis_off()
    uncovered = int((committees["tasks"] == 0).sum())
    ax.set_title(
        f"村居覆盖 Committee coverage — {uncovered} of {len(committees)} without a task\n"
        "■ 村委会 village  ● 居委会 residents' committee  白色红边 = no task",
        fontsize=10,
    )
    return _svg(figure)


def _reach_chart(rows: list[dict[str, Any]], walk_m: float) -> bytes:
    figure = Figure(figsize=(6.5, 3.6))
    _margins(figure, left=0.7, right=0.2, bottom=0.6, top=0.4)
    ax = figure.subplots()
    positions = np.arange(len(rows))
    before = [100 * (r["share_before"] or 0) for r in rows]
    after = [100 * (r["share_after"] or 0) for r in rows]
    ax.bar(positions - 0.2, before, 0.4, color=STAGE_COLORS["review"], label="before 回顾")
    ax.bar(positions + 0.2, after, 0.4, color=STAGE_COLORS["plan"], label="after 加计划")
    ax.set_xticks(positions, [f"{r['kind_label']}\n{r['kind']}" for r in rows])
    ax.set_ylim(0, 100)
    ax.set_ylabel("% of residents' committees")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8, frameon=False)
    ax.set_title(f"服务覆盖 Service reach within {walk_m:g} m")
    return _svg(figure)


def charts(report: CoverageReport) -> dict[str, bytes]:
    """SVG charts by key (``items``, ``villages``, ``reach``); a chart without data is left out."""
    out = {}
    with _chart_style():
        if report.checks["located"]:
            out["items"] = _items_chart(report.checks["located"])
        if report.checks["villages"]:
            out["villages"] = _villages_chart(report)
        if report.checks["service_reach"] and report.summary["committees"]:
            out["reach"] = _reach_chart(
                report.checks["service_reach"], report.config.walk_distance_m
            )
    return out


# --------------------------------------------------------------------------- map
def _escaped(frame: gpd.GeoDataFrame, columns: dict[str, Any]) -> gpd.GeoDataFrame:
    """Only the given properties, as escaped text (tooltips insert them as HTML)."""
    props = {name: [html.escape(str(v)) for v in values] for name, values in columns.items()}
    geometry = shapely.set_precision(frame.geometry.values, 1e-6)
    return gpd.GeoDataFrame(props, geometry=geometry, crs=frame.crs)


def _committee_style(feature: dict[str, Any]) -> dict[str, Any]:
    """Uncovered committees as hollow red rings, the others filled by number of tasks."""
    tasks = int(feature["properties"]["tasks"])
    if tasks == 0:
        return {
            "color": UNCOVERED_COLOR,
            "weight": 3,
            "fill": True,
            "fillColor": "#ffffff",
            "fillOpacity": 0.9,
        }
    colour = next(c for lowest, c, _ in reversed(TASK_BINS) if tasks >= lowest)
    return {"color": "#333", "weight": 1, "fill": True, "fillColor": colour, "fillOpacity": 0.9}


def _settle_ids(root: Element) -> None:
    """Number every element in tree order, replacing folium's random ids."""
    counter = itertools.count(1)
    pending = [root]
    while pending:
        element = pending.pop(0)
        element._id = f"{next(counter):04d}"
        pending.extend(element._children.values())


def _legend(report: CoverageReport) -> str:
    e = html.escape
    rows = [
        f'<i style="border:2px solid {UNCOVERED_COLOR};background:#fff"></i>{e("无任务 no task")}'
    ]
    rows += [
        f'<i style="background:{c}"></i>{e(label)} {e("项任务 tasks")}' for _, c, label in TASK_BINS
    ]
    rows += [
        f'<i style="background:{STAGE_COLORS["review"]};opacity:.5"></i>'
        f"{e(f'服务半径 {report.config.walk_distance_m:g} m（回顾 review）')}",
        f'<i style="background:{STAGE_COLORS["plan"]};opacity:.5"></i>{e("服务半径（计划 plan）")}',
        f'<i style="background:#000;border-radius:50%"></i>{e("镇域外要素 outside the town")}',
    ]
    style = (
        "position:fixed;bottom:48px;left:12px;z-index:1000;background:#fff;"
        "padding:8px 10px;font:12px sans-serif;border:1px solid #999;border-radius:4px"
    )
    swatch = (
        "<style>.lm-coverage-legend i{display:inline-block;width:12px;height:12px;"
        "margin-right:6px;vertical-align:middle}</style>"
    )
    title = e(f"{report.town or ''} 任务覆盖 Coverage")
    return (
        f'{swatch}<div class="lm-coverage-legend" style="{style}"><b>{title}</b><br>'
        + "<br>".join(rows)
        + "</div>"
    )


def coverage_html(report: CoverageReport) -> str:
    """A Folium map: committees coloured by tasks, reach buffers, features outside the town."""
    frames = report.frames
    outline = frames["outline"]
    west, south, east, north = outline.total_bounds
    fmap = folium.Map(
        location=[(south + north) / 2, (west + east) / 2],
        zoom_start=13,
        tiles="OpenStreetMap",
        control_scale=True,
    )
    # Leaflet is all this page uses of folium's defaults (no jQuery, Bootstrap, icons).
    fmap.default_js = [(n, u) for n, u in folium.Map.default_js if n == "leaflet"]
    fmap.default_css = [(n, u) for n, u in folium.Map.default_css if n == "leaflet_css"]
    fmap.get_root().title = html.escape(f"{report.town or ''} 任务覆盖检查 Coverage checks")

    folium.GeoJson(
        _escaped(outline, {"name": [report.town or "town"]}),
        name="镇域 town outline",
        style_function=lambda _: {"color": "#444", "weight": 2, "dashArray": "6 4", "fill": False},
    ).add_to(fmap)

    reach = frames["reach"]
    labels = {r["kind"]: f"{r['kind_label']} {r['kind']}" for r in report.checks["service_reach"]}
    kinds = [k for k in report.config.reach_kinds if k in set(reach["kind"])]
    for kind in kinds:  # one kind shown at a time reads better than five overlaid
        mine = reach[reach["kind"] == kind]
        group = folium.FeatureGroup(
            name=html.escape(f"服务半径 reach: {labels[kind]}"), show=kind == kinds[0]
        )
        folium.GeoJson(
            _escaped(mine, {"name": mine["name"], "stage": mine["part"], "year": mine["year"]}),
            style_function=lambda feature: {
                "color": STAGE_COLORS.get(feature["properties"]["stage"], "#666"),
                "weight": 1,
                "fillOpacity": 0.15,
            },
            tooltip=folium.GeoJsonTooltip(
                ["name", "stage", "year"], aliases=["设施 facility", "阶段 stage", "年 year"]
            ),
        ).add_to(group)
        group.add_to(fmap)

    committees = frames["committees"]
    by_year = ["; ".join(f"{y}: {n}" for y, n in d.items()) for d in committees["by_year"]]
    points = _escaped(
        committees,
        {
            "name": committees["name"],
            "kind": committees["kind"].map(COMMITTEE_LABELS),
            "tasks": committees["tasks"],
            "by_year": by_year,
        },
    )
    folium.GeoJson(
        points,
        name=html.escape("村居委 committees (tasks)"),
        marker=folium.CircleMarker(radius=7),
        style_function=_committee_style,
        tooltip=folium.GeoJsonTooltip(
            ["name", "kind", "tasks", "by_year"],
            aliases=["名称 name", "类型 kind", "任务 tasks", "按年 by year"],
        ),
    ).add_to(fmap)

    outside = frames["outside"]
    if not outside.empty:
        folium.GeoJson(
            _escaped(
                outside,
                {
                    "name": outside["name"],
                    "id": outside["id"],
                    "distance_m": outside["distance_m"],
                    "uncertainty_m": outside["uncertainty_m"].round(),
                },
            ),
            name=html.escape("镇域外要素 outside the town"),
            marker=folium.CircleMarker(radius=8),
            style_function=lambda _: {
                "color": "#000",
                "weight": 2,
                "fill": True,
                "fillColor": "#000",
                "fillOpacity": 0.8,
            },
            tooltip=folium.GeoJsonTooltip(
                ["name", "id", "distance_m", "uncertainty_m"],
                aliases=["名称 name", "id", "距镇界 distance (m)", "不确定 uncertainty (m)"],
            ),
        ).add_to(fmap)

    folium.LayerControl(collapsed=False).add_to(fmap)
    fmap.get_root().html.add_child(Element(_legend(report)))
    fmap.fit_bounds([[south, west], [north, east]])
    root = fmap.get_root()
    _settle_ids(root)
    return root.render()
