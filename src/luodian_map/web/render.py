"""Web maps of the features: one HTML file per map, filterable by year × category × status.

:func:`render_map` builds a folium map whose own parts are the elements of
:mod:`.elements`; the data is encoded by :mod:`.encode`, the words come from
:mod:`.strings`, the links from :mod:`.urls`.

* Output is deterministic: features are sorted by id, coordinates rounded to six decimals,
  JSON keys sorted, and folium's random element ids replaced by a counter.
* ``self_contained=True`` inlines every script, stylesheet and image from the asset cache
  filled by :func:`luodian_map.web.assets.fetch_assets`; nothing is downloaded while rendering.
"""

from __future__ import annotations

import contextlib
import html
import itertools
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._io import write_atomic
from ..categories import (
    CATEGORIES,
    FOLLOW_UPS,
    GUESS_PRECISIONS,
    PRECISIONS,
    PUBLIC_PRECISIONS,
    STATUSES,
)
from ..errors import LuodianMapError
from ..layers import plain
from .basemaps import BASEMAPS, add_base, basemap_tiles
from .encode import bounds_of, feature_collection, outline_collection
from .strings import DRAW_LOCAL, LANGS, UI_STRINGS, strings_for

if TYPE_CHECKING:
    import geopandas as gpd

_ID_LOCK = threading.RLock()


@contextlib.contextmanager
def _deterministic_ids() -> Iterator[None]:
    from branca.element import Element

    with _ID_LOCK:
        counter = itertools.count(1)
        original = Element.__dict__["_generate_id"]
        Element._generate_id = classmethod(  # type: ignore[method-assign, assignment]
            lambda cls: f"{next(counter):04d}"
        )
        try:
            yield
        finally:
            Element._generate_id = original  # type: ignore[method-assign]


def _pending(features: gpd.GeoDataFrame, lang: str) -> list[dict[str, Any]]:
    """What a public map lists instead of drawing: name, category, year, precision and quote
    of each feature, in category order, then by name and year."""
    order = {c: i for i, c in enumerate(CATEGORIES)}
    items = [
        {
            "id": str(row.get("id")),
            "name": str(plain(row.get("name")) or ""),
            "category": CATEGORIES[c].label(lang) if c in CATEGORIES else str(c),
            "year": plain(row.get("year")),
            "precision": plain(row.get("precision")),
            "quote": str(plain(row.get("quote")) or ""),
            "_order": order.get(c, len(order)),
        }
        for row in features.to_dict("records")
        for c in [str(row.get("category"))]
    ]
    items.sort(key=lambda i: (i["_order"], i["name"], str(i["year"]), i["id"]))
    return [{k: v for k, v in i.items() if k != "_order"} for i in items]


def _is_exact(outline: gpd.GeoDataFrame | None) -> bool:
    """Whether the outline is a real boundary (every part surveyed or sourced, e.g. fetched
    from OpenStreetMap), drawn solid; else it is drawn dashed and labelled approximate."""
    if outline is None or len(outline) == 0 or "precision" not in outline.columns:
        return False
    return bool(outline["precision"].isin(PUBLIC_PRECISIONS).all())


def _config(
    data: dict[str, Any],
    *,
    lang: str,
    datum: str,
    year: int | None,
    has_outline: bool,
    edit: bool,
    public: bool = False,
    outline_exact: bool = False,
) -> dict[str, Any]:
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
        "outlineExact": outline_exact,
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
        :func:`luodian_map.web.assets.fetch_assets`), so the page needs no network apart from
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

        basemap_tiles(_check_options(lang, basemap), lang)  # option errors come first
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
    return write_atomic(Path(path), page)


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

    base = basemap_tiles(_check_options(lang, basemap), lang)
    if public and edit:
        raise LuodianMapError("a public map has no edit tools: drop --edit or --public")
    strings = UI_STRINGS[lang]
    if year is not None:
        year = int(year)
        features = features[features["year"].astype("Int64") == year]
    frame = outline_collection(outline, base.datum)  # frames the map even when not drawn
    pending = None
    if public:
        shown = features["precision"].isin(PUBLIC_PRECISIONS)
        pending = _pending(features[~shown], lang)
        features = features[shown]
        if outline is not None and "precision" in outline.columns:
            outline = outline[outline["precision"].isin(PUBLIC_PRECISIONS)]
    data = feature_collection(features, base.datum, lang)
    outline_data = outline_collection(outline, base.datum)
    config = _config(
        data,
        lang=lang,
        datum=base.datum,
        year=year,
        has_outline=outline_data is not None,
        edit=edit,
        public=public,
        outline_exact=_is_exact(outline),
    )
    heading = title or strings["title"]
    if year is not None:
        heading = strings["title_year"].format(title=heading, year=year)
    subtitle = None
    if pending is not None:  # a public map's legend explains no guesses: say where they are
        subtitle = strings["subtitle_public"].format(n=len(pending))
    elif year is not None:
        subtitle = strings["subtitle_publication"].format(n=len(data["features"]))
    bounds = bounds_of([data, frame])

    with _deterministic_ids():
        from . import elements as el

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
        figure: Any = fmap.get_root()
        figure.title = html.escape(heading)

        add_base(fmap, basemap, base, places)
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
                    DRAW_LOCAL.get(lang),
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
        page = str(figure.render())

    page = page.replace("<html>", f'<html lang="{strings["html_lang"]}">', 1)
    body = " ".join(
        c for c, on in (("lm-publication", year is not None), ("lm-public", public)) if on
    )
    if body:
        page = page.replace("<body>", f'<body class="{body}">', 1)
    return page
