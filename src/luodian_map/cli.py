"""The command line: parse arguments, call one stage function each, report errors in one line.

Stages are imported inside the commands so that ``luodian-map --help`` stays fast.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from . import __version__, settings
from .errors import LuodianMapError

PROG = "luodian-map"


def _report_paths(paths: Sequence[Path]) -> list[Path]:
    """Expand folders to the reports they hold, in name order."""
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
    return found


def _extract(paths: Sequence[Path], year: int | None, gazetteer: Path | None) -> list:
    from .extract import extract_items, known_places
    from .report import load_report

    known = known_places(gazetteer)
    items = []
    for path in _report_paths(paths):
        items += extract_items(load_report(path, year=year), known_places=known)
    return items


def cmd_extract(args: argparse.Namespace) -> None:
    from ._io import write_atomic

    items = _extract(args.reports, args.year, args.gazetteer)
    text = json.dumps([item.to_dict() for item in items], ensure_ascii=False, indent=2) + "\n"
    if args.output:
        write_atomic(args.output, text)
        print(f"{len(items)} items → {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)


def _geocode_and_write(items: list, args: argparse.Namespace):
    """Place the items and write the layers; returns the features."""
    from .gazetteer import Gazetteer, load_gazetteer
    from .geocode import geocode_items, load_overrides, town_frame
    from .layers import write_layers

    gazetteer = Gazetteer(load_gazetteer(args.gazetteer))
    overrides = None
    if args.overrides is not None and (args.overrides.exists() or args.overrides_given):
        overrides = load_overrides(args.overrides, args.overrides_crs)
    online = None
    if args.provider:
        from .cache import GeocodeCache
        from .providers import OnlineGeocoder

        district = town_frame(gazetteer, None).district
        online = OnlineGeocoder(args.provider, district=district, cache=GeocodeCache(args.cache))
    try:
        features, unlocated = geocode_items(items, gazetteer, overrides=overrides, online=online)
    finally:
        if online is not None:
            online.close()
            online.cache.close()
    write_layers(features, args.layers, unlocated=unlocated)
    placed = (features["precision"] != "town").sum()
    print(
        f"{len(features)} features ({placed} located, {len(unlocated)} town-level) → "
        f"{args.layers}/",
        file=sys.stderr,
    )
    return features


def cmd_geocode(args: argparse.Namespace) -> None:
    from .geocode import items_from_json

    _geocode_and_write(items_from_json(args.items), args)


def cmd_build(args: argparse.Namespace) -> None:
    items = _extract(args.reports, args.year, args.gazetteer)
    _geocode_and_write(items, args)
    if not args.no_maps:
        _render_default_maps(args)


def _render_default_maps(args: argparse.Namespace) -> None:
    """Placeholder until the maps land: the layers are the product so far."""


def _add_geocoding_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--gazetteer",
        type=Path,
        default=settings.GAZETTEER,
        help="known places (default: %(default)s)",
    )
    parser.add_argument(
        "--overrides",
        type=Path,
        default=None,
        help="a planner's own locations, GeoJSON/GPKG/CSV "
        f"(default: {settings.OVERRIDES} if it exists)",
    )
    parser.add_argument(
        "--overrides-crs",
        default="wgs84",
        help="CRS of the overrides: wgs84, gcj02, bd09, cgcs2000",
    )
    parser.add_argument(
        "--provider",
        choices=("nominatim", "baidu", "arcgis", "amap", "tianditu"),
        help="also ask this online geocoder (off by default; keys from the "
        "environment: BAIDU_MAP_AK, AMAP_KEY, TIANDITU_KEY)",
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
    extract.add_argument(
        "--gazetteer",
        type=Path,
        default=settings.GAZETTEER,
        help="names to recognise besides the patterns (default: %(default)s)",
    )
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
    _add_geocoding_options(build)
    build.add_argument("--no-maps", action="store_true", help="write the layers only")
    build.set_defaults(run=cmd_build)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if hasattr(args, "overrides"):
        args.overrides_given = args.overrides is not None
        args.overrides = args.overrides or settings.OVERRIDES
    try:
        args.run(args)
    except LuodianMapError as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        print(f"{PROG}: error: {error.filename or ''}: {error.strerror or error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
