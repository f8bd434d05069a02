"""`facmon ingest`: the service that validates MQTT readings and writes them to InfluxDB."""

from __future__ import annotations

import argparse
import logging
import signal
from types import FrameType
from typing import Any

from facmon.cli.common import (
    EXIT_OK,
    settings_flags,
    settings_from,
    wait_for_signal,
)
from facmon.core import logs
from sensors.registry import load_registry

#: The name docs/reliability.md quotes for the SIGHUP line; kept from when the command lived in facmon/cli.py.
log = logging.getLogger("facmon.cli")


def cmd_ingest(args: argparse.Namespace) -> int:
    from ingest.service import Ingester

    settings = settings_from(args)
    logs.configure(settings.log_level)
    registry = load_registry(settings.registry, settings.registry_cache_dir)
    stop = wait_for_signal()
    ingester = Ingester(settings, registry)

    def reload(signum: int, frame: FrameType | None) -> None:
        from sensors.registry import RegistryError

        try:
            ingester.reload_registry(load_registry(settings.registry, settings.registry_cache_dir))
        except RegistryError as exc:
            # A log line, not print(): print in a signal handler can hit "reentrant call" on stderr while the
            # interrupted thread is writing a log line, and kill the ingester; logging absorbs that.
            log.error("registry not reloaded, keeping the previous one: %s", exc)

    signal.signal(signal.SIGHUP, reload)
    ingester.run(stop)
    return EXIT_OK


def register(subparsers: Any) -> None:
    """Add `ingest` to facmon's parser."""
    ingest = subparsers.add_parser("ingest", help="validate MQTT readings and write them to InfluxDB")
    settings_flags(ingest)
    ingest.add_argument("--max-reading-age", help="oldest ts accepted, e.g. 35d, 12h, 90m")
    ingest.add_argument("--client-id", dest="mqtt_client_id", help="MQTT client id of the persistent session")
    ingest.add_argument("--share-group", dest="mqtt_share_group", help="MQTT shared-subscription group")
    ingest.add_argument("--batch-size", type=int, help="points per InfluxDB write")
    ingest.set_defaults(handler=cmd_ingest)
