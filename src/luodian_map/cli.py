"""The command line: parse arguments, call one stage function each, report errors in one line.

Stages are imported inside the commands so that ``luodian-map --help`` stays fast.
"""

from __future__ import annotations

import argparse
import codecs
import contextlib
import functools
import io
import json
import logging
import sys
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import urlsplit

from . import __version__, settings
from .categories import PROVIDER_NAMES, PUBLIC_PRECISIONS
from .errors import LuodianMapError

if TYPE_CHECKING:  # the stages load inside the commands (see above)
    import geopandas as gpd

    from ._process import Mapper
    from .checks import ChartProcess
    from .geocode import TownFrame
    from .model import Item
    from .outputs import Staging
    from .providers import OnlineGeocoder

    # ``defer`` of ``layers.write_layers``
    _Defer = Callable[[Callable[[], None]], object]

PROG = "luodian-map"


def _report_paths(paths: Sequence[Path]) -> list[Path]:
    """Expand folders to the reports they hold, in name order, one file per report."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found += sorted(
                p for p in path.iterdir() if p.suffix.lower() in settings.REPORT_SUFFIXES
            )
        else:
            found.append(path)
    if not found:
        raise LuodianMapError(f"{', '.join(map(str, paths))}: no reports (.txt, .docx, .pdf) found")
    from .report import one_file_per_report

    return one_file_per_report(
        found, lambda note: print(f"{PROG}: warning: {note}", file=sys.stderr)
    )


def _extract(args: argparse.Namespace, mapper: Mapper | None = None) -> list[Item]:
    """Items of every report, in name order; unchanged reports are read back from the
    extraction cache, the others extracted in parallel when there are enough of them, or
    as tasks of ``mapper`` (a cluster)."""
    from .extract import extract_reports

    results = extract_reports(
        _report_paths(args.reports),
        _town_gazetteers(args),
        year=args.year,
        cache_dir=args.cache.parent / "items",
        strict=args.strict,
        warn=_warn,
        mapper=mapper,
    )
    items = [item for report_items, _ in results for item in report_items]
    if not items:
        raise LuodianMapError(f"{', '.join(map(str, args.reports))}: no spatial items found")
    reused = sum(was_cached for _, was_cached in results)
    print(
        f"extracted {len(results) - reused} report(s), reused {reused} unchanged; "
        f"{len(items)} items",
        file=sys.stderr,
    )
    return items


def _town_gazetteers(args: argparse.Namespace) -> dict[str | None, Path]:
    """Town name → gazetteer file: the one given, or each town's under ``--geodata``."""
    return _find_gazetteers(args.gazetteer, args.geodata)


@cache
def _find_gazetteers(gazetteer: Path | None, geodata: Path) -> dict[str | None, Path]:
    from .gazetteer import gazetteer_file_town, town_gazetteers

    if gazetteer is not None:
        return {gazetteer_file_town(gazetteer): gazetteer}
    return {town: path for town, path in town_gazetteers(geodata).items()}


@cache
def _load_gazetteer(path: Path) -> gpd.GeoDataFrame:
    """Each gazetteer is read once per run, with its place files, whichever stages need it."""
    from .gazetteer import load_town_gazetteer

    return load_town_gazetteer(path)


def cmd_extract(args: argparse.Namespace) -> None:
    from ._io import write_atomic

    items = _extract(args)
    text = json.dumps([item.to_dict() for item in items], ensure_ascii=False, indent=2) + "\n"
    if args.output:
        write_atomic(args.output, text)
        print(f"{len(items)} items → {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)


def _geocode(
    items: list[Item], args: argparse.Namespace, mapper: Mapper | None = None
) -> tuple[gpd.GeoDataFrame, list[dict[str, Any]]]:
    """The features and the unlocated items; each town's placed as a task of ``mapper``,
    if given."""
    from .gazetteer import Gazetteer
    from .geocode import geocode_items, load_overrides

    gazetteers = {
        town: Gazetteer(_load_gazetteer(path)) for town, path in _town_gazetteers(args).items()
    }
    for town in sorted({i.town for i in items if i.town not in gazetteers}, key=str):
        _warn(
            f"no gazetteer for {town or 'an unnamed town'} under {args.geodata}/: its items "
            "are placed at its district, by --provider, or not at all"
        )
    overrides = None
    given = args.overrides_given or args.overrides_layer is not None
    if args.overrides is not None and (args.overrides.exists() or given):
        overrides = load_overrides(args.overrides, args.overrides_crs, layer=args.overrides_layer)
    online = _OnlineFactory(args) if args.provider else None
    try:
        features, unlocated = geocode_items(
            items,
            gazetteers,
            overrides=overrides,
            online=online,
            mapper=mapper,
            strict=getattr(args, "strict", False),
            warn=_warn,
        )
    finally:
        if online is not None:
            online.close()
    return features, unlocated


def _write(
    features: gpd.GeoDataFrame,
    unlocated: list[dict[str, Any]],
    args: argparse.Namespace,
    staging: Staging,
    defer: _Defer | None = None,
) -> gpd.GeoDataFrame:
    """Write the layers; returns the features. ``defer``: see ``layers.write_layers``."""
    from .layers import write_layers

    write_layers(features, staging.path(args.layers), unlocated=unlocated, defer=defer)
    placed = (features["precision"] != "town").sum()
    print(
        f"{len(features)} features ({placed} located, {len(unlocated)} town-level) → "
        f"{args.layers}/",
        file=sys.stderr,
    )
    return features


class _OnlineFactory:
    """One online geocoder per town's district and area code, sharing one cache file."""

    def __init__(self, args: argparse.Namespace) -> None:
        from .cache import GeocodeCache

        self.provider = args.provider
        self.cache = GeocodeCache(args.cache)
        self._geocoders: dict[tuple[bytes, str | None], OnlineGeocoder] = {}
        url = urlsplit(args.provider_url) if args.provider_url else None
        self._where: dict[str, Any] = {"scheme": url.scheme, "domain": url.netloc} if url else {}
        self._timeout = args.provider_timeout

    def __call__(self, frame: TownFrame) -> OnlineGeocoder:
        from .providers import OnlineGeocoder, city_hint

        assert frame.district is not None  # geocode_items asks only for a bounded town
        city = city_hint(frame.district_code)
        key = (frame.district.wkb, city)
        if key not in self._geocoders:
            self._geocoders[key] = OnlineGeocoder(
                self.provider,
                district=frame.district,
                cache=self.cache,
                city=city,
                timeout=self._timeout,
                **self._where,
            )
        return self._geocoders[key]

    def close(self) -> None:
        for geocoder in self._geocoders.values():
            geocoder.close()
        self.cache.close()


def cmd_geocode(args: argparse.Namespace) -> None:
    from .geocode import items_from_json

    with _transaction({"layers": args.layers}) as staging:
        _write(*_geocode(items_from_json(args.items), args), args, staging)


def _transaction(
    targets: dict[str, Path], **options: Any
) -> contextlib.AbstractContextManager[Staging]:
    """The run's output folders as one transaction (``outputs.transaction``)."""
    from .outputs import transaction

    return transaction(targets, waiting=_waiting, **options)


def _waiting(pid: str) -> None:
    print(f"{PROG}: waiting for the build in progress (pid {pid})…", file=sys.stderr)


def _build_layers(
    args: argparse.Namespace, staging: Staging, defer: _Defer | None = None
) -> gpd.GeoDataFrame:
    """Extract and place on the Dask cluster of ``--scheduler``, if given (closed as soon
    as it is no longer needed: its processes cost time while they wait), then write."""
    from .distributed import cluster_mapper

    with cluster_mapper(args.scheduler) as mapper:
        placed = _geocode(_extract(args, mapper), args, mapper)
    return _write(*placed, args, staging, defer=defer)


def cmd_build(args: argparse.Namespace) -> None:
    if args.no_maps:
        with _transaction({"layers": args.layers}) as staging:
            _build_layers(args, staging)
        return
    from .checks import ChartProcess

    # matplotlib loads in a second process meanwhile; the GeoPackage is written in a third
    # one while the maps render, and waited for on leaving the inner block, before the
    # outputs are switched in.
    with (
        _transaction({"layers": args.layers, "maps": args.maps}) as staging,
        ChartProcess() as charts,
        contextlib.ExitStack() as later,
    ):
        features = _build_layers(args, staging, defer=later.callback)
        checked = _run_checks(args, charts, features)
        _render_default_maps(features, args, staging)
        _write_coverage(args, checked, staging)


def _outline(args: argparse.Namespace, towns: Iterable[str | None]) -> gpd.GeoDataFrame | None:
    """The outlines of the towns on the map, from their gazetteers."""
    import geopandas as gpd

    frames = []
    for town, path in sorted(_town_gazetteers(args).items(), key=lambda tp: str(tp[0])):
        if town in towns:
            gdf = _load_gazetteer(path)
            frames.append(gdf[gdf["kind"] == "town"])
    if not frames:
        return None
    return gpd.GeoDataFrame(gpd.pd.concat(frames, ignore_index=True), crs="EPSG:4326")


@functools.cache
def _warn_once(message: str) -> None:
    """Warn once per run, however many maps (main, per year, coverage) ask."""
    _warn(message)


def _local_base(args: argparse.Namespace, towns: Iterable[str | None]) -> gpd.GeoDataFrame | None:
    """With ``--basemap local``: the place files of the towns on the map, else None."""
    if args.basemap != "local":
        return None
    import geopandas as gpd

    from .places.sources import read_place_files

    frames = [
        read_place_files(path.parent)
        for town, path in sorted(_town_gazetteers(args).items(), key=lambda tp: str(tp[0]))
        if town in towns
    ]
    frames = [f for f in frames if len(f)]
    if not frames:
        _warn_once(
            "no place files for --basemap local: the map has no base "
            "(luodian-map places fetch --source osm makes one)"
        )
        return None
    return gpd.GeoDataFrame(gpd.pd.concat(frames, ignore_index=True), crs="EPSG:4326")


def _render_default_maps(
    features: gpd.GeoDataFrame, args: argparse.Namespace, staging: Staging
) -> None:
    """``maps/luodian.html`` with every item, one publication map per year, and
    ``maps/public.html``, the map for public display (no guess drawn as a place)."""
    from .web import render_map

    outline = _outline(args, set(features["town"]))
    options = {
        "outline": outline,
        "places": _local_base(args, set(features["town"])),
        "lang": args.lang,
        "basemap": args.basemap,
        "self_contained": args.self_contained,
    }
    maps = staging.path(args.maps)
    written = [render_map(features, maps / "luodian.html", **options)]
    for year in sorted(set(features["year"])):
        written.append(
            render_map(features, maps / f"luodian_{year}.html", year=int(year), **options)
        )
    written.append(render_map(features, maps / "public.html", public=True, **options))
    print(f"maps → {', '.join(str(staging.shown(p)) for p in written)}", file=sys.stderr)


def cmd_render(args: argparse.Namespace) -> None:
    from .outputs import locked_for

    _check_render_options(args)
    output = args.output or settings.MAPS / _render_name(args)
    with locked_for(output, waiting=_waiting):
        _render(args, output)


def _render_name(args: argparse.Namespace) -> str:
    """The default file name of ``render``: luodian[_YEAR][_public].pdf|png, or
    luodian.html."""
    if args.format == "html":
        return "luodian.html"
    name = "luodian" + (f"_{args.year}" if args.year else "") + ("_public" if args.public else "")
    return f"{name}.{args.format}"


def _render(args: argparse.Namespace, output: Path) -> None:
    from .layers import read_layers

    features = read_layers(args.layers)
    if args.format != "html":
        _render_print(features, args, output)
        return
    from .web import render_map

    path = render_map(
        features,
        output,
        outline=_outline(args, set(features["town"])),
        places=_local_base(args, set(features["town"])),
        lang=args.lang,
        basemap=args.basemap or "osm",
        self_contained=args.self_contained,
        edit=args.edit,
        year=args.year,
        title=args.title,
        public=args.public,
    )
    if args.public:
        if args.year is not None:
            features = features[features["year"] == args.year]
        drawn = int(features["precision"].isin(PUBLIC_PRECISIONS).sum())
        listed = f"{len(features) - drawn} listed as 位置待核实"
        print(f"{drawn} features drawn, {listed} → {path}", file=sys.stderr)
    else:
        print(f"{len(features)} features → {path}", file=sys.stderr)


def cmd_export(args: argparse.Namespace) -> None:
    from .layers import read_layers

    features = read_layers(args.layers)
    if features.empty:
        raise LuodianMapError(f"{args.layers}/: no layers to export (run 'luodian-map build')")
    if args.geoparquet:
        from .export.geoparquet import export_geoparquet

        path = export_geoparquet(features, args.geoparquet)
        print(f"{len(features)} features → {path}", file=sys.stderr)
    if args.postgis:
        from .export.postgis import TABLE, export_postgis

        rows = export_postgis(features, args.postgis, schema=args.schema)
        print(f"{rows} features → {args.schema}.{TABLE}", file=sys.stderr)


def _check_render_options(args: argparse.Namespace) -> None:
    """Options of one output format given for another, and a file name that contradicts
    the format, are errors rather than silently ignored."""
    web_only = {"--edit": args.edit, "--self-contained": args.self_contained}
    if args.format != "html":
        given = [name for name, value in web_only.items() if value]
        if args.lang != "zh":
            given.append(f"--lang {args.lang}")
        if args.basemap in ("gaode", "tianditu"):
            given.append(f"--basemap {args.basemap}")
        if given:
            raise LuodianMapError(f"{', '.join(given)}: only for --format html")
    suffix = args.output.suffix.lower().lstrip(".") if args.output else args.format
    if suffix in ("html", "pdf", "png") and suffix != args.format:
        raise LuodianMapError(f"{args.output}: a .{suffix} file name for --format {args.format}")


def _render_print(features: gpd.GeoDataFrame, args: argparse.Namespace, output: Path) -> None:
    """A print map (PDF or PNG) of the layers over the towns' offline vector base."""
    from .printmap import read_base, render_print
    from .tiles import tile_source

    towns = set(features["town"])
    gazetteers = [p for town, p in _town_gazetteers(args).items() if town in towns]
    printed = render_print(
        features,
        output,
        fmt=args.format,
        base=read_base(gazetteers),
        year=args.year,
        paper=args.paper,
        public=args.public,
        title=args.title,
        tiles=tile_source(args.basemap) if args.basemap in ("osm", "cartodb") else None,
    )
    withheld = sum(printed.plan.withheld.values())
    print(
        f"{len(printed.plan.places)} places drawn, {withheld} listed without a place, "
        f"{len(printed.labels_omitted)} names not labelled, {printed.basemap} base "
        f"→ {printed.path}",
        file=sys.stderr,
    )


def cmd_assets(args: argparse.Namespace) -> None:
    from .web.assets import fetch_assets

    print(
        f"web assets for --self-contained maps → {fetch_assets(force=args.force)}", file=sys.stderr
    )


def cmd_init(args: argparse.Namespace) -> None:
    """Create a working folder for a town."""
    from .workspace import init_workspace

    for path in init_workspace(args.directory, args.town):
        print(f"wrote {path}", file=sys.stderr)


def cmd_places_fetch(args: argparse.Namespace) -> None:
    """Fetch real geometry for a town from OpenStreetMap or a map service."""
    from .places.sources import place_file_path, write_place_file
    from .places.town import find_town, working_folder

    area = find_town(args.geodata, args.town, rewriting=f"{args.source}.geojson")
    if args.source == "osm":
        from .places.osm import fetch_osm

        places, metadata = fetch_osm(
            area, overpass_url=args.overpass_url, timeout=args.timeout, retries=args.retries
        )
    else:
        from .places.poi import fetch_poi

        places, metadata = fetch_poi(
            args.source,
            area,
            _extract(args),
            timeout=args.timeout,
            cache=args.cache,
            service_url=args.service_url,
            delay=args.delay,
            max_tries=args.retries,
        )
    folder = working_folder(area, args.geodata)
    path = write_place_file(place_file_path(folder, args.source), places, metadata)
    print(f"{len(places)} places from {args.source} → {path}", file=sys.stderr)


def cmd_places_import(args: argparse.Namespace) -> None:
    """Import a planner's own GIS file as surveyed places of a town."""
    from .places.importer import import_places, place_file_stem
    from .places.sources import place_file_path, write_place_file
    from .places.town import find_town, working_folder

    stem = place_file_stem(args.file)
    area = find_town(args.geodata, args.town, rewriting=f"{stem}.geojson")
    places, metadata = import_places(
        args.file, area, crs=args.crs, name_field=args.name_field, layer=args.layer
    )
    folder = working_folder(area, args.geodata)
    path = write_place_file(place_file_path(folder, stem), places, metadata)
    print(f"{len(places)} places from {args.file} → {path}", file=sys.stderr)


def _add_places_parser(commands: Any) -> None:
    places = commands.add_parser(
        "places",
        help="real positions: fetch from OpenStreetMap or a map service, or import a GIS "
        "file, into geodata/<town>/sources/",
    )
    actions = places.add_subparsers(dest="places_command", required=True, metavar="ACTION")
    fetch = actions.add_parser("fetch", help="fetch a town's named places from a source")
    fetch.add_argument("--source", required=True, choices=("osm", "amap", "tianditu"))
    fetch.add_argument(
        "reports",
        nargs="*",
        type=Path,
        default=[settings.REPORTS],
        metavar="REPORT",
        help="amap/tianditu: look up the places of these reports (default: %(default)s)",
    )
    fetch.add_argument(
        "--overpass-url",
        default="https://overpass-api.de/api",
        help="osm: Overpass base URL ending in /api, e.g. a mirror (default: %(default)s)",
    )
    fetch.add_argument(
        "--service-url",
        help="amap/tianditu: the service's base URL, e.g. a proxy (default: the official one)",
    )
    fetch.add_argument(
        "--delay",
        type=float,
        help="amap/tianditu: seconds between requests (default: 0.4, the keys' quota)",
    )
    fetch.add_argument(
        "--timeout", type=float, default=180.0, help="seconds per request (default: %(default)s)"
    )
    fetch.add_argument(
        "--retries", type=int, default=3, help="tries on 429/504, with back-off (default: 3)"
    )
    fetch.add_argument("--year", type=int, help=argparse.SUPPRESS)
    fetch.add_argument("--cache", type=Path, default=settings.CACHE, help=argparse.SUPPRESS)
    fetch.set_defaults(run=cmd_places_fetch, gazetteer=None, strict=False)
    imported = actions.add_parser("import", help="import a planner's own GIS file")
    imported.add_argument(
        "file", type=Path, help="Shapefile, GeoPackage, GeoJSON, KML, CSV, .osm or .osm.pbf"
    )
    imported.add_argument(
        "--crs", help="CRS when the file states none (EPSG code, PROJ, gcj02, bd09)"
    )
    imported.add_argument("--name-field", help="the field holding the place names")
    imported.add_argument("--layer", help="only this layer of a GeoPackage")
    imported.set_defaults(run=cmd_places_import, gazetteer=None)
    for action in (fetch, imported):
        action.add_argument("--town", help="the town's name, when geodata/ holds several")
        action.add_argument(
            "--geodata",
            type=Path,
            default=settings.GEODATA,
            help="folder with one gazetteer per town (default: %(default)s)",
        )


def _add_map_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--basemap",
        default="osm",
        choices=("osm", "cartodb", "gaode", "tianditu", "none", "local"),
        help="tiles under the data; gaode shifts the data to GCJ-02 to fit "
        "its tiles; tianditu needs TIANDITU_KEY; local draws the roads, rivers and "
        "outline of the towns' place files, no tiles (default: %(default)s). A print map "
        "(render --format pdf|png) draws that vector base unless osm or cartodb is given, "
        "and falls back to it when the tiles are neither cached nor answer in 3 s",
    )
    parser.add_argument(
        "--lang",
        default="zh",
        choices=("zh", "en"),
        help="language of the map's labels (default: %(default)s)",
    )
    parser.add_argument(
        "--self-contained",
        action="store_true",
        help="inline every script, style, font and icon: the page works with "
        "no network (run 'luodian-map assets' once first)",
    )


def cmd_check(args: argparse.Namespace) -> int:
    """Coverage checks per town; with --strict, missed thresholds fail the run."""
    from .checks import COVERAGE_FILES, ChartProcess
    from .layers import read_layers
    from .outputs import build_digest

    # the coverage files of earlier runs are replaced, and the maps keep the digest of the
    # build whose layers are checked
    with (
        _transaction(
            {"maps": args.maps},
            replaces=lambda path: path.name in COVERAGE_FILES,
            build=build_digest(args.layers),
        ) as staging,
        ChartProcess() as charts,
    ):
        checked = _run_checks(args, charts, read_layers(args.layers))
        failures = _write_coverage(args, checked, staging)
    for failure in failures:
        print(f"threshold missed: {failure}", file=sys.stderr)
    return 1 if failures and args.strict else 0


class _TownCoverage(NamedTuple):
    town: str | None
    directory: Path
    report: Any  # checks.CoverageReport
    config: Any  # checks.CheckConfig
    charts: Callable[[], dict[str, bytes]]  # pending, from a ChartProcess


def _run_checks(
    args: argparse.Namespace, charts: ChartProcess, features: gpd.GeoDataFrame
) -> list[_TownCoverage]:
    """Check each town of the features and start drawing its charts."""
    from .checks import load_check_config, run_checks

    config = load_check_config(args.config)
    towns = {t: p for t, p in _town_gazetteers(args).items() if t in set(features["town"])}
    checked = []
    for town, path in sorted(towns.items(), key=lambda tp: str(tp[0])):
        directory = args.maps if len(towns) == 1 else args.maps / path.parent.name
        report = run_checks(features, _load_gazetteer(path), config)
        checked.append(_TownCoverage(town, directory, report, config, charts.submit(report)))
    return checked


def _write_coverage(
    args: argparse.Namespace, checked: list[_TownCoverage], staging: Staging
) -> list[str]:
    """Write each town's coverage; the thresholds it misses."""
    from .checks import failed_thresholds, write_coverage

    failures = []
    for town, directory, report, config, charts in checked:
        write_coverage(
            report,
            staging.path(directory),
            self_contained=args.self_contained,
            basemap=args.basemap,
            lang=args.lang,
            places=_local_base(args, [town]),
            charts=charts,
        )
        failures += [f"{town}: {f}" for f in failed_thresholds(report, config)]
        print(f"coverage of {town} → {directory}/coverage.md", file=sys.stderr)
    return failures


def _add_gazetteer_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--geodata",
        type=Path,
        default=settings.GEODATA,
        help="folder with one gazetteer per town, <folder>/gazetteer.geojson "
        "(default: %(default)s)",
    )
    parser.add_argument("--gazetteer", type=Path, help="use this gazetteer file for its town")


def _add_geocoding_options(parser: argparse.ArgumentParser) -> None:
    _add_gazetteer_options(parser)
    parser.add_argument(
        "--overrides",
        type=Path,
        default=None,
        help="a planner's own locations, GeoJSON/GPKG/CSV "
        f"(default: {settings.OVERRIDES} if it exists)",
    )
    parser.add_argument(
        "--overrides-crs",
        help="CRS of the overrides: wgs84, gcj02, bd09, cgcs2000, an EPSG code or a PROJ "
        "string (default: each feature's crs property, else the file's own, else wgs84)",
    )
    parser.add_argument(
        "--overrides-layer",
        metavar="NAME",
        help="the layer of an overrides file with several (a GeoPackage); required then",
    )
    parser.add_argument(
        "--provider",
        choices=PROVIDER_NAMES,
        help="also ask this online geocoder (off by default; keys from the "
        "environment: BAIDU_MAP_AK, AMAP_KEY, TIANDITU_KEY)",
    )
    parser.add_argument(
        "--provider-url",
        help="the provider's address, e.g. a self-hosted Nominatim at http://10.0.0.5:8080",
    )
    parser.add_argument(
        "--provider-timeout",
        type=float,
        default=5.0,
        help="seconds each request may take in all (a deadline, not per read); 3 tries "
        "with back-off (default: %(default)s)",
    )
    parser.add_argument(
        "--cache",
        type=Path,
        default=settings.CACHE,
        help="online answers kept between runs (default: %(default)s)",
    )
    parser.add_argument(
        "--layers",
        type=Path,
        default=settings.LAYERS,
        help="output folder for the layers (default: %(default)s)",
    )


STRICT_HELP = "a report read without part headings, dated by --year, or without items is an error"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Map every place a town government work report names.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    extract = commands.add_parser("extract", help="report → items.json (spatial items)")
    extract.add_argument(
        "reports",
        nargs="+",
        type=Path,
        metavar="REPORT",
        help="report files (.txt, .docx, .pdf) or folders of them",
    )
    extract.add_argument("-o", "--output", type=Path, help="write items here (default: stdout)")
    extract.add_argument(
        "--year", type=int, help="year under review, for a report whose headings carry none"
    )
    extract.add_argument("--strict", action="store_true", help=STRICT_HELP)
    _add_gazetteer_options(extract)
    extract.add_argument("--cache", type=Path, default=settings.CACHE, help=argparse.SUPPRESS)
    extract.set_defaults(run=cmd_extract)

    geocode = commands.add_parser("geocode", help="items.json → layers/ (GeoJSON, GPKG, CSV)")
    geocode.add_argument("items", type=Path, help="items written by 'luodian-map extract'")
    _add_geocoding_options(geocode)
    geocode.set_defaults(run=cmd_geocode)

    build = commands.add_parser("build", help="reports → layers/ and maps/ in one go")
    build.add_argument(
        "reports",
        nargs="*",
        type=Path,
        default=[settings.REPORTS],
        metavar="REPORT",
        help="reports or folders (default: %(default)s)",
    )
    build.add_argument(
        "--year", type=int, help="year under review, for a report whose headings carry none"
    )
    build.add_argument(
        "--strict", action="store_true", help=f"{STRICT_HELP}; so is an override matching no item"
    )
    _add_geocoding_options(build)
    build.add_argument("--no-maps", action="store_true", help="write the layers only")
    build.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="extract and place on this Dask cluster (tcp://host:8786), or 'local' for "
        "one worker process per CPU here; its workers must see the same files",
    )
    build.add_argument(
        "--maps",
        type=Path,
        default=settings.MAPS,
        help="output folder for the maps (default: %(default)s)",
    )
    _add_map_options(build)
    build.set_defaults(run=cmd_build, config=None)

    render = commands.add_parser(
        "render", help="layers/ → one web map (Folium), or a print map (PDF, PNG)"
    )
    _add_gazetteer_options(render)
    render.add_argument(
        "--layers", type=Path, default=settings.LAYERS, help="layers to draw (default: %(default)s)"
    )
    render.add_argument(
        "--format",
        default="html",
        choices=("html", "pdf", "png"),
        help="an interactive web map, or a print map: PDF (fonts embedded) or PNG at 300 dpi "
        "(default: %(default)s)",
    )
    render.add_argument(
        "-o",
        "--output",
        type=Path,
        help=f"the file to write (default: {settings.MAPS}/luodian.html; print maps "
        f"{settings.MAPS}/luodian[_YEAR][_public].pdf|png)",
    )
    render.add_argument(
        "--paper",
        default="a3",
        choices=("a3", "a4"),
        help="page of a print map, landscape (default: %(default)s)",
    )
    render.add_argument("--year", type=int, help="a publication map of this year only")
    render.add_argument("--title", help="the map's title")
    render.add_argument(
        "--edit",
        action="store_true",
        help="drawing tools to replace a location and export overrides",
    )
    render.add_argument(
        "--public",
        action="store_true",
        help="a map for public display: draw only surveyed or sourced locations and list "
        "the guesses (approximate, town level) in a panel 位置待核实 (a print map counts "
        "them by category)",
    )
    _add_map_options(render)
    # no --basemap: osm tiles for the web map, the offline vector base for a print map
    render.set_defaults(run=cmd_render, basemap=None)

    export = commands.add_parser(
        "export", help="layers/ → a PostGIS table and/or one GeoParquet file"
    )
    export.add_argument(
        "--layers",
        type=Path,
        default=settings.LAYERS,
        help="layers to export (default: %(default)s)",
    )
    export.add_argument(
        "--postgis",
        metavar="URL",
        help="replace <schema>.features in this database, postgresql://user@host:port/db "
        "(the password from PGPASSWORD or ~/.pgpass)",
    )
    export.add_argument(
        "--schema", default="luodian_map", help="schema of the table (default: %(default)s)"
    )
    export.add_argument("--geoparquet", type=Path, metavar="FILE", help="write a GeoParquet file")
    export.set_defaults(run=cmd_export)

    assets = commands.add_parser(
        "assets",
        help="download the web assets of --self-contained "
        "maps from the npm registry into a local cache",
    )
    assets.add_argument("--force", action="store_true", help="download again")
    assets.set_defaults(run=cmd_assets)

    check = commands.add_parser("check", help="coverage checks of the layers → maps/coverage.*")
    _add_gazetteer_options(check)
    check.add_argument(
        "--layers",
        type=Path,
        default=settings.LAYERS,
        help="layers to check (default: %(default)s)",
    )
    check.add_argument(
        "--maps",
        type=Path,
        default=settings.MAPS,
        help="where coverage.md/.json/.html go (default: %(default)s)",
    )
    check.add_argument(
        "--config",
        type=Path,
        help=f"TOML thresholds and distances (default: {settings.CONFIG} if it exists, "
        "else the packaged one)",
    )
    _add_map_options(check)  # of the coverage map
    check.add_argument(
        "--strict", action="store_true", help="exit 1 when a threshold of the config is missed"
    )
    check.set_defaults(run=cmd_check)
    _add_places_parser(commands)
    init = commands.add_parser(
        "init", help="create a working folder for a town: geodata/reports/, checks.toml, README"
    )
    init.add_argument(
        "directory", nargs="?", type=Path, default=Path("."), help="(default: the current one)"
    )
    init.add_argument("--town", help="the town's name, when several are known")
    init.set_defaults(run=cmd_init)
    return parser


def _warn(note: str) -> None:
    print(f"{PROG}: warning: {_one_line(note)}", file=sys.stderr)


def _one_line(text: str) -> str:
    return " ".join(text.splitlines())


class _OwnWarnings(logging.Handler):
    """The package's logged warnings as ``luodian-map: warning: …`` lines; every other
    library's records (pypdf's on a damaged PDF, …) are dropped."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.split(".")[0] == __package__:
            _warn(record.getMessage())


@contextlib.contextmanager
def _library_noise_silenced() -> Iterator[None]:
    """No Python warning (pyogrio's, geopandas', pypdf's) and no other library's log record
    on stderr while a command runs, unless asked for with ``-W`` or ``PYTHONWARNINGS``:
    what matters of them the package says itself, in one line."""
    handler = _OwnWarnings()
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        with warnings.catch_warnings():
            if not sys.warnoptions:
                warnings.simplefilter("ignore")
            yield
    finally:
        root.removeHandler(handler)


_JSON_ESCAPE = "luodian-map-json-escape"


def _json_escape(error: UnicodeError) -> tuple[str, int]:
    """What the terminal cannot encode as JSON's ``\\uXXXX`` escapes (UTF-16 code units):
    a readable escape in a message, and still valid JSON in ``extract``'s output."""
    if not isinstance(error, UnicodeEncodeError):
        raise error
    units = error.object[error.start : error.end].encode("utf-16-be", "surrogatepass")
    escaped = "".join(f"\\u{units[i]:02x}{units[i + 1]:02x}" for i in range(0, len(units), 2))
    return escaped, error.end


def _escape_unencodable() -> None:
    """Text the terminal cannot encode (Chinese under ``LC_ALL=C``) is written as ``\\u``
    escapes instead of failing with a ``UnicodeEncodeError``."""
    codecs.register_error(_JSON_ESCAPE, _json_escape)
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper):
            stream.reconfigure(errors=_JSON_ESCAPE)


def main(argv: Sequence[str] | None = None) -> int:
    _escape_unencodable()
    _warn_once.cache_clear()  # once per run, also when a program calls main() again
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "export" and not (args.postgis or args.geoparquet):
        parser.error("export: give --postgis URL and/or --geoparquet FILE")
    if hasattr(args, "overrides"):
        args.overrides_given = args.overrides is not None
        args.overrides = args.overrides or settings.OVERRIDES
    if getattr(args, "config", False) is None and settings.CONFIG.exists():
        args.config = settings.CONFIG
    try:
        with _library_noise_silenced():
            status = args.run(args) or 0
    except LuodianMapError as error:
        _error(str(error))
        return 2
    except OSError as error:
        reason = error.strerror or str(error)
        _error(f"{error.filename}: {reason}" if error.filename else reason)
        return 2
    except KeyboardInterrupt:
        return 130
    return status


def _error(message: str) -> None:
    print(f"{PROG}: error: {_one_line(message)}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
