"""Charts of the coverage checks for ``coverage.md``, drawn with matplotlib.

Byte-for-byte reproducible, whatever fonts the machine has: each chart is drawn on a
``Figure`` of its own (no pyplot state) and saved as SVG with a fixed id salt and no date
stamp; text stays text under a fixed font-family list, and is laid out with fixed metrics
(:class:`_FixedMetricsRenderer`) rather than those of an installed font. The charts take plain
data (:class:`ChartInput`, made by ``checks.chart_input``) and the module imports neither
geopandas nor the checks, so a second process that only loads matplotlib can draw them
while the first renders the maps (``checks.ChartProcess``).
"""

from __future__ import annotations

import codecs
import contextlib
import io
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypedDict

import matplotlib
import numpy as np
from matplotlib.backends.backend_mixed import MixedModeRenderer
from matplotlib.backends.backend_svg import FigureCanvasSVG, RendererSVG
from matplotlib.cm import ScalarMappable
from matplotlib.colors import BoundaryNorm, ListedColormap
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties

from .categories import (
    CATEGORIES,
    PRECISION_COLORS,
    PRECISIONS,
    STAGE_COLORS,
    TASK_BINS,
    UNCOVERED_COLOR,
)


class ChartInput(TypedDict):
    """The coverage report as the charts need it; metres in the report's metric CRS."""

    located: list[dict[str, Any]]  # the "located" check's rows
    villages: bool  # whether the report checked committees at all
    reach: list[dict[str, Any]]  # the "service_reach" rows; empty without committees
    walk_m: float
    committees: dict[str, list[Any]]  # name, kind, tasks, x, y: one entry per committee
    outline: list[list[list[float]]]  # the town outline's rings as [x, y] lists


# The font-family list every SVG text carries, so the viewer's CJK font draws it: fonts
# with the glyphs of category and committee names, most likely first.
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
# Text is measured with the DejaVu Sans that ships inside matplotlib (not one of the
# system's fonts), each wide (CJK) character counted one em, as CJK fonts draw it ...
_MEASURE_FONT = str(Path(matplotlib.get_data_path(), "fonts", "ttf", "DejaVuSans.ttf"))
# ... and a line's ascent and descent in em are those of Noto Sans CJK.
_ASCENT, _DESCENT = 0.88, 0.12


class _FixedMetricsRenderer(RendererSVG):
    """An SVG renderer whose text extents do not depend on the installed fonts."""

    def get_text_width_height_descent(
        self, s: str, prop: FontProperties, ismath: Any
    ) -> tuple[float, float, float]:
        wide = sum(unicodedata.east_asian_width(c) in "WF" for c in s)
        narrow = "".join(c for c in s if unicodedata.east_asian_width(c) not in "WF")
        measure = FontProperties(fname=_MEASURE_FONT, size=prop.get_size_in_points())
        # matplotlib's SVG backend ships without annotations
        width, height, descent = super().get_text_width_height_descent(  # type: ignore[no-untyped-call]
            narrow, measure, ismath
        )
        return width + wide * prop.get_size_in_points(), height, descent

    def _get_font_height_metrics(self, prop: FontProperties) -> tuple[float, float, float]:
        """Ascent, descent and line gap of a line of text: matplotlib 3.11+ asks the
        renderer (private hook) before reading them from the font ``prop`` resolves to."""
        # points_to_pixels is typed as returning any array-like; here it is a float
        size = float(self.points_to_pixels(prop.get_size_in_points()))  # type: ignore[arg-type]
        return _ASCENT * size, _DESCENT * size, 0.0


class _FixedMetricsCanvas(FigureCanvasSVG):
    """``FigureCanvasSVG.print_svg`` with :class:`_FixedMetricsRenderer`."""

    def print_svg(
        self,
        filename: Any,  # a binary file: ``_svg`` passes a BytesIO
        *,
        bbox_inches_restore: Any = None,
        metadata: Any = None,
        **_raster_options: Any,  # dpi, facecolor…: print_figure passes them to every format
    ) -> None:
        text = codecs.getwriter("utf-8")(filename)
        dpi = self.figure.dpi
        self.figure.dpi = 72
        width, height = self.figure.get_size_inches()
        renderer = MixedModeRenderer(  # type: ignore[no-untyped-call]  # (untyped backend)
            self.figure,
            width,
            height,
            dpi,
            _FixedMetricsRenderer(  # type: ignore[no-untyped-call]  # (untyped backend)
                width * 72, height * 72, text, image_dpi=dpi, metadata=metadata
            ),
            bbox_inches_restore=bbox_inches_restore,
        )
        self.figure.draw(renderer)  # type: ignore[arg-type]  # a RendererBase by delegation
        renderer.finalize()


@contextlib.contextmanager
def _chart_style() -> Iterator[None]:
    """Text stays text in the SVG, under the fixed family list: the viewer's CJK fonts draw
    it, and no installed font changes the file."""
    style = {
        "font.family": "sans-serif",
        "font.sans-serif": [*CJK_FONTS, "DejaVu Sans"],
        "axes.unicode_minus": False,
        "svg.fonttype": "none",
        "svg.hashsalt": "luodian-map",
    }
    with matplotlib.rc_context(style):  # type: ignore[arg-type]  # keys are rcParams names
        yield


def _svg(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    _FixedMetricsCanvas(figure)
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


def _villages_chart(committees: dict[str, list[Any]], outline: list[list[list[float]]]) -> bytes:
    """Committee points on the town outline, coloured by tasks; uncovered ones stand out."""
    figure = Figure(figsize=(7.5, 7.5))
    _margins(figure, left=0.1, right=0.1, bottom=0.1, top=0.7)
    ax = figure.subplots()
    for ring in outline:
        x, y = np.asarray(ring).T
        ax.plot(x, y, color="#555555", linewidth=1, linestyle="--")
    x, y = np.asarray(committees["x"]), np.asarray(committees["y"])
    tasks, kinds = np.asarray(committees["tasks"]), np.asarray(committees["kind"])
    bounds = [b[0] for b in TASK_BINS] + [max(int(tasks.max()), 11) + 1]
    cmap = ListedColormap([b[1] for b in TASK_BINS])
    norm = BoundaryNorm(bounds, cmap.N)
    marker = {"village_committee": "s", "residents_committee": "o"}
    for kind, symbol in marker.items():
        covered = (kinds == kind) & (tasks > 0)
        ax.scatter(
            x[covered],
            y[covered],
            c=tasks[covered],
            cmap=cmap,
            norm=norm,
            marker=symbol,
            s=45,
            edgecolors="#333333",
            linewidths=0.5,
            zorder=3,
        )
        empty = (kinds == kind) & (tasks == 0)
        ax.scatter(
            x[empty],
            y[empty],
            marker=symbol,
            s=55,
            facecolors="white",
            edgecolors=UNCOVERED_COLOR,
            linewidths=1.6,
            zorder=4,
        )
    for name, kind, px, py in zip(committees["name"], kinds, x, y, strict=True):
        if kind == "village_committee":
            ax.annotate(
                name,
                (px, py),
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
    ax.set_title(
        f"村居覆盖 Committee coverage — {int((tasks == 0).sum())} of {len(tasks)} without a task\n"
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


def warm_up() -> None:
    """Nothing: a process that will draw charts calls it early, to import this module
    and matplotlib while its parent works."""


def draw_charts(data: ChartInput) -> dict[str, bytes]:
    """SVG charts by key (``items``, ``villages``, ``reach``); a chart without data is left out."""
    out = {}
    with _chart_style():
        if data["located"]:
            out["items"] = _items_chart(data["located"])
        if data["villages"]:
            out["villages"] = _villages_chart(data["committees"], data["outline"])
        if data["reach"]:
            out["reach"] = _reach_chart(data["reach"], data["walk_m"])
    return out
