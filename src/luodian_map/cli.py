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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
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
