"""Web maps of the features (:func:`render_map`), one HTML file per map.

* :mod:`.render` — :func:`render_map` / :func:`build_html`: the folium map and its parts;
* :mod:`.elements` — the page's parts, one ``MacroElement`` class per module;
* :mod:`.encode` — the features as the page's compact JSON;
* :mod:`.basemaps` — the tiles; :mod:`.strings` — the interface's words
  (``data/ui_strings.json``); :mod:`.templates` — the page's templates and safe JSON;
* :mod:`.urls` — every CDN and plugin URL; :mod:`.assets` — the offline asset cache
  that inlines them for ``--self-contained``.
"""

from .basemaps import BASEMAPS
from .render import build_html, render_map
from .strings import LANGS, UI_STRINGS, strings_for

__all__ = ["BASEMAPS", "LANGS", "UI_STRINGS", "build_html", "render_map", "strings_for"]
