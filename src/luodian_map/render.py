"""Web maps of the features: one HTML file per map, filterable by year × category × status.

:func:`render_map` builds a folium map whose own parts are small ``MacroElement`` classes
with Jinja templates (``templates/*.j2``), the way folium plugins are built; the page
logic they call lives in ``templates/luodian_map.js`` and is inlined into every page.

* Data goes into the page once, as JSON safe inside ``<script>`` (``<``, ``>``, ``&`` are
  ``\\u`` escapes), and every report string reaches the DOM through ``textContent``: a
  ``<script>`` in a quote stays text.
* The data is compact (:func:`_compact`): one column per property, a column of few
  distinct values as a dictionary and one index per feature; all coordinates as one string
  of delta-encoded integers (micro-degrees, Google's encoded-polyline characters). Tens of
  thousands of features stay a few MB and parse fast; the page draws them on one canvas.
* Output is deterministic: features are sorted by id, coordinates rounded to six decimals,
  JSON keys sorted, and folium's random element ids replaced by a counter.
* ``self_contained=True`` inlines every script, stylesheet and image from the asset cache
  filled by :func:`luodian_map.assets.fetch_assets`; nothing is downloaded while rendering.
"""

from __future__ import annotations

import contextlib
import functools
import html
import itertools
import json
import math
import os
import threading
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from ._io import write_atomic
from .categories import CATEGORIES, GUESS_PRECISIONS, PRECISIONS, PUBLIC_PRECISIONS, STATUSES
from .errors import LuodianMapError

if TYPE_CHECKING:
    import geopandas as gpd

BASEMAPS = ("osm", "cartodb", "gaode", "tianditu", "none", "local")
LANGS = ("zh", "en")
TIANDITU_KEY_ENV = "TIANDITU_KEY"
COORD_DECIMALS = 6

PROPERTIES = (
    "id", "name", "category", "category_label", "year", "status", "report", "part",
    "section", "quote", "quantities", "geocoder", "precision", "uncertainty_m", "kind",
    "aggregate", "stated_count", "town", "entity", "parent", "mentions", "follow_up",
)  # fmt: skip
FOLLOW_UPS: dict[str, tuple[str, str]] = {
    "delivered": ("承诺已兑现", "delivered"),
    "in_progress": ("推进中", "in progress"),
    "not_mentioned": ("未提及", "not mentioned"),
    "pending": ("待回顾", "pending"),
    "none": ("非当年承诺", "no promise"),
}  # "none": no follow-up (the entity was not promised for that year)
MENTION_KEYS = ("report", "year", "part", "status", "quote")

UI_STRINGS: dict[str, dict[str, str]] = {
    "zh": {
        "html_lang": "zh-CN",
        "title": "政府工作报告空间要素分布图",
        "title_year": "{title}（{year}年）",
        "subtitle_publication": "共 {n} 项 · 近似位置与镇级汇总见图例",
        "subtitle_public": "公开版：只画出实测或有来源的位置，其余 {n} 项列于“位置待核实”",
        "group_approx": "近似位置",
        "show_approximate": "显示近似位置",
        "pending_title": "位置待核实",
        "pending_count": "{n} 项",
        "pending_note": "以下事项只有手工近似位置或镇级汇总，尚未实测、也没有可靠来源，"
        "所以不画在图上。",
        "pending_none": "没有：所有事项都有实测或有来源的位置",
        "filter": "筛选与图例",
        "collapse": "收起 / 展开",
        "showing": "显示 {n} / {total} 项",
        "group_year": "年份",
        "group_cat": "类别",
        "group_status": "状态",
        "year_value": "{year}年",
        "reset": "全部显示",
        "legend_precision": "定位精度",
        "legend_exact": "实线、实心点",
        "legend_approximate": "虚线、空心点；悬停或点开时以圆显示不确定范围",
        "legend_circles": "始终显示不确定范围",
        "legend_town": "没有具体位置（报告未给出，或地名库里没有）：合为镇中心的一个计数标记，"
        "点开看清单；镇界即其可能范围",
        "legend_follow": "承诺兑现（某年计划的事项，后续报告回顾时怎么说）",
        "group_follow": "承诺兑现",
        "follow_up": "承诺兑现",
        "label_sep": "：",
        "follow_explain_delivered": "{year}年计划的事项，后续报告的回顾称已完成",
        "follow_explain_in_progress": "{year}年计划的事项，后续报告的回顾称仍在推进",
        "follow_explain_not_mentioned": "{year}年计划的事项，后续报告回顾{year}年时未提及",
        "follow_explain_pending": "{year}年计划的事项，还没有回顾{year}年的报告",
        "timeline": "时间线（共 {n} 次提及）",
        "this_mention": "本条",
        "expand": "展开全文",
        "shrink": "收起",
        "part_short_review": "回顾",
        "part_short_plan": "计划",
        "report": "报告",
        "parent": "属于",
        "parent_absent": "（未单独上图）",
        "hidden": "（已被筛选隐藏）",
        "phases": "其他分期",
        "children": "分期",
        "town_group": "镇级汇总 {n}项",
        "town_group_named": "{town} 镇级汇总 {n}项",
        "district_group": "{town} 仅知所在区 {n}项",
        "town_group_title": "镇级汇总：没有具体位置的 {n} 项",
        "district_group_title": "没有该镇的地名库，只知所在区：标在区中心附近，共 {n} 项",
        "town_group_note": "都在镇域内某处，并非镇中心；点击一项查看详情",
        "back_to_group": "← 返回清单",
        "unplaced": "其中未上图 {n} 项",
        "unplaced_title": "未上图的事项（没有可用的位置，也不在上面的地图里）",
        "unplaced_none": "没有",
        "reason_no_town": "没有该镇的地名库，也不知所在区，无法定位",
        "reason_unknown": "没有几何位置",
        "not_on_map": "（未上图）",
        "badge_unplaced": "未上图",
        "outline": "镇域范围（近似）",
        "quantities": "数量",
        "stated_count": "报告所述个数",
        "section": "章节",
        "part": "部分",
        "part_review": "工作回顾",
        "part_plan": "工作安排",
        "quote": "报告原文",
        "located": "定位方式",
        "geocoder": "来源",
        "precision": "精度",
        "uncertainty": "不确定范围",
        "meters": "约 {m} 米",
        "town_note": "没有具体位置（报告未给出，或地名库里没有），标在镇中心附近，需要实测位置",
        "district_note": "没有该镇的地名库，只知所在区，标在区中心附近，需要实测位置",
        "approximate_note": "手工或近似定位，需要实测位置",
        "list_sep": "；",
        "search_placeholder": "搜索名称…",
        "search_none": "没有匹配的要素",
        "search_hidden": "（已被筛选隐藏）",
        "fullscreen": "全屏",
        "fullscreen_exit": "退出全屏",
        "edit_replace": "重新绘制位置",
        "edit_move": "移动现有位置",
        "edit_export": "导出 overrides.geojson",
        "edit_export_title": "下载重新定位的要素（WGS-84），供下次构建使用",
        "edit_export_empty": "还没有重新定位的要素：先点击要素，选择“重新绘制位置”",
        "edit_draw_prompt": "请在地图上绘制「{name}」的实际位置",
        "edit_move_prompt": "拖动「{name}」的节点到实际位置，然后点击工具栏的“保存”",
        "edit_no_target": "请先点击一个要素，选择“重新绘制位置”，再绘制",
        "edit_done": "已记录新位置；完成后点击“导出 overrides.geojson”",
        "edit_new_location": "「{name}」的新位置",
        "edit_cancel": "取消",
        "edit_close": "关闭",
    },
    "en": {
        "html_lang": "en",
        "title": "Places in the government work report",
        "title_year": "{title} ({year})",
        "subtitle_publication": "{n} items · approximate and town-level locations: see legend",
        "subtitle_public": "Public edition: only surveyed or sourced locations are drawn; "
        "{n} more are listed under “Location to be verified”",
        "group_approx": "Approximate locations",
        "show_approximate": "Show approximate locations",
        "pending_title": "Location to be verified",
        "pending_count": "{n} items",
        "pending_note": "These items have only a hand-placed approximate or a town-level "
        "location, neither surveyed nor sourced, so they are not drawn.",
        "pending_none": "None: every item has a surveyed or sourced location",
        "filter": "Filter and legend",
        "collapse": "Collapse / expand",
        "showing": "Showing {n} of {total}",
        "group_year": "Year",
        "group_cat": "Category",
        "group_status": "Status",
        "year_value": "{year}",
        "reset": "Show all",
        "legend_precision": "Location precision",
        "legend_exact": "solid line, filled dot",
        "legend_approximate": "dashed line, hollow dot; hover or click shows the uncertainty "
        "circle",
        "legend_circles": "always show uncertainty circles",
        "legend_town": "no specific place (none given, or not in the gazetteer): one counting "
        "marker at the town centre, click for the list; the town boundary is where they may lie",
        "legend_follow": "Follow-up (what later reviews say of a year's plan)",
        "group_follow": "Follow-up",
        "follow_up": "Follow-up",
        "label_sep": ": ",
        "follow_explain_delivered": "Planned for {year}; a later review says it was completed",
        "follow_explain_in_progress": "Planned for {year}; a later review says it is under way",
        "follow_explain_not_mentioned": "Planned for {year}; the review of {year} does not "
        "mention it",
        "follow_explain_pending": "Planned for {year}; no report reviews {year} yet",
        "timeline": "Timeline ({n} mentions)",
        "this_mention": "this item",
        "expand": "show all",
        "shrink": "show less",
        "part_short_review": "review",
        "part_short_plan": "plan",
        "report": "Report",
        "parent": "Part of",
        "parent_absent": "(not on the map itself)",
        "hidden": "(hidden by the filter)",
        "phases": "Other phases",
        "children": "Phases",
        "town_group": "Town level · {n}",
        "town_group_named": "{town} town level · {n}",
        "district_group": "{town}: district only · {n}",
        "town_group_title": "Town level: {n} items without a specific place",
        "district_group_title": "No gazetteer for the town, only its district is known: "
        "{n} items near the district centre",
        "town_group_note": "Somewhere in the town, not at its centre; click an item for details",
        "back_to_group": "← back to the list",
        "unplaced": "of which {n} not on the map",
        "unplaced_title": "Items not on the map (no usable location)",
        "unplaced_none": "none",
        "reason_no_town": "no gazetteer for the town and its district is unknown",
        "reason_unknown": "no geometry",
        "not_on_map": "(not on the map)",
        "badge_unplaced": "not on the map",
        "outline": "Town boundary (approximate)",
        "quantities": "Quantities",
        "stated_count": "Count stated",
        "section": "Section",
        "part": "Part",
        "part_review": "Review",
        "part_plan": "Plan",
        "quote": "Report text",
        "located": "How it was located",
        "geocoder": "Source",
        "precision": "Precision",
        "uncertainty": "Uncertainty",
        "meters": "about {m} m",
        "town_note": "No specific place (none given, or not in the gazetteer); shown near the "
        "town centre. Needs a survey.",
        "district_note": "No gazetteer for the town, only its district is known; shown near "
        "the district centre. Needs a survey.",
        "approximate_note": "Placed by hand or approximately. Needs a surveyed location.",
        "list_sep": "; ",
        "search_placeholder": "Search by name…",
        "search_none": "No matching feature",
        "search_hidden": "(hidden by the filter)",
        "fullscreen": "Full screen",
        "fullscreen_exit": "Exit full screen",
        "edit_replace": "Draw new location",
        "edit_move": "Move existing",
        "edit_export": "Export overrides.geojson",
        "edit_export_title": "Download the relocated features (WGS-84) for the next build",
        "edit_export_empty": "Nothing relocated yet: click a feature, choose “Draw new location”",
        "edit_draw_prompt": "Draw the true location of “{name}” on the map",
        "edit_move_prompt": "Drag the vertices of “{name}” into place, then press “Save”",
        "edit_no_target": "First click a feature and choose “Draw new location”, then draw",
        "edit_done": "New location recorded; press “Export overrides.geojson” when done",
        "edit_new_location": "new location of “{name}”",
        "edit_cancel": "Cancel",
        "edit_close": "Close",
    },
}

# Chinese labels for the Leaflet.draw toolbar (the English ones ship with the plugin).
_DRAW_LOCAL_ZH: dict[str, Any] = {
    "draw": {
        "toolbar": {
            "actions": {"title": "取消绘制", "text": "取消"},
            "finish": {"title": "完成绘制", "text": "完成"},
            "undo": {"title": "删除最后一个点", "text": "撤销"},
            "buttons": {
                "polyline": "绘制线",
                "polygon": "绘制面",
                "rectangle": "绘制矩形",
                "circlemarker": "绘制点",
            },
        },
        "handlers": {
            "circlemarker": {"tooltip": {"start": "点击地图放置点"}},
            "polygon": {
                "tooltip": {
                    "start": "点击开始绘制面",
                    "cont": "点击继续绘制",
                    "end": "点击第一个点闭合",
                }
            },
            "polyline": {
                "tooltip": {
                    "start": "点击开始绘制线",
                    "cont": "点击继续绘制",
                    "end": "点击最后一个点结束",
                }
            },
            "rectangle": {"tooltip": {"start": "按住并拖动绘制矩形"}},
        },
    },
    "edit": {
        "toolbar": {
            "actions": {
                "save": {"title": "保存修改", "text": "保存"},
                "cancel": {"title": "放弃修改", "text": "取消"},
                "clearAll": {"title": "清除全部", "text": "全部清除"},
            },
            "buttons": {
                "edit": "编辑图形",
                "editDisabled": "没有可编辑的图形",
                "remove": "删除图形",
                "removeDisabled": "没有可删除的图形",
            },
        },
        "handlers": {
            "edit": {
                "tooltip": {"text": "拖动节点或标记进行修改", "subtext": "点击“取消”放弃修改"}
            },
            "remove": {"tooltip": {"text": "点击要删除的图形"}},
        },
    },
}


# ------------------------------------------------------------------------ templates
@functools.cache
def _template_text(name: str) -> str:
    return resources.files("luodian_map").joinpath("templates", name).read_text("utf-8")


@functools.cache
def _template(name: str):
    from folium.template import Template

    return Template(_template_text(name))


def _script_json(value: Any) -> str:
    """JSON that is safe inside ``<script>`` and deterministic (sorted keys, no spaces)."""
    text = json.dumps(
        value, ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False
    )
    return (
        text.replace("&", "\\u0026")
        .replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("'", "\\u0027")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


# ------------------------------------------------------------------------ elements
def _elements():
    """The MacroElement classes; built lazily so importing this module stays cheap."""
    global _ELEMENTS
    if _ELEMENTS is not None:
        return _ELEMENTS
    from branca.element import Element, MacroElement
    from folium.elements import JSCSSMixin

    class _Text(Element):
        """Rendered text that goes into the page as it is."""

        def __init__(self, text: str):
            super().__init__()
            self.text = text

        def render(self, **kwargs: Any) -> str:
            return self.text

    class _Macro(MacroElement):
        """A MacroElement whose rendered parts are not read as templates once more: branca
        would, and report text with "{{" in it would be evaluated (or break the page)."""

        def render(self, **kwargs: Any) -> None:
            figure = self.get_root()
            macros = self._template.module.__dict__
            for part in ("header", "html", "script"):
                if macros.get(part) is not None:
                    text = _Text(macros[part](self, kwargs))
                    getattr(figure, part).add_child(text, name=self.get_name())
            for child in self._children.values():
                child.render(**kwargs)

    class FeatureLayers(_Macro):
        """All features (compact, drawn on one canvas), plus the page library. The data
        is a JSON ``<script>`` block: ``JSON.parse`` reads megabytes far faster than the
        JavaScript parser reads them as a literal."""

        _template = _template("feature_layers.j2")

        def __init__(self, data: dict, config: dict):
            super().__init__()
            self._name = "FeatureLayers"
            self.data_json = _script_json(_compact(data))
            self.config_json = _script_json(config)
            self.library = _template_text("luodian_map.js")
            self.css = _template_text("luodian_map.css")

    class _AppElement(_Macro):
        _template_file = ""

        def __init__(self, app: MacroElement, name: str, **options: Any):
            super().__init__()
            self._name = name
            self.app = app
            self.options = options
            self._template = _template(self._template_file)

    class TownOutline(_AppElement):
        _template_file = "town_outline.j2"

        def __init__(self, app: MacroElement, data: dict | None):
            super().__init__(app, "TownOutline")
            self.data_json = _script_json(data)

    class LocalBase(_Macro):
        """The offline vector base of ``basemap="local"`` (see :mod:`luodian_map.local_base`)."""

        _template = _template("local_base.j2")

        def __init__(self, data: dict):
            super().__init__()
            self._name = "LocalBase"
            self.data_json = _script_json(data)

    class FilterControl(_AppElement):
        """Year × category × status filter with counts; its state lives in the URL hash."""

        _template_file = "filter_control.j2"

    class Legend(_AppElement):
        _template_file = "legend.j2"

    class PendingPanel(_AppElement):
        """The items a public map does not draw (guesses), listed with their quotes."""

        _template_file = "pending_panel.j2"

        def __init__(self, app: MacroElement, items: list[dict], **options: Any):
            super().__init__(app, "PendingPanel", **options)
            self.data_json = _script_json(items)

    class SearchControl(_AppElement):
        _template_file = "search.j2"

    class ScaleBar(_AppElement):
        _template_file = "scale_bar.j2"

    class Start(_AppElement):
        _template_file = "start.j2"

    class EditTools(_AppElement):
        _template_file = "edit_tools.j2"

        def __init__(self, app, feature_group, draw, draw_local, **options):
            super().__init__(app, "EditTools", **options)
            self.feature_group = feature_group
            self.draw = draw
            self.draw_local = draw_local

    class Title(_Macro):
        _template = _template("title.j2")

        def __init__(self, title: str, subtitle: str | None):
            super().__init__()
            self._name = "Title"
            self.title_html = html.escape(title)
            self.subtitle_html = html.escape(subtitle) if subtitle else ""

    # The Leaflet plugins, as folium.plugins makes them (same files and versions), without
    # importing folium.plugins: that loads every one of its ~40 plugins (0.2 s).
    class OverviewMap(JSCSSMixin, _AppElement):
        """leaflet-minimap, fed a layer group (tiles if any, plus the town outline) so it
        also works on the tile-less basemap "none"; added after the first paint."""

        _template_file = "overview_map.j2"
        default_js: ClassVar[list[tuple[str, str]]] = [
            ("Control_MiniMap_js", f"{_CDNJS}/leaflet-minimap/3.6.1/Control.MiniMap.js")
        ]
        default_css: ClassVar[list[tuple[str, str]]] = [
            ("Control_MiniMap_css", f"{_CDNJS}/leaflet-minimap/3.6.1/Control.MiniMap.css")
        ]

        def __init__(self, app: MacroElement, tile: dict | None, **options: Any):
            super().__init__(app, "MiniMap", **options)
            self.tile = tile

    class Fullscreen(JSCSSMixin, _AppElement):
        _template_file = "fullscreen.j2"
        default_js: ClassVar[list[tuple[str, str]]] = [
            ("Control.Fullscreen.js", f"{_FULLSCREEN}/Control.FullScreen.min.js")
        ]
        default_css: ClassVar[list[tuple[str, str]]] = [
            ("Control.FullScreen.css", f"{_FULLSCREEN}/Control.FullScreen.css")
        ]

    class MeasureControl(JSCSSMixin, _AppElement):
        _template_file = "measure_control.j2"
        default_js: ClassVar[list[tuple[str, str]]] = [
            ("leaflet_measure_js", f"{_MEASURE}/leaflet-measure.min.js")
        ]
        default_css: ClassVar[list[tuple[str, str]]] = [
            ("leaflet_measure_css", f"{_MEASURE}/leaflet-measure.min.css")
        ]

    class Draw(JSCSSMixin, _AppElement):
        """Leaflet.draw's toolbar; what is drawn goes into ``feature_group``."""

        _template_file = "draw.j2"
        default_js: ClassVar[list[tuple[str, str]]] = [
            ("leaflet_draw_js", f"{_CDNJS}/leaflet.draw/1.0.2/leaflet.draw.js")
        ]
        default_css: ClassVar[list[tuple[str, str]]] = [
            ("leaflet_draw_css", f"{_CDNJS}/leaflet.draw/1.0.2/leaflet.draw.css")
        ]

        def __init__(self, app: MacroElement, feature_group: Element, **options: Any):
            super().__init__(app, "DrawControl", **options)
            self.feature_group = feature_group

    _ELEMENTS = _Elements(
        FeatureLayers,
        TownOutline,
        LocalBase,
        FilterControl,
        Legend,
        PendingPanel,
        SearchControl,
        ScaleBar,
        Start,
        EditTools,
        Title,
        OverviewMap,
        Fullscreen,
        MeasureControl,
        Draw,
    )
    return _ELEMENTS


@dataclass(frozen=True)
class _Elements:
    FeatureLayers: type
    TownOutline: type
    LocalBase: type
    FilterControl: type
    Legend: type
    PendingPanel: type
    SearchControl: type
    ScaleBar: type
    Start: type
    EditTools: type
    Title: type
    OverviewMap: type
    Fullscreen: type
    MeasureControl: type
    Draw: type


_ELEMENTS: _Elements | None = None
_CDNJS = "https://cdnjs.cloudflare.com/ajax/libs"
_FULLSCREEN = "https://cdn.jsdelivr.net/npm/leaflet.fullscreen@3.0.0"
_MEASURE = "https://cdn.jsdelivr.net/gh/ljagis/leaflet-measure@2.1.7/dist"


def plugin_asset_urls() -> list[str]:
    """The script and stylesheet URLs of the Leaflet plugins a page may use."""
    el = _elements()
    return [
        url
        for plugin in (el.Fullscreen, el.OverviewMap, el.MeasureControl, el.Draw)
        for _, url in (*plugin.default_js, *plugin.default_css)
    ]


# folium draws random element ids (os.urandom); a counter makes the page reproducible.
_ID_LOCK = threading.RLock()


@contextlib.contextmanager
def _deterministic_ids() -> Iterator[None]:
    from branca.element import Element

    with _ID_LOCK:
        counter = itertools.count(1)
        original = Element.__dict__["_generate_id"]
        Element._generate_id = classmethod(lambda cls: f"{next(counter):04d}")
        try:
            yield
        finally:
            Element._generate_id = original


# ------------------------------------------------------------------------ basemaps
@dataclass
class _Basemap:
    layers: list[dict] = field(default_factory=list)  # {"url", "options"} for L.tileLayer
    datum: str = "wgs84"

    @property
    def overview(self) -> dict | None:
        return self.layers[0] if self.layers else None


def _basemap(name: str, lang: str) -> _Basemap:
    import xyzservices.providers as xyz

    if name in ("none", "local"):  # "local": a vector base from place files, no tiles
        return _Basemap()
    if name == "tianditu":
        key = os.environ.get(TIANDITU_KEY_ENV, "").strip()
        if not key:
            raise LuodianMapError(
                f"basemap 'tianditu' needs an API key: set the {TIANDITU_KEY_ENV} "
                "environment variable (get one at https://console.tianditu.gov.cn/)"
            )
        attribution = '&copy; <a href="https://www.tianditu.gov.cn/">天地图 Tianditu</a>'
        labels = "eva_w" if lang == "en" else "cva_w"
        return _Basemap([
            _tile(f"https://t{{s}}.tianditu.gov.cn/DataServer?T={layer}&x={{x}}&y={{y}}&l={{z}}"
                  f"&tk={key}", attribution, subdomains="01234567", max_zoom=18)
            for layer in ("vec_w", labels)
        ])  # fmt: skip
    if name == "gaode":
        provider = xyz.Gaode.Normal
        url = provider["url"].replace("http://", "https://").replace("webrd01", "webrd0{s}")
        if lang == "en":
            url = url.replace("lang=zh_cn", "lang=en")
        return _Basemap(
            [
                _tile(
                    url,
                    provider["html_attribution"],
                    subdomains="1234",
                    max_zoom=int(provider.get("max_zoom", 18)),
                )
            ],
            datum="gcj02",
        )
    provider = {"osm": xyz.OpenStreetMap.Mapnik, "cartodb": xyz.CartoDB.Positron}.get(name)
    if provider is None:
        raise LuodianMapError(f"unknown basemap {name!r}; use one of {', '.join(BASEMAPS)}")
    with warnings.catch_warnings():  # CartoDB's "API key" notice: its tiles work without one
        warnings.simplefilter("ignore")
        url = provider.build_url(fill_subdomain=False, scale_factor="{r}")
    return _Basemap([
        _tile(url, provider["html_attribution"], subdomains=provider.get("subdomains", "abc"),
              max_zoom=int(provider.get("max_zoom", 19)))
    ])  # fmt: skip


def _tile(url: str, attribution: str, *, subdomains: str, max_zoom: int) -> dict:
    return {
        "url": url,
        "options": {
            "attribution": attribution,
            "subdomains": subdomains,
            "maxZoom": max_zoom,
            "maxNativeZoom": max_zoom,
        },
    }


# ------------------------------------------------------------------------ data
def _plain(value: Any) -> Any:
    """numpy / pandas scalars and containers → JSON types; NaN → None."""
    import numpy as np

    if value is None:
        return None
    if isinstance(value, np.ndarray):
        return [_plain(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else value
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, bool | int | str):
        return value
    try:
        import pandas as pd

        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    return str(value)


def _quantities(value: Any) -> list:
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return []
        try:
            value = json.loads(text)
        except ValueError:
            return [{"text": text}]
    value = _plain(value)
    if value is None:
        return []
    if isinstance(value, dict):
        return [value]
    if isinstance(value, list):
        return [v if isinstance(v, dict) else {"text": str(v)} for v in value]
    return [{"text": str(value)}]


def _properties(row: Mapping[str, Any], lang: str) -> dict:
    props = {key: _plain(row.get(key)) for key in PROPERTIES}
    props["id"] = str(props["id"])
    props["name"] = "" if props["name"] is None else str(props["name"])
    props["quantities"] = _quantities(row.get("quantities"))
    if isinstance(props["year"], float) and props["year"].is_integer():
        props["year"] = int(props["year"])
    if isinstance(props["stated_count"], float) and props["stated_count"].is_integer():
        props["stated_count"] = int(props["stated_count"])
    category = CATEGORIES.get(str(props["category"]))
    if not props["category_label"] and category is not None:
        props["category_label"] = category.label_zh
    props["mentions"] = _mentions(row.get("mentions"))
    if props["follow_up"] not in FOLLOW_UPS or props["follow_up"] == "none":
        props["follow_up"] = None
    return props


def _mentions(value: Any) -> list[dict]:
    """The entity's mentions, oldest first, as {report, year, part, status, quote}."""
    if isinstance(value, str):
        try:
            value = json.loads(value) if value.strip() else []
        except ValueError:
            return []
    value = _plain(value)
    if not isinstance(value, list):
        return []
    out = []
    for mention in value:
        if not isinstance(mention, dict):
            continue
        entry = {key: mention.get(key) for key in MENTION_KEYS}
        if isinstance(entry["year"], float) and entry["year"].is_integer():
            entry["year"] = int(entry["year"])
        out.append(entry)
    return out


def _parent_names(features: list[dict]) -> None:
    """``parent_name`` of each phase: its parent's name if the parent is on the map, else
    the phase's own name without the phase ("美兰西湖公园二期" → "美兰西湖公园")."""
    from .link import PHASE

    names = {}
    for f in features:
        p = f["properties"]
        if p["entity"] is not None:
            names.setdefault(p["entity"], p["name"])
    for f in features:
        p = f["properties"]
        parent = p["parent"]
        p["parent_name"] = None
        if parent is None:
            continue
        base = PHASE.sub("", p["name"]).strip()
        p["parent_name"] = names.get(parent) or (base if base and base != p["name"] else None)


def _round_coords(coords: Any) -> Any:
    if isinstance(coords, (int, float)):
        return round(float(coords), COORD_DECIMALS) + 0.0  # + 0.0 turns -0.0 into 0.0
    return [_round_coords(c) for c in coords]


def _geometry(geom: Any) -> dict | None:
    if geom is None or geom.is_empty:
        return None
    import shapely.geometry

    mapping = shapely.geometry.mapping(geom)
    if mapping["type"] == "GeometryCollection":
        return {
            "type": "GeometryCollection",
            "geometries": [_geometry(g) for g in geom.geoms if not g.is_empty],
        }
    return {"type": mapping["type"], "coordinates": _round_coords(mapping["coordinates"])}


def _to_wgs84(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    if frame.crs is not None and not frame.crs.equals("EPSG:4326"):
        return frame.to_crs("EPSG:4326")
    return frame


def _display_geometries(frame: gpd.GeoDataFrame, datum: str):
    geoms = _to_wgs84(frame).geometry
    if datum == "gcj02":
        from .crs import transform_geometry

        geoms = transform_geometry(geoms, "wgs84", "gcj02")
    return geoms


def _feature_collection(features: gpd.GeoDataFrame, datum: str, lang: str) -> dict:
    frame = features.sort_values("id", kind="stable") if len(features) else features
    geoms = _display_geometries(frame, datum) if len(frame) else []
    out = [
        # a feature without geometry stays in the data: not drawn, but counted and listed
        {"type": "Feature", "properties": _properties(row, lang), "geometry": _geometry(geom)}
        for (_, row), geom in zip(frame.iterrows(), geoms, strict=True)
    ]
    _parent_names(out)
    return {"type": "FeatureCollection", "features": out, "mentions": _share_mentions(out)}


# ------------------------------------------------------------------------ compact encoding
COLUMNS = (*PROPERTIES, "parent_name")
GEOMETRY_CODES = {
    "Point": 1, "MultiPoint": 2, "LineString": 3, "MultiLineString": 4, "Polygon": 5,
    "MultiPolygon": 6, "GeometryCollection": 7,
}  # fmt: skip  # 0: no geometry
_NESTING = {
    "Point": 0, "MultiPoint": 1, "LineString": 1, "MultiLineString": 2, "Polygon": 2,
    "MultiPolygon": 3,
}  # fmt: skip  # how deep the coordinate lists go
_SCALE = 10**COORD_DECIMALS


def _compact(collection: dict) -> dict:
    """The page's form of a feature collection (decoded by ``decode`` in luodian_map.js).

    ``columns``: property → ``{"c": value}`` (the same for every feature), ``{"d": values,
    "i": indices}`` (few distinct values; indices as varints) or ``{"v": values}``.
    ``geometry``: per feature a type code (:data:`GEOMETRY_CODES`), the part counts and
    the coordinates in micro-degrees, each the difference to the previous one, as varints.
    A property repeated on thousands of features costs one character each, and 6-decimal
    coordinates two to four characters instead of ten."""
    features = collection["features"]
    return {
        "n": len(features),
        "scale": _SCALE,
        "columns": {key: _column([f["properties"][key] for f in features]) for key in COLUMNS},
        "geometry": _encode_geometries([f["geometry"] for f in features]),
        "mentions": collection["mentions"],
    }


def _column(values: list) -> dict:
    """One property of every feature, in the shortest of the three forms of :func:`_compact`
    (a dictionary when at most half the values are distinct)."""
    codes: dict[Any, int] = {}
    # a JSON text identifies lists and dicts, and keeps 1, 1.0 and True apart
    index = [
        codes.setdefault(
            v if type(v) is str else json.dumps(v, sort_keys=True, ensure_ascii=False),
            len(codes),
        )
        for v in values
    ]
    if len(codes) == 1:
        return {"c": values[0]}
    if len(codes) * 2 > len(values):
        return {"v": values}
    first: dict[int, Any] = {}
    for code, value in zip(index, values, strict=True):
        first.setdefault(code, value)
    out: list[str] = []
    for code in index:
        _varint(code, out)
    return {"d": [first[c] for c in range(len(codes))], "i": "".join(out)}


def _varint(value: int, out: list[str]) -> None:
    """A non-negative integer in Google's encoded-polyline characters (``?`` … ``~``, five
    bits each, low bits first; ``0x20`` marks that more follow): never a quote, ``<``,
    ``>`` or ``&``, so safe in ``<script>`` JSON (a backslash, 29, is escaped as usual)."""
    while value >= 0x20:
        out.append(chr((0x20 | (value & 0x1F)) + 63))
        value >>= 5
    out.append(chr(value + 63))


def _encode_geometries(geometries: list[dict | None]) -> str:
    """All geometries as one varint string (see :func:`_compact`); signed differences are
    zig-zag encoded (0, -1, 1, -2 … → 0, 1, 2, 3 …)."""
    out: list[str] = []
    last = [0, 0]  # the previous position, in micro-degrees

    def position(coords: list[float]) -> None:
        for axis in (0, 1):
            value = round(coords[axis] * _SCALE)
            delta = value - last[axis]
            last[axis] = value
            _varint(2 * delta if delta >= 0 else -2 * delta - 1, out)

    def nested(coords: list, depth: int) -> None:
        if depth == 0:
            position(coords)
            return
        _varint(len(coords), out)
        for part in coords:
            nested(part, depth - 1)

    def geometry(g: dict | None) -> None:
        if g is None:
            _varint(0, out)
            return
        _varint(GEOMETRY_CODES[g["type"]], out)
        if g["type"] == "GeometryCollection":
            _varint(len(g["geometries"]), out)
            for part in g["geometries"]:
                geometry(part)
        else:
            nested(g["coordinates"], _NESTING[g["type"]])

    for g in geometries:
        geometry(g)
    return "".join(out)


def _share_mentions(features: list[dict]) -> dict[str, list]:
    """Every feature of an entity (one per year) carries the same mentions: the page gets
    them once per entity (``mentions`` of the collection, by entity id) and each feature's
    ``mentions`` is null, to be filled in by the page; a feature whose list differs keeps
    its own."""
    shared: dict[str, list] = {}
    for f in features:
        p = f["properties"]
        if p["entity"] is None or not p["mentions"]:
            continue
        entity = str(p["entity"])
        if shared.setdefault(entity, p["mentions"]) == p["mentions"]:
            p["mentions"] = None
    return shared


def _outline_collection(outline: gpd.GeoDataFrame | None, datum: str) -> dict | None:
    if outline is None or len(outline) == 0:
        return None
    geoms = _display_geometries(outline, datum)
    features = [
        {"type": "Feature", "properties": {}, "geometry": g}
        for g in (_geometry(geom) for geom in geoms)
        if g is not None
    ]
    return {"type": "FeatureCollection", "features": features} if features else None


def _bounds(collections: list[dict | None]) -> list[list[float]] | None:
    lons: list[float] = []
    lats: list[float] = []

    def walk(coords: Any) -> None:
        if coords and isinstance(coords[0], (int, float)):
            lons.append(coords[0])
            lats.append(coords[1])
        else:
            for c in coords:
                walk(c)

    def geometry(g: dict) -> None:
        if g["type"] == "GeometryCollection":
            for part in g["geometries"]:
                geometry(part)
        else:
            walk(g["coordinates"])

    for fc in collections:
        for f in (fc or {}).get("features", []):
            if f["geometry"] is not None:
                geometry(f["geometry"])
    if not lons:
        return None
    return [[min(lats), min(lons)], [max(lats), max(lons)]]


def _pending(features: gpd.GeoDataFrame, lang: str) -> list[dict]:
    """What a public map lists instead of drawing: name, category, year, precision and quote
    of each feature, in category order, then by name and year."""
    order = {c: i for i, c in enumerate(CATEGORIES)}
    items = [
        {
            "id": str(row.get("id")),
            "name": str(_plain(row.get("name")) or ""),
            "category": CATEGORIES[c].label(lang) if c in CATEGORIES else str(c),
            "year": _plain(row.get("year")),
            "precision": _plain(row.get("precision")),
            "quote": str(_plain(row.get("quote")) or ""),
            "_order": order.get(c, len(order)),
        }
        for row in features.to_dict("records")
        for c in [str(row.get("category"))]
    ]
    items.sort(key=lambda i: (i["_order"], i["name"], str(i["year"]), i["id"]))
    return [{k: v for k, v in i.items() if k != "_order"} for i in items]


def _config(
    data: dict,
    *,
    lang: str,
    datum: str,
    year: int | None,
    has_outline: bool,
    edit: bool,
    public: bool = False,
) -> dict:
    strings = {k: v for k, v in UI_STRINGS[lang].items() if not k.startswith("html_")}
    years = sorted(
        {
            f["properties"]["year"]
            for f in data["features"]
            if isinstance(f["properties"]["year"], int)
        }
    )
    index = 1 if lang == "en" else 0
    return {
        "lang": lang,
        "strings": strings,
        "datum": datum,
        "publication": year is not None,
        "public": public,
        "guessPrecisions": list(GUESS_PRECISIONS),
        "edit": edit,
        "hasOutline": has_outline,
        "years": years,
        "categories": [
            {"id": c.id, "label": c.label(lang), "color": c.color, "geometry": c.geometry}
            for c in CATEGORIES.values()
        ],
        "statuses": [{"id": k, "label": v[index]} for k, v in STATUSES.items()],
        "precisions": [{"id": k, "label": v[index]} for k, v in PRECISIONS.items()],
        "followUps": [{"id": k, "label": v[index]} for k, v in FOLLOW_UPS.items()],
    }


# ------------------------------------------------------------------------ the map
def render_map(
    features: gpd.GeoDataFrame,
    path: str | os.PathLike[str],
    *,
    outline: gpd.GeoDataFrame | None = None,
    title: str | None = None,
    lang: str = "zh",
    basemap: str = "osm",
    self_contained: bool = False,
    edit: bool = False,
    year: int | None = None,
    public: bool = False,
    places: gpd.GeoDataFrame | None = None,
) -> Path:
    """Write an interactive map of ``features`` to ``path`` (one HTML file, atomically).

    Parameters
    ----------
    features : GeoDataFrame
        One row per feature in WGS-84 with the columns of docs/architecture.md (``id``, ``name``,
        ``category``, ``year``, ``status``, ``quote``, ``precision``, ...).
    path : path
        The HTML file to write.
    outline : GeoDataFrame, optional
        The town outline (polygons, WGS-84), drawn as a dashed line.
    title : str, optional
        The map title; a Chinese (or English) default otherwise.
    lang : {"zh", "en"}
        Language of the interface; report text is always shown as written.
    basemap : {"osm", "cartodb", "gaode", "tianditu", "none", "local"}
        Tiles under the data. "gaode" shows all data shifted to GCJ-02 as Gaode's tiles
        are; "tianditu" needs ``$TIANDITU_KEY``; "local" draws ``places`` instead of tiles.
    self_contained : bool
        Inline every script, stylesheet and image (from the asset cache; see
        :func:`luodian_map.assets.fetch_assets`), so the page needs no network apart from
        the tiles (none at all with ``basemap="none"``).
    edit : bool
        Add drawing tools to give features their true location and export them as an
        overrides GeoJSON file.
    year : int, optional
        Make a publication map of this year only, with the year in the title and an A3
        landscape print layout.
    public : bool
        A map for public display: draw only features (and a town outline) whose precision
        is in :data:`~luodian_map.categories.PUBLIC_PRECISIONS`, and list the others, the
        guesses, with their quotes in a panel "位置待核实".
    places : GeoDataFrame, optional
        The towns' place files (roads, rivers, water, parks, the outline), drawn as a light
        vector base with ``basemap="local"``.

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    LuodianMapError
        Unknown basemap or language, no Tianditu key, or ``public`` with ``edit``.
    AssetsError
        ``self_contained`` and the asset cache is missing.
    """
    if self_contained:
        from .assets import load_manifest

        _basemap(_check_options(lang, basemap), lang)  # option errors come first
        load_manifest()  # then a missing cache, before any real work
    page = build_html(
        features,
        outline=outline,
        title=title,
        lang=lang,
        basemap=basemap,
        edit=edit,
        year=year,
        public=public,
        places=places,
    )
    if self_contained:
        from .assets import inline_assets

        page = inline_assets(page)
    return write_atomic(path, page)


def _check_options(lang: str, basemap: str) -> str:
    if lang not in LANGS:
        raise LuodianMapError(f"unknown language {lang!r}; use one of {', '.join(LANGS)}")
    if basemap not in BASEMAPS:
        raise LuodianMapError(f"unknown basemap {basemap!r}; use one of {', '.join(BASEMAPS)}")
    return basemap


def build_html(
    features: gpd.GeoDataFrame,
    *,
    outline: gpd.GeoDataFrame | None = None,
    title: str | None = None,
    lang: str = "zh",
    basemap: str = "osm",
    edit: bool = False,
    year: int | None = None,
    public: bool = False,
    places: gpd.GeoDataFrame | None = None,
) -> str:
    """The page of :func:`render_map` as a string, with CDN links (not inlined yet)."""
    import folium

    base = _basemap(_check_options(lang, basemap), lang)
    if public and edit:
        raise LuodianMapError("a public map has no edit tools: drop --edit or --public")
    strings = UI_STRINGS[lang]
    if year is not None:
        year = int(year)
        features = features[features["year"].astype("Int64") == year]
    frame = _outline_collection(outline, base.datum)  # frames the map even when not drawn
    pending = None
    if public:
        shown = features["precision"].isin(PUBLIC_PRECISIONS)
        pending = _pending(features[~shown], lang)
        features = features[shown]
        if outline is not None and "precision" in outline.columns:
            outline = outline[outline["precision"].isin(PUBLIC_PRECISIONS)]
    data = _feature_collection(features, base.datum, lang)
    outline_data = _outline_collection(outline, base.datum)
    config = _config(
        data,
        lang=lang,
        datum=base.datum,
        year=year,
        has_outline=outline_data is not None,
        edit=edit,
        public=public,
    )
    heading = title or strings["title"]
    if year is not None:
        heading = strings["title_year"].format(title=heading, year=year)
    subtitle = None
    if pending is not None:  # a public map's legend explains no guesses: say where they are
        subtitle = strings["subtitle_public"].format(n=len(pending))
    elif year is not None:
        subtitle = strings["subtitle_publication"].format(n=len(data["features"]))
    bounds = _bounds([data, frame])

    with _deterministic_ids():
        el = _elements()
        center = (
            [(bounds[0][0] + bounds[1][0]) / 2, (bounds[0][1] + bounds[1][1]) / 2]
            if bounds
            else [0.0, 0.0]
        )
        fmap = folium.Map(
            location=center,
            zoom_start=13 if bounds else 2,
            tiles=None,
            control_scale=False,
            max_zoom=19,
        )
        # Only Leaflet of folium's defaults: no jQuery, Bootstrap, Font Awesome, awesome markers.
        fmap.default_js = [(n, u) for n, u in folium.Map.default_js if n == "leaflet"]
        fmap.default_css = [(n, u) for n, u in folium.Map.default_css if n == "leaflet_css"]
        figure = fmap.get_root()
        figure.title = html.escape(heading)

        for tile in base.layers:
            folium.TileLayer(
                tiles=tile["url"],
                attr=tile["options"]["attribution"],
                subdomains=tile["options"]["subdomains"],
                max_zoom=tile["options"]["maxZoom"],
                max_native_zoom=tile["options"]["maxNativeZoom"],
                control=False,
            ).add_to(fmap)

        if basemap == "local":
            from .local_base import base_collection

            local = base_collection(places)
            if local is not None:
                fmap.add_child(el.LocalBase(local))
        app = el.FeatureLayers(data, config)
        fmap.add_child(app)
        fmap.add_child(el.TownOutline(app, outline_data))
        fmap.add_child(el.Title(heading, subtitle))
        fmap.add_child(el.SearchControl(app, "SearchControl", position="topleft"))
        fmap.add_child(
            el.Fullscreen(
                app,
                "Fullscreen",
                position="topleft",
                title=strings_for(lang, "fullscreen"),
                titleCancel=strings_for(lang, "fullscreen_exit"),
                forceSeparateButton=False,
            )
        )
        fmap.add_child(
            el.MeasureControl(
                app,
                "MeasureControl",
                position="topleft",
                primaryLengthUnit="meters",
                secondaryLengthUnit="kilometers",
                primaryAreaUnit="sqmeters",
                secondaryAreaUnit="hectares",
                localization="cn" if lang == "zh" else "en",
            )
        )
        fmap.add_child(el.FilterControl(app, "FilterControl", position="topright"))
        fmap.add_child(
            el.ScaleBar(app, "ScaleBar", position="bottomleft", imperial=False, maxWidth=160)
        )
        fmap.add_child(el.Legend(app, "Legend", position="bottomleft"))
        if pending is not None:
            fmap.add_child(el.PendingPanel(app, pending, position="topleft"))
        fmap.add_child(
            el.OverviewMap(
                app,
                base.overview,
                position="bottomright",
                width=160,
                height=160,
                collapsedWidth=25,
                collapsedHeight=25,
                zoomLevelOffset=-4,
                centerFixed=False,
                zoomAnimation=False,
                toggleDisplay=True,
                autoToggleDisplay=False,
                minimized=False,
            )
        )
        if edit:
            drawn = folium.FeatureGroup(name="drawn", control=False).add_to(fmap)
            draw = el.Draw(
                app,
                drawn,
                position="topleft",
                draw={
                    "polyline": {"shapeOptions": {"color": "#d7191c", "weight": 4}},
                    "polygon": {
                        "allowIntersection": False,
                        "shapeOptions": {"color": "#d7191c", "weight": 3},
                    },
                    "rectangle": {"shapeOptions": {"color": "#d7191c", "weight": 3}},
                    "circlemarker": {"color": "#d7191c", "weight": 3, "radius": 8},
                    "marker": False,
                    "circle": False,
                },
                edit={"poly": {"allowIntersection": False}},
            )
            fmap.add_child(draw)
            fmap.add_child(
                el.EditTools(
                    app,
                    drawn,
                    draw,
                    _DRAW_LOCAL_ZH if lang == "zh" else None,
                    filename="overrides.geojson",
                )
            )
        # The page fits the bounds itself, at once: folium's animated fitBounds would draw
        # every feature twice. Padding: room for the title (top) and the filter panel (right).
        # A public map's list of guesses takes the left side.
        padding = {
            "paddingTopLeft": [340 if public else 50, 60],
            "paddingBottomRight": [260, 30],
        }
        fmap.add_child(el.Start(app, "Start", bounds=bounds, **padding))
        page = figure.render()

    page = page.replace("<html>", f'<html lang="{strings["html_lang"]}">', 1)
    body = " ".join(
        c for c, on in (("lm-publication", year is not None), ("lm-public", public)) if on
    )
    if body:
        page = page.replace("<body>", f'<body class="{body}">', 1)
    return page


def strings_for(lang: str, key: str) -> str:
    """One UI string in ``lang`` (``"zh"`` or ``"en"``)."""
    return UI_STRINGS[lang][key]
