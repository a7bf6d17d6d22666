"""Every script and stylesheet URL a page may reference, in one place: Leaflet (folium's
version) and the Leaflet plugins, as ``folium.plugins`` makes them (same files, versions).

The elements (:mod:`.elements`) declare these as their ``default_js`` / ``default_css``;
the asset cache (:mod:`.assets`) fetches and inlines the same list.
"""

from __future__ import annotations

CDNJS = "https://cdnjs.cloudflare.com/ajax/libs"
FULLSCREEN = "https://cdn.jsdelivr.net/npm/leaflet.fullscreen@3.0.0"
MEASURE = "https://cdn.jsdelivr.net/gh/ljagis/leaflet-measure@2.1.7/dist"

Links = list[tuple[str, str]]  # (folium's name, URL)

MINIMAP_JS: Links = [("Control_MiniMap_js", f"{CDNJS}/leaflet-minimap/3.6.1/Control.MiniMap.js")]
MINIMAP_CSS: Links = [("Control_MiniMap_css", f"{CDNJS}/leaflet-minimap/3.6.1/Control.MiniMap.css")]
FULLSCREEN_JS: Links = [("Control.Fullscreen.js", f"{FULLSCREEN}/Control.FullScreen.min.js")]
FULLSCREEN_CSS: Links = [("Control.FullScreen.css", f"{FULLSCREEN}/Control.FullScreen.css")]
MEASURE_JS: Links = [("leaflet_measure_js", f"{MEASURE}/leaflet-measure.min.js")]
MEASURE_CSS: Links = [("leaflet_measure_css", f"{MEASURE}/leaflet-measure.min.css")]
DRAW_JS: Links = [("leaflet_draw_js", f"{CDNJS}/leaflet.draw/1.0.2/leaflet.draw.js")]
DRAW_CSS: Links = [("leaflet_draw_css", f"{CDNJS}/leaflet.draw/1.0.2/leaflet.draw.css")]

# The order of :func:`plugin_asset_urls`: fullscreen, minimap, measure, draw.
PLUGINS: tuple[Links, ...] = (
    FULLSCREEN_JS,
    FULLSCREEN_CSS,
    MINIMAP_JS,
    MINIMAP_CSS,
    MEASURE_JS,
    MEASURE_CSS,
    DRAW_JS,
    DRAW_CSS,
)
# Of folium's default links, the page keeps Leaflet only: no jQuery, Bootstrap, Font Awesome.
LEAFLET_NAMES = ("leaflet", "leaflet_css")


def plugin_asset_urls() -> list[str]:
    """The script and stylesheet URLs of the Leaflet plugins a page may use."""
    return [url for links in PLUGINS for _, url in links]


def leaflet_links() -> tuple[Links, Links]:
    """folium's Leaflet script and stylesheet links (its pinned version), nothing else."""
    import folium

    js = [(n, u) for n, u in folium.Map.default_js if n in LEAFLET_NAMES]
    css = [(n, u) for n, u in folium.Map.default_css if n in LEAFLET_NAMES]
    return js, css


def page_asset_urls() -> list[str]:
    """Every script and stylesheet URL a page made by :func:`luodian_map.web.render_map`
    can reference: Leaflet itself (folium's version) and the Leaflet plugins it uses."""
    js, css = leaflet_links()
    return [url for _, url in (*js, *css)] + plugin_asset_urls()
