"""Spatial checks of task coverage: how much of the report is on the map, where the town's
work lands, and which places the report leaves out.

:func:`run_checks` takes the features (``layers.read_layers``) and the gazetteer and
returns a :class:`CoverageReport` of plain tables; :func:`write_coverage` writes it as
``coverage.json``, ``coverage.md`` (with charts) and ``coverage.html`` (a map), and
:func:`failed_thresholds` says which thresholds of the config a strict run misses.

The modules, each depending only on those above it:

* :mod:`.config` — :class:`CheckConfig` and :func:`load_check_config`;
* :mod:`.report` — the report model :class:`CoverageReport` and its readings;
* :mod:`.measures` — the checks themselves and :func:`run_checks`;
* :mod:`.markdown` — ``coverage.md``; :mod:`.map` — ``coverage.html``;
* :mod:`.process` — :class:`ChartProcess`, drawing :mod:`luodian_map.charts` in a second
  process; :mod:`.write` — :func:`write_coverage`.
"""

from .config import CONFIG_NAME, CheckConfig, load_check_config
from .markdown import coverage_markdown
from .measures import run_checks
from .process import ChartProcess, chart_input
from .report import FOLLOW_UP, CoverageReport, failed_thresholds, guess_note
from .write import CHART_FILES, COVERAGE_FILES, write_coverage

__all__ = [
    "CHART_FILES",
    "CONFIG_NAME",
    "COVERAGE_FILES",
    "FOLLOW_UP",
    "ChartProcess",
    "CheckConfig",
    "CoverageReport",
    "chart_input",
    "coverage_markdown",
    "failed_thresholds",
    "guess_note",
    "load_check_config",
    "run_checks",
    "write_coverage",
]
