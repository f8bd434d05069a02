"""`facmon devices`: every sensor's health, for integrators and operators (analytics.devices)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from facmon.cli.analyze import select
from facmon.cli.common import (
    EXIT_OK,
    EXIT_USAGE,
    NOW_HELP,
    CommandError,
    instant,
    parse_facility,
    settings_flags,
    settings_from,
)
from sensors.registry import load_registry


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "devices", help="every sensor: last reading, readings today, refusals, online/offline, revisions",
        description="List every sensor that reported to a facility of the registry — last reading and its age, "
                    "readings today against the 15-minute heartbeat, refusals of the last 24 h with the latest "
                    "reason, online/offline, revisions — and sensors refused for a facility the registry does "
                    "not know.",
    )
    settings_flags(parser)
    parser.add_argument("--facility", action="append", type=parse_facility, metavar="ID",
                        help="only this facility (repeatable)")
    parser.add_argument("--region", help="only facilities in this region or below it, e.g. zhejiang/wenzhou")
    parser.add_argument("--integrator", metavar="USERNAME", help="only the facilities this integrator serves "
                        "(needs --integrators)")
    parser.add_argument("--integrators", type=Path, help="the integrators file of `facmon broker-config`")
    parser.add_argument("--format", choices=("table", "json", "csv"), default="table", help="output format")
    parser.add_argument("--now", type=instant, metavar="INSTANT", help=NOW_HELP)
    parser.set_defaults(handler=cmd_devices)


def cmd_devices(args: argparse.Namespace) -> int:
    from analytics import devices
    from facmon.access.brokerconfig import load_integrators
    from facmon.core.influx import InfluxClient, InfluxError

    settings = settings_from(args)
    registry = load_registry(settings.registry, settings.registry_cache_dir)
    facilities = select(list(registry), args.facility, args.region)
    if args.integrator is not None:
        if args.integrators is None:
            raise CommandError("--integrator needs --integrators (the file broker-config reads)", EXIT_USAGE)
        accounts = load_integrators(args.integrators, registry)
        served = {f for a in accounts if a.role == "integrator" and args.integrator in a.usernames
                  for f in a.facilities}
        if not served:
            raise CommandError(f"no integrator {args.integrator!r} in {args.integrators}", EXIT_USAGE)
        facilities = [f for f in facilities if f.id in served]
    now = settings.clock.now()
    client = InfluxClient.from_settings(settings)
    parts: dict[str, list[dict[str, object]]] = {}
    try:
        if facilities:
            for name, statement in devices.queries(facilities, now, settings.max_reading_age).items():
                parts[name] = devices.series_rows(client.query(statement, epoch="ns"))
    except InfluxError as exc:
        raise CommandError(f"InfluxDB at {settings.influx_url}: {exc}") from None
    finally:
        client.close()
    everything = args.facility is None and args.region is None and args.integrator is None
    rows = devices.health(facilities, now, parts, unregistered=everything)
    sys.stdout.write(devices.render(rows, args.format, now))
    return EXIT_OK
