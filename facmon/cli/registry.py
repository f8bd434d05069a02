"""`facmon schema` and `facmon registry check|import`: the device contract and the facility registry."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from facmon.cli.common import EXIT_OK
from facmon.core.i18n import _
from sensors.registry import RegistryError, load_registry


def cmd_schema(args: argparse.Namespace) -> int:
    from sensors.schema import reading_schema

    print(json.dumps(reading_schema(), indent=2, ensure_ascii=False))
    return EXIT_OK


def cmd_registry_check(args: argparse.Namespace) -> int:
    """Validate a registry; with --format json the verdict is JSON on stdout, problems included (exit 2)."""
    if args.format != "json":
        registry = load_registry(Path(args.file))
        print(_("{file}: {count} facilities, types: {types}").format(file=args.file, count=len(registry),
                                                                      types=", ".join(registry.types())))
        return EXIT_OK
    try:
        registry = load_registry(Path(args.file))
    except RegistryError as exc:
        print(json.dumps({"file": args.file, "ok": False, "problems": list(exc.problems)}, ensure_ascii=False))
        return exc.exit_code
    print(json.dumps({"file": args.file, "ok": True, "facilities": len(registry), "types": list(registry.types())},
                     ensure_ascii=False))
    return EXIT_OK


def cmd_registry_import(args: argparse.Namespace) -> int:
    from sensors.registry_csv import import_csv, registry_to_yaml

    registry = import_csv(args.csv)
    text = registry_to_yaml(registry)
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
        print(_("wrote {count} facilities to {path}").format(count=len(registry), path=args.output), file=sys.stderr)
    else:
        sys.stdout.write(text)
    return EXIT_OK


def register(subparsers: Any) -> None:
    """Add `registry` and `schema` to facmon's parser."""
    registry = subparsers.add_parser("registry", help="check or import the facility registry")
    registry_sub = registry.add_subparsers(dest="registry_command", required=True, metavar="ACTION")
    check = registry_sub.add_parser("check", help="validate a registry file")
    check.add_argument("file")
    check.add_argument("--format", choices=("text", "json"), default="text", help="text (default) or json")
    check.set_defaults(handler=cmd_registry_check)
    imp = registry_sub.add_parser("import", help="convert a CSV spreadsheet to registry YAML")
    imp.add_argument("csv")
    imp.add_argument("-o", "--output", help="write here instead of standard output")
    imp.set_defaults(handler=cmd_registry_import)

    schema = subparsers.add_parser("schema", help="print the reading payload's JSON Schema")
    schema.set_defaults(handler=cmd_schema)
