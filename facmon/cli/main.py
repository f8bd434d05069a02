"""The `facmon` command: one entry point, one subcommand module per command group (facmon/cli/*.py).

Each subcommand module imports what it shares from facmon.cli.common, never this module; this module imports
them all, at the top. What a command needs to run (pandas, the servers' clients) is imported inside its handler,
so that `facmon --help` and the parser load none of it: those are the only function-level imports in the package.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from facmon.cli import access, analyze, audit, dashboards, demo, devices, ingest, registry, simulate
from facmon.core.errors import EXIT_INTERRUPTED, FacmonError
from facmon.core.version import facmon_version

Handler = Callable[[argparse.Namespace], int]

#: In the order `facmon --help` lists them.
COMMAND_GROUPS = (ingest, registry, demo, analyze, devices, access, simulate, audit, dashboards)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="facmon", description="Public-facility utilization monitor.")
    parser.add_argument("--version", action="version", version=f"facmon {facmon_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for group in COMMAND_GROUPS:
        group.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; an expected failure (FacmonError) is one line on stderr and its exit code, here only."""
    args = build_parser().parse_args(audit.review_shorthand(sys.argv[1:] if argv is None else argv))
    handler: Handler = args.handler
    try:
        return handler(args)
    except FacmonError as exc:
        print(f"facmon: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
