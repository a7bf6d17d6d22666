"""Print-ready maps (PDF, PNG) for display boards and documents, drawn with matplotlib.

One page, A3 or A4 landscape: the title (town and year), the features on an offline vector
base (district and town outlines, and the roads, rivers and water of any place file under
``geodata/<town>/sources/`` that marks itself with a top-level ``"luodian_map"`` member), a
metric scale bar and a north arrow computed in the local UTM zone, labels placed without
overlap, and a side panel with the legend and the items that are not drawn as places.

Locations are shown as honestly as on the web map: an ``approximate`` place is dashed and
hollow, a ``town``-level aggregate is not drawn but counted in the side panel, and with
``public=True`` only the precisions of :data:`~luodian_map.categories.PUBLIC_PRECISIONS`
are drawn; every other item is counted as "位置待核实".

The output is deterministic: no dates in the files, fonts embedded as TrueType (PDF
``fonttype`` 42, so the text can be searched and copied), labels placed in a fixed order.
"""

from __future__ import annotations

import io
import math
import os
import textwrap
import warnings
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

import numpy as np
import shapely

from ._io import write_atomic
from .categories import CATEGORIES, PUBLIC_PRECISIONS
from .errors import InputError, LuodianMapError

if TYPE_CHECKING:
    from contextlib import AbstractContextManager

    import geopandas as gpd
    from matplotlib.artist import Artist
    from matplotlib.axes import Axes
    from matplotlib.backends.backend_agg import RendererAgg
    from matplotlib.figure import Figure, SubFigure
    from matplotlib.text import Annotation, Text
    from matplotlib.transforms import Bbox
    from pyproj import CRS

    from .tiles import TileSource

FORMATS = ("pdf", "png")
DPI = 300
# Landscape pages in pixels at DPI (ISO 216 sizes rounded to whole pixels: 420 × 297 mm
# is 4961 × 3508 px); the PDF has the same size in points.
PAPERS = {"a3": (4961, 3508), "a4": (3508, 2480)}
A3_WIDTH_PX = PAPERS["a3"][0]

# Colours of the vector base, after the muted grey-blue of common print basemaps.
BASE_STYLE = {
    "outside": "#e4e4e0",  # beyond the district
    "district": "#f3f3ee",
    "town": "#ffffff",
    "park": "#dcebd0",
    "water": "#cfe2f3",
    "river": "#8fbbe0",
    "road": "#b9b9b9",
    "outline": "#3a3a3a",
}
BASE_LAYERS = ("park", "water", "river", "road")  # place-file kinds, drawn in this order
UNCERTAIN_DASH = (0, (4, 2.5))  # approximate places: dashed, as on the web map
TOWN_DASH = (0, (6, 3))

STRINGS = {
    "title": "{town}政府工作报告空间要素分布图",
    "years": "{years}年",
    "subtitle": "{n} 项上图 · 依据 {reports}",
    "legend": "图例",
    "located": "实线、实心：实测或有来源的位置",
    "approximate": "虚线、空心：近似位置（手工放置，\n±{low}–{high} km），需实测核实",
    "outline_approximate": "镇域范围（近似）",
    "outline": "镇域范围",
    "district": "区界",
    "road": "道路（底图）",
    "river": "河流、水面（底图）",
    "park": "公园绿地（底图）",
    "withheld": "镇级汇总与无位置事项（未上图） {n} 项",
    "withheld_note": "报告未给出具体位置，或地名库中没有",
    "unverified": "位置待核实 {n} 项（未上图）",
    "unverified_note": "仅显示实测或有来源的位置；近似位置与镇级汇总不作为地点展示",
    "none_drawn": "（无可展示的地点）",
    "count": "{label} {n} 项",
    "scale": "比例尺 1:{denominator:,}",
    "north": "北",
    "footer": "坐标系 {crs}；比例尺与指北针按该投影计算。底图：{base}。由 luodian-map 生成。",
    "base_outlines": "区界、镇界（地名库）",
    "base_none": "无（没有该镇的地名库）",
    "labels_omitted": "因空间不足未标注名称的 {n} 处：\n{names}",
}


@dataclass(frozen=True)
class PrintPlan:
    """What a print map shows, decided before anything is drawn.

    Attributes
    ----------
    title : str
        The page title (town and years).
    years : tuple of int
        The years of the items on the page.
    places : GeoDataFrame
        The features drawn as places (WGS-84), sorted by id.
    withheld : dict
        Category id → number of items not drawn as places (town-level aggregates and
        items without geometry; with ``public``, also every place not surveyed or sourced).
    public : bool
        Whether only :data:`PUBLIC_PRECISIONS` are drawn.
    reports : tuple of str
        The reports the items come from.
    """

    title: str
    years: tuple[int, ...]
    places: gpd.GeoDataFrame
    withheld: dict[str, int]
    public: bool
    reports: tuple[str, ...]


@dataclass(frozen=True)
class PrintedMap:
    """The result of :func:`render_print`.

    Attributes
    ----------
    path : Path
        The file written.
    plan : PrintPlan
        What was drawn and what was listed instead.
    labels : tuple of Label
        Place names written on the map, with their boxes.
    labels_omitted : tuple of str
        Place names left out because no position around the place was free (listed in
        the side panel instead).
    base : dict
        Base layer (``district``, ``town``, ``water``, ``river``, ``road``) → features drawn.
    crs : str
        The projected CRS the map is drawn in.
    basemap : {"tiles", "vector"}
        What is under the data: raster tiles, or the vector base of ``base``.
    map_box, legend_box : tuple of float
        The map frame and the legend (with the boxes of the side panel) as pixel boxes
        ``(left, top, right, bottom)`` of the page at 300 dpi, as in the PNG.
    """

    path: Path
    plan: PrintPlan
    labels: tuple[Label, ...]
    labels_omitted: tuple[str, ...]
    base: dict[str, int]
    crs: str
    basemap: str
    map_box: tuple[float, float, float, float]
    legend_box: tuple[float, float, float, float]


class Label(NamedTuple):
    """A place name on the map and its box in page pixels ``(left, top, right, bottom)``."""

    name: str
    box: tuple[float, float, float, float]


# ------------------------------------------------------------------------ what to draw
def plan_print(
    features: gpd.GeoDataFrame,
    *,
    year: int | None = None,
    public: bool = False,
    title: str | None = None,
) -> PrintPlan:
    """Choose the places to draw and the items to list instead.

    Parameters
    ----------
    features : GeoDataFrame
        The layers' features (WGS-84, the columns of DESIGN.md).
    year : int, optional
        Only the items of this year.
    public : bool
        Draw only surveyed or sourced places; count the rest as "位置待核实".
    title : str, optional
        The title; by default the towns' names and the years.

    Returns
    -------
    PrintPlan

    Raises
    ------
    InputError
        No items (of ``year``) in ``features``.
    """
    if year is not None:
        years_present = sorted({int(y) for y in features["year"].dropna()})
        features = features[features["year"].astype("Int64") == int(year)]
        if features.empty:
            raise InputError(
                f"no items of {year} in the layers (years: "
                f"{', '.join(map(str, years_present)) or 'none'})"
            )
    if features.empty:
        raise InputError("no items in the layers: nothing to print")
    features = features.sort_values("id", kind="stable")
    geoms = features.geometry.to_numpy()
    has_place = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    precision = features["precision"].to_numpy()
    drawn = has_place & (precision != "town")
    if public:
        drawn &= np.isin(precision, PUBLIC_PRECISIONS)
    withheld = Counter(features.loc[~drawn, "category"])
    years = tuple(sorted({int(y) for y in features["year"].dropna()}))
    towns = sorted({t for t in features["town"].dropna() if t})
    if title is None:
        span = f"{years[0]}–{years[-1]}" if len(years) > 1 else f"{years[0]}"
        title = STRINGS["title"].format(town="、".join(towns)) + "（{}）".format(
            STRINGS["years"].format(years=span)
        )
    return PrintPlan(
        title=title,
        years=years,
        places=features[drawn],
        withheld={c: withheld[c] for c in _category_order(withheld)},
        public=public,
        reports=tuple(sorted({r for r in features["report"].dropna() if r})),
    )


def _category_order(ids: Iterable[str]) -> list[str]:
    ids = set(ids)
    return [c for c in CATEGORIES if c in ids] + sorted(ids - set(CATEGORIES))


def _category_label(category: str) -> str:
    return CATEGORIES[category].label_zh if category in CATEGORIES else category


def _category_color(category: str) -> str:
    return CATEGORIES[category].color if category in CATEGORIES else "#555555"


# ------------------------------------------------------------------------ the vector base
def read_base(gazetteers: Iterable[str | os.PathLike[str]]) -> gpd.GeoDataFrame:
    """The offline vector base of the towns: outlines, roads, rivers and water.

    Parameters
    ----------
    gazetteers : paths
        Town gazetteer files (``geodata/<town>/gazetteer.geojson``). Their ``district``
        and ``town`` features give the outlines; the place files in the ``sources/``
        folder beside each (:func:`luodian_map.places.sources.read_place_files`) give the
        places of kind ``park``, ``water``, ``river`` and ``road``.

    Returns
    -------
    GeoDataFrame
        Columns ``layer`` (``district``, ``town``, ``park``, ``water``, ``river``, ``road``),
        ``name``, ``precision``, ``source``; WGS-84.
    """
    import geopandas as gpd

    from .gazetteer import load_gazetteer

    frames = []
    for path in sorted({Path(p) for p in gazetteers}):
        gazetteer = load_gazetteer(path)
        outlines = gazetteer[gazetteer["kind"].isin(("district", "town"))]
        frames.append(
            gpd.GeoDataFrame(
                {
                    "layer": outlines["kind"],
                    "name": outlines["name"],
                    "precision": outlines["precision"],
                    "source": "gazetteer",
                },
                geometry=outlines.geometry,
                crs="EPSG:4326",
            )
        )
        frames.append(_place_file_base(path.parent))
    frames = [f for f in frames if not f.empty]
    if not frames:
        return gpd.GeoDataFrame(
            {"layer": [], "name": [], "precision": [], "source": []},
            geometry=[],
            crs="EPSG:4326",
        )
    return gpd.GeoDataFrame(gpd.pd.concat(frames, ignore_index=True), crs="EPSG:4326")


def _place_file_base(town_folder: Path) -> gpd.GeoDataFrame:
    """Parks, water, rivers and roads of a town's place files, each credited to its file's
    attribution (or source)."""
    import geopandas as gpd

    from .places.sources import SOURCES_FOLDER, place_file_metadata, read_place_files

    places = read_place_files(town_folder)
    places = places[places["kind"].isin(BASE_LAYERS)]
    credits = {
        name: str(meta.get("attribution") or meta.get("source"))
        for name in sorted(set(places["file"]))
        for meta in [place_file_metadata(town_folder / SOURCES_FOLDER / name)]
    }
    return gpd.GeoDataFrame(
        {
            "layer": places["kind"],
            "name": places["name"],
            "precision": places["precision"],
            "source": places["file"].map(credits),
        },
        geometry=places.geometry,
        crs="EPSG:4326",
    )


def _family(geoms: np.ndarray) -> np.ndarray:
    """``point``, ``line``, ``polygon`` or ``""`` per geometry (multi-parts by their parts)."""
    kind = shapely.get_type_id(geoms)
    return np.select(
        [np.isin(kind, (0, 4)), np.isin(kind, (1, 2, 5)), np.isin(kind, (3, 6))],
        ["point", "line", "polygon"],
        default="",
    )


# ------------------------------------------------------------------------ drawing
def render_print(
    features: gpd.GeoDataFrame,
    path: str | os.PathLike[str],
    *,
    fmt: str = "pdf",
    base: gpd.GeoDataFrame | None = None,
    year: int | None = None,
    paper: str = "a3",
    public: bool = False,
    title: str | None = None,
    tiles: TileSource | None = None,
) -> PrintedMap:
    """Draw a print map of ``features`` and write it to ``path`` (atomically).

    Parameters
    ----------
    features : GeoDataFrame
        The layers' features (WGS-84, the columns of DESIGN.md).
    path : path
        The file to write.
    fmt : {"pdf", "png"}
        PDF (vector, fonts embedded) or PNG at 300 dpi.
    base : GeoDataFrame, optional
        The vector base from :func:`read_base`.
    year : int, optional
        Only the items of this year.
    paper : {"a3", "a4"}
        Landscape page size.
    public : bool
        Draw only surveyed or sourced places (see :func:`plan_print`).
    title : str, optional
        The title; by default the towns' names and the years.
    tiles : TileSource, optional
        Raster tiles under the data when they are cached or answer in time (see
        :mod:`luodian_map.tiles`); otherwise, and by default, the vector base.

    Returns
    -------
    PrintedMap

    Raises
    ------
    LuodianMapError
        Unknown format or paper, no items, or no font with Chinese glyphs installed.
    """
    if fmt not in FORMATS:
        raise LuodianMapError(f"unknown print format {fmt!r}; use one of {', '.join(FORMATS)}")
    if paper not in PAPERS:
        raise LuodianMapError(f"unknown paper {paper!r}; use one of {', '.join(PAPERS)}")
    plan = plan_print(features, year=year, public=public, title=title)
    if base is None:
        base = read_base([])
    figure, drawn = _draw(plan, base, paper, tiles)
    buffer = io.BytesIO()
    if fmt == "pdf":
        metadata = {"Title": plan.title, "Creator": "luodian-map", "CreationDate": None}
        with _style():
            figure.savefig(buffer, format="pdf", metadata=metadata)
    else:
        with _style():
            figure.savefig(buffer, format="png", dpi=DPI, metadata={"Software": "luodian-map"})
    path = write_atomic(path, buffer.getvalue())
    return PrintedMap(path=path, plan=plan, **drawn)


def _style() -> AbstractContextManager[None]:
    """CJK text drawn in the installed Noto (or other CJK) font, embedded as TrueType."""
    import matplotlib

    font = cjk_font()
    if font is None:
        raise LuodianMapError(
            "no font with Chinese glyphs installed (e.g. Debian fonts-noto-cjk): "
            "a printed map would show empty boxes"
        )
    return matplotlib.rc_context(
        {
            "font.family": "sans-serif",
            "font.sans-serif": [font, "DejaVu Sans"],
            "axes.unicode_minus": False,
            "pdf.fonttype": 42,
            "path.simplify": False,
            "hatch.linewidth": 0.5,
        }
    )


def cjk_font() -> str | None:
    """The first installed font of :data:`luodian_map.charts.CJK_FONTS`, or None."""
    from matplotlib import font_manager

    from . import charts

    available = {f.name for f in font_manager.fontManager.ttflist}
    return next((name for name in charts.CJK_FONTS if name in available), None)


class _Page:
    """Page geometry in millimetres, and font sizes scaled to the page."""

    def __init__(self, paper: str) -> None:
        px_w, px_h = PAPERS[paper]
        self.name = paper
        self.width_mm, self.height_mm = px_w / DPI * 25.4, px_h / DPI * 25.4
        self.scale = px_w / A3_WIDTH_PX  # fonts and line widths: A3 = 1
        self.figsize = (px_w / DPI, px_h / DPI)

    def box(
        self, left: float, bottom: float, width: float, height: float
    ) -> tuple[float, float, float, float]:
        """Figure fractions of a rectangle given in millimetres."""
        return (
            left / self.width_mm,
            bottom / self.height_mm,
            width / self.width_mm,
            height / self.height_mm,
        )

    def pt(self, size: float) -> float:
        return size * self.scale


def _draw(
    plan: PrintPlan, base: gpd.GeoDataFrame, paper: str, tiles: TileSource | None
) -> tuple[Figure, dict[str, Any]]:
    """The page as a matplotlib figure, and the counts of what was drawn."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    class Canvas(FigureCanvasAgg):
        def draw_idle(self, *args: Any, **kwargs: Any) -> None:
            """Nothing: geopandas asks for a redraw after each layer; the page is drawn
            once, when it is saved."""

    page = _Page(paper)
    figure = Figure(figsize=page.figsize, dpi=DPI)
    Canvas(figure)
    margin, side, header, footer = (
        12 * page.scale,
        96 * page.scale,
        26 * page.scale,
        12 * page.scale,
    )
    map_w = page.width_mm - 2 * margin - side - 6 * page.scale
    map_h = page.height_mm - margin - header - footer
    ax = figure.add_axes(page.box(margin, footer, map_w, map_h))
    panel = figure.add_axes(
        page.box(page.width_mm - margin - side, footer, side, map_h), label="panel"
    )
    panel.set_axis_off()

    with _style(), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Glyph .* missing from")
        crs = _map_crs(plan.places, base)
        places = plan.places.to_crs(crs)
        base_m = base.to_crs(crs)
        _set_extent(ax, places, base_m, aspect=map_h / map_w)
        tiled = tiles is not None and _draw_tiles(ax, tiles, crs)
        base_counts = _draw_base(ax, base_m, page, tiled=tiled)
        _draw_places(ax, places, page)
        ax.set_xlabel("")  # geopandas names the projected axes; the footer names the CRS
        ax.set_ylabel("")
        obstacles = [
            _scale_bar(ax, page),
            _north_arrow(ax, plan.places, base, crs, page),
        ]
        labels, omitted = _place_labels(ax, places, obstacles, page)
        _header(figure, plan, page, margin, header)
        legend_box = _side_panel(panel, plan, base_counts, _town_exact(base), places, page, omitted)
        figure.text(
            margin / page.width_mm,
            4 * page.scale / page.height_mm,
            STRINGS["footer"].format(
                crs=f"{crs.name}（EPSG:{crs.to_epsg()}）",
                base=_credits(base, tiles.attribution if tiled and tiles is not None else None),
            ),
            fontsize=page.pt(8),
            color="#555555",
        )
    drawn = {
        "labels": labels,
        "labels_omitted": omitted,
        "base": base_counts,
        "crs": f"EPSG:{crs.to_epsg()}",
        "basemap": "tiles" if tiled else "vector",
        "map_box": _pixels(ax.get_window_extent(), _renderer(figure)),
        "legend_box": legend_box,
    }
    return figure, drawn


def _renderer(figure: Figure | SubFigure) -> RendererAgg:
    """The renderer of the figure's Agg canvas (every page is drawn on one, see _draw)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = figure.canvas
    assert isinstance(canvas, FigureCanvasAgg)
    renderer: RendererAgg = canvas.get_renderer()
    return renderer


def _map_crs(places: gpd.GeoDataFrame, base: gpd.GeoDataFrame) -> CRS:
    """The UTM zone of the town (or of the places, when no outline is known)."""
    import geopandas as gpd

    towns = base[base["layer"] == "town"]
    reference = towns if not towns.empty else places
    if reference.empty:
        reference = base
    if reference.empty:
        raise InputError("nothing to draw: no places and no town outline")
    return gpd.GeoSeries(reference.geometry.to_numpy(), crs="EPSG:4326").estimate_utm_crs()


def _set_extent(
    ax: Axes, places: gpd.GeoDataFrame, base: gpd.GeoDataFrame, *, aspect: float
) -> None:
    """The town and every place, padded, widened to the axes' shape (metres, no distortion)."""
    towns = base[base["layer"] == "town"]
    parts = [g for g in (towns.geometry, places.geometry) if len(g)]
    bounds = np.array([g.total_bounds for g in parts])
    x0, y0 = bounds[:, :2].min(axis=0)
    x1, y1 = bounds[:, 2:].max(axis=0)
    pad = 0.05 * max(x1 - x0, y1 - y0, 500.0)
    x0, y0, x1, y1 = x0 - pad, y0 - pad, x1 + pad, y1 + pad
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    width = max(x1 - x0, (y1 - y0) / aspect)
    ax.set_xlim(cx - width / 2, cx + width / 2)
    ax.set_ylim(cy - width * aspect / 2, cy + width * aspect / 2)
    outlined = base["layer"].isin(("district", "town")).any()
    ax.set_facecolor(BASE_STYLE["outside"] if outlined else BASE_STYLE["town"])
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_linewidth(0.8)


def _draw_tiles(ax: Axes, tiles: TileSource, crs: CRS) -> bool:
    """The tiles under the map, warped to its CRS; False when they cannot be had."""
    from pyproj import Transformer

    from .tiles import fetch_mosaic, warp

    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    to_wgs84 = Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
    mosaic = fetch_mosaic(tiles, to_wgs84.transform_bounds(x0, y0, x1, y1))
    if mosaic is None:
        return False
    box = ax.get_window_extent()
    shape = (int(box.height / 2), int(box.width / 2))  # 150 dpi: finer than the tiles
    image = warp(mosaic, crs, (x0, x1, y0, y1), shape)
    ax.imshow(image, extent=(x0, x1, y0, y1), origin="upper", zorder=0.5, interpolation="none")
    return True


def _draw_base(
    ax: Axes, base: gpd.GeoDataFrame, page: _Page, *, tiled: bool = False
) -> dict[str, int]:
    """District and town fills and outlines, water, rivers and roads; over tiles only the
    outlines, with a white veil outside the town."""
    counts: dict[str, int] = {}
    if tiled:
        base = base[base["layer"].isin(("district", "town"))]
    district = base[base["layer"] == "district"]
    town = base[base["layer"] == "town"]
    district_line: dict[str, Any] = {
        "edgecolor": "#7a7a7a",
        "linewidth": page.pt(1.4),
        "linestyle": (0, (8, 2, 1.5, 2)),
        "zorder": 1,
    }
    if tiled and not town.empty:
        x0, x1 = ax.get_xlim()
        y0, y1 = ax.get_ylim()
        veil = shapely.box(x0, y0, x1, y1).difference(shapely.union_all(town.geometry.to_numpy()))
        town.iloc[:1].set_geometry([veil], crs=town.crs).plot(
            ax=ax, facecolor="#ffffff", alpha=0.45, edgecolor="none", zorder=1
        )
    if not district.empty:
        district.plot(ax=ax, facecolor="none" if tiled else BASE_STYLE["district"], **district_line)
    if not town.empty and not tiled:
        town.plot(ax=ax, facecolor=BASE_STYLE["town"], edgecolor="none", zorder=2)
    park = base[base["layer"] == "park"]
    if not park.empty:
        park.plot(ax=ax, facecolor=BASE_STYLE["park"], edgecolor="none", zorder=3)
    water = base[base["layer"] == "water"]
    if not water.empty:
        water.plot(ax=ax, facecolor=BASE_STYLE["water"], edgecolor="none", zorder=3)
    river = base[base["layer"] == "river"]
    if not river.empty:
        river.plot(ax=ax, color=BASE_STYLE["river"], linewidth=page.pt(1.2), zorder=3)
    road = base[base["layer"] == "road"]
    if not road.empty:
        road.plot(ax=ax, color=BASE_STYLE["road"], linewidth=page.pt(1.0), zorder=3.5)
    if not town.empty:
        town.boundary.plot(
            ax=ax,
            color=BASE_STYLE["outline"],
            linewidth=page.pt(1.8),
            linestyle="-" if _town_exact(base) else TOWN_DASH,
            zorder=4,
        )
    for layer in ("district", "town", *BASE_LAYERS):
        n = int((base["layer"] == layer).sum())
        if n:
            counts[layer] = n
    return counts


def _town_exact(base: gpd.GeoDataFrame) -> bool:
    """Whether every town outline is surveyed or sourced (else it is drawn dashed)."""
    return bool(base.loc[base["layer"] == "town", "precision"].isin(PUBLIC_PRECISIONS).all())


def _draw_places(ax: Axes, places: gpd.GeoDataFrame, page: _Page) -> None:
    """Each category in its colour; approximate places dashed and hollow."""
    if places.empty:
        return
    exploded = places.explode(index_parts=False)
    family = _family(exploded.geometry.to_numpy())
    uncertain = ~exploded["precision"].isin(PUBLIC_PRECISIONS).to_numpy()
    for category in _category_order(exploded["category"]):
        color = _category_color(category)
        mine = (exploded["category"] == category).to_numpy()
        for hollow in (False, True):
            sel = mine & (uncertain == hollow)
            polygons = exploded[sel & (family == "polygon")]
            if not polygons.empty:
                polygons.plot(
                    ax=ax,
                    facecolor=_rgba(color, 0.12 if hollow else 0.3),
                    edgecolor=color,
                    linewidth=page.pt(1.6),
                    linestyle=UNCERTAIN_DASH if hollow else "-",
                    zorder=5,
                )
            lines = exploded[sel & (family == "line")]
            if not lines.empty:
                lines.plot(
                    ax=ax,
                    color=color,
                    linewidth=page.pt(2.6),
                    linestyle=UNCERTAIN_DASH if hollow else "-",
                    zorder=6,
                )
            points = exploded[sel & (family == "point")]
            if not points.empty:
                ax.scatter(
                    points.geometry.x,
                    points.geometry.y,
                    s=page.pt(7) ** 2,
                    facecolors="#ffffff" if hollow else color,
                    edgecolors=color if hollow else "#ffffff",
                    linewidths=page.pt(2.0 if hollow else 1.2),
                    linestyle=(0, (2, 1)) if hollow else "-",
                    zorder=7,
                )


def _rgba(color: str, alpha: float) -> tuple[float, float, float, float]:
    from matplotlib.colors import to_rgba

    return to_rgba(color, alpha)


def _scale_bar(ax: Axes, page: _Page) -> Bbox:
    """A metric scale bar in the lower left (true metres: the map is in UTM); its box."""
    from matplotlib.patches import Rectangle

    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    width_m = x1 - x0
    length = _nice_length(width_m / 5)
    ax_w_mm = ax.get_position().width * page.width_mm
    denominator = int(round(width_m / (ax_w_mm / 1000), -2))
    left, bottom = x0 + 0.03 * width_m, y0 + 0.04 * (y1 - y0)
    height = 0.012 * (y1 - y0)
    texts = []
    for i in range(4):
        ax.add_patch(
            Rectangle(
                (left + i * length / 4, bottom),
                length / 4,
                height,
                facecolor="#222222" if i % 2 == 0 else "#ffffff",
                edgecolor="#222222",
                linewidth=page.pt(0.8),
                zorder=10,
            )
        )
    for fraction in (0, 0.5, 1):
        metres = length * fraction
        text = f"{metres / 1000:g} km" if fraction == 1 else f"{metres / 1000:g}"
        texts.append(
            ax.text(
                left + fraction * length,
                bottom + 1.4 * height,
                text,
                ha="center",
                va="bottom",
                fontsize=page.pt(9),
                zorder=10,
            )
        )
    texts.append(
        ax.text(
            left,
            bottom - 0.6 * height,
            STRINGS["scale"].format(denominator=denominator) + f"（{page.name.upper()}）",
            ha="left",
            va="top",
            fontsize=page.pt(8.5),
            color="#333333",
            zorder=10,
        )
    )
    return _backdrop(ax, texts, page, extra=[(left, bottom), (left + length, bottom + height)])


def _nice_length(target: float) -> float:
    """The largest 1, 2 or 5 × 10ⁿ metres not above ``target``."""
    exponent = math.floor(math.log10(max(target, 1.0)))
    return float(max(m * 10**exponent for m in (1, 2, 5) if m * 10**exponent <= target))


def _north_arrow(
    ax: Axes, places: gpd.GeoDataFrame, base: gpd.GeoDataFrame, crs: CRS, page: _Page
) -> Bbox:
    """An arrow to true north (grid north turned by the meridian convergence); its box."""
    import geopandas as gpd
    from matplotlib.patches import Polygon as PolygonPatch

    reference = base[base["layer"] == "town"] if (base["layer"] == "town").any() else places
    lon, lat = shapely.centroid(shapely.union_all(reference.geometry.to_numpy())).coords[0]
    pair = gpd.GeoSeries(
        [shapely.Point(lon, lat), shapely.Point(lon, lat + 0.01)], crs="EPSG:4326"
    ).to_crs(crs)
    dx, dy = np.diff(shapely.get_coordinates(pair.to_numpy()), axis=0)[0]
    angle = math.atan2(dx, dy)  # clockwise from grid north
    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    size = 0.06 * (y1 - y0)
    cx, cy = x1 - 0.05 * (x1 - x0), y1 - 0.1 * (y1 - y0)

    def turned(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
        c, s = math.cos(angle), math.sin(angle)
        return [(cx + x * c + y * s, cy - x * s + y * c) for x, y in points]

    half = size / 2
    ax.add_patch(
        PolygonPatch(
            turned([(0, half), (-0.35 * half, -half), (0, -0.55 * half)]),
            facecolor="#222222",
            edgecolor="#222222",
            linewidth=page.pt(0.8),
            zorder=10,
        )
    )
    ax.add_patch(
        PolygonPatch(
            turned([(0, half), (0.35 * half, -half), (0, -0.55 * half)]),
            facecolor="#ffffff",
            edgecolor="#222222",
            linewidth=page.pt(0.8),
            zorder=10,
        )
    )
    (tx, ty) = turned([(0, half * 1.15)])[0]
    label = ax.text(
        tx,
        ty,
        f"{STRINGS['north']} N",
        ha="center",
        va="bottom",
        fontsize=page.pt(11),
        fontweight="bold",
        zorder=10,
    )
    return _backdrop(ax, [label], page, extra=[(cx - half, cy - half), (cx + half, cy + half)])


def _backdrop(
    ax: Axes, texts: list[Text], page: _Page, *, extra: list[tuple[float, float]]
) -> Bbox:
    """A white box behind a map furniture element (texts and data points); its display box."""
    from matplotlib.patches import FancyBboxPatch
    from matplotlib.transforms import Bbox

    renderer = _renderer(ax.figure)
    boxes = [t.get_window_extent(renderer) for t in texts]
    boxes.append(Bbox(ax.transData.transform(np.array(extra))))
    box = Bbox.union(boxes).expanded(1.0, 1.0).padded(page.pt(6) * DPI / 72)
    (x0, y0), (x1, y1) = ax.transData.inverted().transform(box.get_points())
    ax.add_patch(
        FancyBboxPatch(
            (x0, y0),
            x1 - x0,
            y1 - y0,
            boxstyle="round,pad=0",
            facecolor="#ffffff",
            edgecolor="#999999",
            alpha=0.85,
            linewidth=page.pt(0.6),
            zorder=9,
        )
    )
    return box


# ------------------------------------------------------------------------ labels
# Candidate positions around an anchor: offset direction (x, y) and text alignment.
_RINGS = (1, 3, 6)  # then the same directions farther out, still beside the place
_HAlign = Literal["left", "center", "right"]
_VAlign = Literal["bottom", "center", "top"]
_SPOTS: tuple[tuple[tuple[float, float], _HAlign, _VAlign], ...] = (
    ((1, 0), "left", "center"),
    ((-1, 0), "right", "center"),
    ((0, 1), "center", "bottom"),
    ((0, -1), "center", "top"),
    ((0.8, 0.8), "left", "bottom"),
    ((-0.8, 0.8), "right", "bottom"),
    ((0.8, -0.8), "left", "top"),
    ((-0.8, -0.8), "right", "top"),
)


def _label_anchors(places: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """One anchor per distinct name and place, in the order labels are placed:
    sourced places first, then by category and name."""
    geoms = places.geometry.to_numpy()
    anchors = places.assign(
        anchor=shapely.point_on_surface(geoms),
        rank=(~places["precision"].isin(PUBLIC_PRECISIONS)).astype(int),
        order=places["category"].map({c: i for i, c in enumerate(CATEGORIES)}).fillna(99),
        point=(_family(geoms) == "point"),
    )
    anchors["x"] = shapely.get_x(anchors["anchor"].to_numpy()).round(-1)
    anchors["y"] = shapely.get_y(anchors["anchor"].to_numpy()).round(-1)
    anchors = anchors.drop_duplicates(["name", "x", "y"])
    return anchors.sort_values(["rank", "order", "name", "id"], kind="stable")


def _place_labels(
    ax: Axes, places: gpd.GeoDataFrame, obstacles: list[Bbox], page: _Page
) -> tuple[tuple[Label, ...], tuple[str, ...]]:
    """Greedy placement: each name goes to the first spot around its place whose box (as
    the renderer measures it) is inside the map and clear of the placed names, the point
    symbols and the map furniture; a name with no free spot is left out (and returned)."""
    from matplotlib.transforms import Bbox

    if places.empty:
        return (), ()
    renderer = _renderer(ax.figure)
    frame = ax.get_window_extent(renderer).padded(-page.pt(3) * DPI / 72)
    anchors = _label_anchors(places)
    marker_r = page.pt(7) / 2 * DPI / 72 + 2
    points = anchors.loc[anchors["point"], ["x", "y"]].to_numpy(dtype=float)
    taken = [
        Bbox.from_extents(x - marker_r, y - marker_r, x + marker_r, y + marker_r)
        for x, y in ax.transData.transform(points)
    ]
    taken += obstacles
    placed, omitted = [], []
    gap_pt = page.pt(7) / 2 + page.pt(2.5)
    for name, x, y, is_point in anchors[["name", "x", "y", "point"]].itertuples(index=False):
        label = ax.annotate(
            name,
            (x, y),
            xytext=(0, 0),
            textcoords="offset points",
            fontsize=page.pt(8),
            color="#1a1a1a",
            zorder=8,
        )
        gap = gap_pt if is_point else page.pt(2)
        spots = [(ring * gap, spot) for ring in _RINGS for spot in _SPOTS]
        for distance, ((dx, dy), ha, va) in spots:
            label.xyann = (dx * distance, dy * distance)
            label.set_horizontalalignment(ha)
            label.set_verticalalignment(va)
            box = label.get_window_extent(renderer)
            inside = frame.contains(box.x0, box.y0) and frame.contains(box.x1, box.y1)
            if inside and not any(box.overlaps(other) for other in taken):
                taken.append(box)
                placed.append(Label(name, _pixels(box, renderer)))
                _halo(ax, label, page)
                break
        else:
            label.remove()
            omitted.append(name)
    return tuple(placed), tuple(omitted)


def _halo(ax: Axes, label: Annotation, page: _Page) -> None:
    """A white outline under a label, drawn as a path by a copy of it: the label itself
    stays text in the PDF (a path effect on it would turn it into outlines)."""
    import matplotlib.patheffects as effects

    halo = ax.annotate(
        label.get_text(),
        label.xy,
        xytext=label.xyann,
        textcoords="offset points",
        fontsize=label.get_fontsize(),
        ha=label.get_horizontalalignment(),
        va=label.get_verticalalignment(),
        color="#ffffff",
        zorder=label.get_zorder() - 0.1,
        path_effects=[effects.Stroke(linewidth=page.pt(2.5), foreground="#ffffff")],
    )
    halo.set_in_layout(False)


def _pixels(box: Bbox, renderer: RendererAgg) -> tuple[float, float, float, float]:
    """A display box as PNG pixels (left, top, right, bottom): y counted from the top."""
    height = renderer.height
    return (
        round(float(box.x0), 1),
        round(float(height - box.y1), 1),
        round(float(box.x1), 1),
        round(float(height - box.y0), 1),
    )


# ------------------------------------------------------------------------ header and panel
def _header(figure: Figure, plan: PrintPlan, page: _Page, margin: float, header: float) -> None:
    top = 1 - margin / page.height_mm
    figure.text(
        margin / page.width_mm,
        top,
        plan.title,
        ha="left",
        va="top",
        fontsize=page.pt(24),
        fontweight="bold",
    )
    figure.text(
        margin / page.width_mm,
        top - 13 * page.scale / page.height_mm,
        STRINGS["subtitle"].format(n=len(plan.places), reports="、".join(plan.reports) or "—"),
        ha="left",
        va="top",
        fontsize=page.pt(11),
        color="#444444",
    )
    figure.text(
        1 - margin / page.width_mm,
        top,
        " / ".join(STRINGS["years"].format(years=y) for y in plan.years),
        ha="right",
        va="top",
        fontsize=page.pt(24),
        fontweight="bold",
        color="#444444",
    )


def _legend_handles(
    plan: PrintPlan, places: gpd.GeoDataFrame, page: _Page
) -> tuple[list[Artist], list[str]]:
    """(handles, labels) of the categories present, each with its number of places."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    handles: list[Artist] = []
    labels: list[str] = []
    counts = Counter(plan.places["category"])
    shapes = Counter(zip(places["category"], _family(places.geometry.to_numpy()), strict=True))
    family: dict[str, str] = {}  # a category's most frequent shape (ties: alphabetical)
    for (category, shape), _ in sorted(shapes.items(), key=lambda kv: (-kv[1], kv[0])):
        family.setdefault(category, shape)
    for category in _category_order(counts):
        color = _category_color(category)
        shape = family.get(category, "point")
        handle: Artist
        if shape == "polygon":
            handle = Patch(facecolor=_rgba(color, 0.3), edgecolor=color, linewidth=page.pt(1.4))
        elif shape == "line":
            handle = Line2D([], [], color=color, linewidth=page.pt(2.6))
        else:
            handle = Line2D(
                [],
                [],
                linestyle="none",
                marker="o",
                markersize=page.pt(8),
                markerfacecolor=color,
                markeredgecolor="#ffffff",
            )
        handles.append(handle)
        labels.append(STRINGS["count"].format(label=_category_label(category), n=counts[category]))
    return handles, labels


def _precision_handles(
    plan: PrintPlan, base_counts: dict[str, int], base_town_exact: bool, page: _Page
) -> tuple[list[Artist], list[str]]:
    """(handles, labels) of the line styles: precisions, outlines and the vector base."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    handles: list[Artist] = []
    labels: list[str] = []
    uncertain = ~plan.places["precision"].isin(PUBLIC_PRECISIONS)
    if (~uncertain).any():
        handles.append(
            Line2D(
                [],
                [],
                color="#555555",
                marker="o",
                markerfacecolor="#555555",
                markeredgecolor="#ffffff",
                markersize=page.pt(8),
                linewidth=page.pt(2),
            )
        )
        labels.append(STRINGS["located"])
    if uncertain.any():
        metres = plan.places.loc[uncertain, "uncertainty_m"].astype(float)
        handles.append(
            Line2D(
                [],
                [],
                color="#555555",
                linestyle=UNCERTAIN_DASH,
                marker="o",
                markerfacecolor="#ffffff",
                markeredgecolor="#555555",
                markeredgewidth=page.pt(1.8),
                markersize=page.pt(8),
                linewidth=page.pt(2),
            )
        )
        labels.append(
            STRINGS["approximate"].format(
                low=f"{metres.min() / 1000:.1f}", high=f"{metres.max() / 1000:.1f}"
            )
        )
    if "town" in base_counts:
        handles.append(
            Line2D(
                [],
                [],
                color=BASE_STYLE["outline"],
                linewidth=page.pt(1.8),
                linestyle="-" if base_town_exact else TOWN_DASH,
            )
        )
        labels.append(STRINGS["outline"] if base_town_exact else STRINGS["outline_approximate"])
    if "district" in base_counts:
        handles.append(
            Patch(
                facecolor=BASE_STYLE["district"],
                edgecolor="#7a7a7a",
                linewidth=page.pt(1.2),
                linestyle=(0, (8, 2, 1.5, 2)),
            )
        )
        labels.append(STRINGS["district"])
    if "road" in base_counts:
        handles.append(Line2D([], [], color=BASE_STYLE["road"], linewidth=page.pt(1.5)))
        labels.append(STRINGS["road"])
    if "park" in base_counts:
        handles.append(Patch(facecolor=BASE_STYLE["park"], edgecolor="none"))
        labels.append(STRINGS["park"])
    if "river" in base_counts or "water" in base_counts:
        handles.append(Line2D([], [], color=BASE_STYLE["river"], linewidth=page.pt(2)))
        labels.append(STRINGS["river"])
    return handles, labels


def _side_panel(
    panel: Axes,
    plan: PrintPlan,
    base_counts: dict[str, int],
    town_exact: bool,
    places: gpd.GeoDataFrame,
    page: _Page,
    omitted: tuple[str, ...],
) -> tuple[float, float, float, float]:
    """Legend, then the box of items not drawn as places, stacked from the top; the pixel
    box of all of it."""
    from matplotlib.legend import Legend
    from matplotlib.transforms import Bbox

    renderer = _renderer(panel.figure)
    panel_box = panel.get_window_extent(renderer)
    gap = page.pt(10) * DPI / 72

    def next_y(artist: Artist) -> float:
        return float(artist.get_window_extent(renderer).y0 - gap)

    def axes_y(display_y: float) -> float:
        return float((display_y - panel_box.y0) / panel_box.height)

    common: dict[str, Any] = {
        "loc": "upper left",
        "frameon": False,
        "fontsize": page.pt(10),
        "handlelength": 2.6,
        "borderaxespad": 0,
        "labelspacing": 0.7,
    }
    handles, labels = _legend_handles(plan, places, page)
    heading = panel.text(0, 1, STRINGS["legend"], va="top", fontsize=page.pt(14), fontweight="bold")
    y = next_y(heading)
    if handles:
        legend = Legend(panel, handles, labels, bbox_to_anchor=(0, axes_y(y)), **common)
        panel.add_artist(legend)
        y = next_y(legend)
    else:
        y = next_y(panel.text(0, axes_y(y), STRINGS["none_drawn"], va="top", fontsize=page.pt(10)))
    handles, labels = _precision_handles(plan, base_counts, town_exact, page)
    if handles:
        legend = Legend(
            panel,
            handles,
            labels,
            bbox_to_anchor=(0, axes_y(y)),
            **{**common, "fontsize": page.pt(8.5)},
        )
        panel.add_artist(legend)
        y = next_y(legend)
    total = sum(plan.withheld.values())
    if total:
        head = (STRINGS["unverified"] if plan.public else STRINGS["withheld"]).format(n=total)
        note = STRINGS["unverified_note"] if plan.public else STRINGS["withheld_note"]
        rows = [
            STRINGS["count"].format(label=_category_label(c), n=n) for c, n in plan.withheld.items()
        ]
        body = panel.text(
            0.02,
            axes_y(y) - 0.01,
            f"{head}\n{note}\n" + "\n".join(rows),
            va="top",
            fontsize=page.pt(9.5),
            linespacing=1.5,
            bbox={
                "boxstyle": "round,pad=0.6",
                "facecolor": "#f7f7f7",
                "edgecolor": "#999999",
                "linewidth": page.pt(0.8),
            },
        )
        y = next_y(body) - gap
    drawn = [a.get_window_extent(renderer) for a in (*panel.texts, *panel.artists)]
    if omitted:
        names = "\n".join(textwrap.wrap("、".join(omitted), width=30))
        panel.text(
            0.02,
            axes_y(y),
            STRINGS["labels_omitted"].format(n=len(omitted), names=names),
            va="top",
            fontsize=page.pt(8.5),
            color="#555555",
            linespacing=1.5,
        )
    return _pixels(Bbox.union(drawn), renderer)


def _credits(base: gpd.GeoDataFrame, tiles: str | None) -> str:
    """Where the base comes from: the tiles, the gazetteer outlines and each place file's
    source (place files are not drawn over tiles)."""
    sources = sorted({str(s) for s in base.loc[base["layer"].isin(BASE_LAYERS), "source"]})
    outlines = [STRINGS["base_outlines"]] if base["layer"].isin(("district", "town")).any() else []
    drawn = [*([tiles] if tiles else []), *outlines, *([] if tiles else sources)]
    return "；".join(drawn) or STRINGS["base_none"]
