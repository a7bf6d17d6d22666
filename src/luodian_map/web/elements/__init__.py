"""The page's own parts, one class per module as folium's plugins are: ``MacroElement``
classes with Jinja templates (``templates/*.j2``) that call the page library
(``templates/lm_*.js``). The Leaflet plugins (overview map, full screen, measure,
draw) are made as ``folium.plugins`` makes them (same files and versions, :mod:`..urls`),
without importing ``folium.plugins``: that loads every one of its ~40 plugins (0.2 s)."""

from .draw import Draw
from .edit_tools import EditTools
from .feature_layers import FeatureLayers
from .filter_control import FilterControl
from .fullscreen import Fullscreen
from .legend import Legend
from .local_base import LocalBase
from .measure_control import MeasureControl
from .overview_map import OverviewMap
from .pending_panel import PendingPanel
from .scale_bar import ScaleBar
from .search import SearchControl
from .start import Start
from .title import Title
from .town_outline import TownOutline

__all__ = [
    "Draw",
    "EditTools",
    "FeatureLayers",
    "FilterControl",
    "Fullscreen",
    "Legend",
    "LocalBase",
    "MeasureControl",
    "OverviewMap",
    "PendingPanel",
    "ScaleBar",
    "SearchControl",
    "Start",
    "Title",
    "TownOutline",
]
