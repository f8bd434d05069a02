"""`facmon national merge`: the provinces' status exports (`facmon analyze --export`) as one national view."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from facmon.cli.common import EXIT_OK, write_atomically


def _depth(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= 8:
        raise argparse.ArgumentTypeError(f"{text!r}: a region depth is 1 to 8 levels")
    return value


def register(subparsers: Any) -> None:
    """Add `national merge` to facmon's parser."""
    national = subparsers.add_parser("national", help="merge the provinces' status exports into a national view")
    actions = national.add_subparsers(dest="national_command", required=True, metavar="ACTION")
    merge = actions.add_parser(
        "merge", help="merge status exports (facmon analyze --export) into one national view",
        description="Merge the status exports of several deployments (one per province, each written by `facmon "
                    "analyze --export FILE`) into one view: counts per deployment, region and type, and every "
                    "flagged facility with its deployment. Facilities are keyed by (deployment, id). Refuses, "
                    "naming every problem, exports of different dates, windows or schema versions, a deployment "
                    "twice, a facility id in two deployments, and files that are not valid exports; nothing is "
                    "written then.")
    merge.add_argument("exports", nargs="+", metavar="EXPORT", help="a deployment's status export (JSON)")
    merge.add_argument("--format", choices=("table", "json"), default="table", help="output format")
    merge.add_argument("--out", type=Path, metavar="FILE",
                       help="write the view to FILE (replaced whole, or left as it was when the merge is refused)")
    merge.add_argument("--region-depth", type=_depth, default=2, metavar="N",
                       help="count regions by their first N levels (default 2: province/city)")
    merge.add_argument("--allow-shared-ids", action="store_true",
                       help="the same facility id in two deployments names two facilities (refused otherwise)")
    merge.set_defaults(handler=cmd_merge)


def _sources(names: Sequence[str]) -> Iterator[Any]:
    """Each export's bytes, read when the merge comes to it, or why it could not be read."""
    from analytics.national.merge import Source

    for name in names:
        try:
            yield Source(name, Path(name).read_bytes())
        except OSError as exc:
            yield Source(name, None, exc.strerror or str(exc))


def cmd_merge(args: argparse.Namespace) -> int:
    """The view on standard output or in --out; a refusal is every problem on stderr (and, with --format json,
    as JSON on standard output: {"ok": false, "problems": [...]}), exit 2."""
    import orjson

    from analytics.national.merge import MergeError, merge
    from analytics.national.view import RENDERERS

    try:
        view = merge(_sources(args.exports), args.region_depth, args.allow_shared_ids)
    except MergeError as exc:
        if args.format == "json":
            sys.stdout.write(orjson.dumps({"ok": False, "problems": list(exc.problems)},
                                          option=orjson.OPT_INDENT_2).decode() + "\n")
        raise
    data = RENDERERS[args.format](view)
    if args.out is not None:
        write_atomically(args.out, data)
    else:
        sys.stdout.write(data.decode())
        sys.stdout.flush()
    return EXIT_OK
