"""Writing a report: ``coverage.json``, ``coverage.md`` with its charts, ``coverage.html``."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from .._io import write_atomic
from .markdown import coverage_markdown
from .process import ChartProcess
from .report import CoverageReport

if TYPE_CHECKING:
    import geopandas as gpd

CHART_FILES = {
    "items": "coverage_items.svg",
    "villages": "coverage_villages.svg",
    "reach": "coverage_reach.svg",
}
REPORT_FILES = ("coverage.json", "coverage.md", "coverage.html")
# every file a coverage report may consist of
COVERAGE_FILES = frozenset((*REPORT_FILES, *CHART_FILES.values()))


def write_coverage(
    report: CoverageReport,
    directory: str | Path,
    *,
    self_contained: bool = False,
    basemap: str = "osm",
    lang: str = "zh",
    places: gpd.GeoDataFrame | None = None,
    charts: Callable[[], dict[str, bytes]] | None = None,
) -> list[Path]:
    """Write ``coverage.json``, ``coverage.md`` with its charts and ``coverage.html``.

    Every file is deterministic, so an unchanged input changes no byte of the output;
    ``self_contained`` inlines the map's scripts and ``basemap``, ``lang`` and ``places``
    choose its base (see :func:`.map.coverage_html`) like the main maps'. ``charts`` are
    the pending charts of a :class:`ChartProcess`; without it they are drawn here.
    """
    from .map import coverage_html

    directory = Path(directory)
    html = coverage_html(report, basemap=basemap, lang=lang, places=places)
    if self_contained:
        from ..web.assets import inline_assets

        html = inline_assets(html)
    drawn = (charts or ChartProcess(parallel=False).submit(report))()
    written = []
    for key, name in CHART_FILES.items():
        if key in drawn:
            written.append(write_atomic(directory / name, drawn[key]))
        else:  # a chart with nothing to show: no stale picture of an earlier run
            (directory / name).unlink(missing_ok=True)
    names = {key: CHART_FILES[key] for key in drawn}
    text = json.dumps(report.to_dict(), ensure_ascii=False, indent=1) + "\n"
    json_name, markdown_name, html_name = REPORT_FILES
    written.append(write_atomic(directory / json_name, text))
    written.append(write_atomic(directory / markdown_name, coverage_markdown(report, names)))
    written.append(write_atomic(directory / html_name, html))
    return written
