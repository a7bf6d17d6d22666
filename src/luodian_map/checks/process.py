"""The charts drawn in a second process (:class:`ChartProcess`), from plain data."""

from __future__ import annotations

import contextlib
import typing
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import cast

import shapely

from .._process import call, tied_pool, usable_cpus
from .report import CoverageReport

if typing.TYPE_CHECKING:
    from ..charts import ChartInput


def chart_input(report: CoverageReport) -> ChartInput:
    """What the charts show, as plain data in metres, so that the process drawing them
    needs neither geopandas nor the report's frames."""
    crs = report.config.metric_crs
    committees = report.frames["committees"].to_crs(crs)
    rings = shapely.get_parts(report.frames["outline"].to_crs(crs).boundary.values)
    return {
        "located": report.checks["located"],
        "villages": bool(report.checks["villages"]),
        "reach": report.checks["service_reach"]
        if any(r["committees"] for r in report.checks["service_reach"])
        else [],
        "walk_m": report.config.walk_distance_m,
        "committees": {
            "name": committees["name"].tolist(),
            "kind": committees["kind"].tolist(),
            "tasks": committees["tasks"].astype(int).tolist(),
            "x": committees.geometry.x.tolist(),
            "y": committees.geometry.y.tolist(),
        },
        "outline": [shapely.get_coordinates(ring).tolist() for ring in rings],
    }


class ChartProcess:
    """Draws the charts in a second process, started on entry, so that importing matplotlib
    and drawing overlap the caller's work (extraction, maps). ``parallel`` defaults to
    whether this process may use more than one core; without it, the charts are drawn
    here when asked for. The process ends with this one, even when this one is killed
    (:func:`~luodian_map._process.tied_pool`): enter from the main thread."""

    def __init__(self, parallel: bool | None = None) -> None:
        self._parallel = usable_cpus() > 1 if parallel is None else parallel
        self._pool: ProcessPoolExecutor | None = None

    def __enter__(self) -> ChartProcess:
        if self._parallel:
            self._pool = tied_pool(1, "spawn")  # no fork of a threaded process
            self._pool.submit(call, _CHARTS, "warm_up")  # start the process and imports now
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)

    def submit(self, report: CoverageReport) -> Callable[[], dict[str, bytes]]:
        """Start drawing the charts of ``report``; call the result to get them. A second
        process that could not start or died (e.g. a script calling the CLI without a
        ``__main__`` guard) costs only the time: the charts are then drawn here."""
        data = chart_input(report)
        try:
            future = None if self._pool is None else self._pool.submit(call, _CHARTS, _DRAW, data)
        except BrokenProcessPool:
            future = None

        def result() -> dict[str, bytes]:
            if future is not None:
                with contextlib.suppress(BrokenProcessPool):
                    return cast("dict[str, bytes]", future.result())
            return cast("dict[str, bytes]", call(_CHARTS, _DRAW, data))

        return result


# The chart module, named rather than imported: importing it loads matplotlib.
_CHARTS, _DRAW = "luodian_map.charts", "draw_charts"
