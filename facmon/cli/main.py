"""The `facmon` command: one entry point, one subcommand module per command group (facmon/cli/*.py).

Each subcommand module imports what it shares from facmon.cli.common, never this module; this module imports
them all, at the top. What a command needs to run (pandas, the servers' clients) is imported inside its handler,
so that `facmon --help` and the parser load none of it: those are the only function-level imports in the package.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence

from facmon.cli import access, analyze, audit, dashboards, demo, devices, ingest, national, registry, simulate
from facmon.cli.common import language_flag
from facmon.core import i18n
from facmon.core.errors import EXIT_INTERRUPTED, EXIT_USAGE, FacmonError
from facmon.core.settings import ENV_PREFIX
from facmon.core.version import facmon_version

Handler = Callable[[argparse.Namespace], int]

#: In the order `facmon --help` lists them.
COMMAND_GROUPS = (ingest, registry, demo, analyze, devices, access, simulate, audit, dashboards, national)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="facmon", description="Public-facility utilization monitor.")
    parser.add_argument("--version", action="version", version=f"facmon {facmon_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for group in COMMAND_GROUPS:
        group.register(sub)
    language_flag(parser, top=True)
    for command in _subcommands(parser):
        language_flag(command, top=False)
    return parser


def _subcommands(parser: argparse.ArgumentParser) -> Iterator[argparse.ArgumentParser]:
    """Every subcommand's parser, at any depth (`facmon registry check`)."""
    for action in parser._actions:  # argparse keeps its subparsers only there
        if isinstance(action, argparse._SubParsersAction):
            for child in dict.fromkeys(action.choices.values()):  # aliases repeat a parser
                yield child
                yield from _subcommands(child)


def start_language(flag: str | None, environ: Mapping[str, str]) -> None:
    """The process's language, once: --lang, else FACMON_LANGUAGE, else the locale's (facmon.core.i18n)."""
    i18n.set_language(i18n.choose(flag or environ.get(f"{ENV_PREFIX}LANGUAGE"), environ))


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; an expected failure (FacmonError) is one line on stderr and its exit code, here only."""
    args = build_parser().parse_args(audit.review_shorthand(sys.argv[1:] if argv is None else argv))
    handler: Handler = args.handler
    try:
        start_language(args.language, os.environ)
    except i18n.LanguageError as exc:
        i18n.set_language(i18n.from_locale(os.environ))  # said in the locale's language, the one setting is wrong
        print(i18n._("facmon: invalid setting {name}: {problem}").format(name=f"{ENV_PREFIX}LANGUAGE", problem=exc),
              file=sys.stderr)
        return EXIT_USAGE
    try:
        return handler(args)
    except FacmonError as exc:
        print(i18n._("facmon: {problem}").format(problem=exc), file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
