"""A Folium map of the coverage checks.

Byte-for-byte reproducible: the map's element ids, which folium draws at random, are
renumbered before rendering. Report text reaches the map only HTML-escaped, so a quote
holding ``<script>`` stays text. The base under the data is the main maps' one
(:func:`luodian_map.web.basemaps.basemap_tiles`): tiles, the vector base of
``basemap="local"``, or nothing at all with ``basemap="none"``.
"""

from __future__ import annotations

import html
import itertools
from typing import Any

import folium
import geopandas as gpd
import shapely
from branca.element import Element

from ..categories import STAGE_COLORS, TASK_BINS, UNCOVERED_COLOR
from ..crs import transform_geometry
from ..web.basemaps import add_base, basemap_tiles
from .report import COMMITTEE_LABELS, CoverageReport, guess_note


def _escaped(
    frame: gpd.GeoDataFrame, columns: dict[str, Any], datum: str = "wgs84"
) -> gpd.GeoDataFrame:
    """Only the given properties, as escaped text (tooltips insert them as HTML), on the
    ``datum`` of the tiles (GCJ-02 under Gaode's)."""
    props = {name: [html.escape(str(v)) for v in values] for name, values in columns.items()}
    geometry = frame.geometry.to_numpy()
    if datum != "wgs84":
        geometry = transform_geometry(geometry, "wgs84", datum)
    geometry = shapely.set_precision(geometry, 1e-6)
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
        e(f"服务半径 reach: {guess_note(report.summary['guess_inputs']['service_reach'])}"),
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


def coverage_html(
    report: CoverageReport,
    *,
    basemap: str = "osm",
    lang: str = "zh",
    places: gpd.GeoDataFrame | None = None,
) -> str:
    """A Folium map: committees coloured by tasks, reach buffers, features outside the town.

    Parameters
    ----------
    report
        The checks of one town.
    basemap : {"osm", "cartodb", "gaode", "tianditu", "none", "local"}
        What lies under the data, as for :func:`luodian_map.web.render_map`: no tile server
        is asked for anything with "none" or "local".
    lang : {"zh", "en"}
        Language of the tiles' labels where the tile server has several.
    places
        The town's place files, drawn as the base with ``basemap="local"``.

    Returns
    -------
    str
        The page, with CDN links (:func:`luodian_map.web.assets.inline_assets` inlines them).
    """
    frames = report.frames
    base = basemap_tiles(basemap, lang)
    datum = base.datum
    outline = _escaped(frames["outline"], {"name": [report.town or "town"]}, datum)
    west, south, east, north = outline.total_bounds
    fmap = folium.Map(
        location=[(south + north) / 2, (west + east) / 2],
        zoom_start=13,
        tiles=None,
        control_scale=True,
    )
    add_base(fmap, basemap, base, places)
    # Leaflet is all this page uses of folium's defaults (no jQuery, Bootstrap, icons).
    fmap.default_js = [(n, u) for n, u in folium.Map.default_js if n == "leaflet"]
    fmap.default_css = [(n, u) for n, u in folium.Map.default_css if n == "leaflet_css"]
    root: Any = fmap.get_root()
    root.title = html.escape(f"{report.town or ''} 任务覆盖检查 Coverage checks")

    folium.GeoJson(
        outline,
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
            _escaped(
                mine, {"name": mine["name"], "stage": mine["part"], "year": mine["year"]}, datum
            ),
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
        datum,
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
                datum,
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
    root.html.add_child(Element(_legend(report)))
    fmap.fit_bounds([[south, west], [north, east]])
    root = fmap.get_root()
    _settle_ids(root)
    return str(root.render())
