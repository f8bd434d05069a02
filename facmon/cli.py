"""The `facmon` command: one entry point, one subcommand per job."""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType
from typing import Any

from facmon import logs
from facmon.settings import Settings, SettingsError, load_settings

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2
NOW_HELP = ("pin the clock: an ISO instant with its offset, e.g. 2026-12-01T16:30:00Z, for tests and reproducing "
            "a run (default FACMON_NOW, else the machine's clock)")


class CommandError(Exception):
    """A failure to report in one line, with the exit code to use."""

    def __init__(self, message: str, code: int = EXIT_FAILURE) -> None:
        super().__init__(message)
        self.code = code


def _settings_flags(parser: argparse.ArgumentParser) -> None:
    """Flags that override FACMON_* settings; their names mirror the environment variables."""
    group = parser.add_argument_group("settings (override FACMON_* environment variables)")
    group.add_argument("--mqtt-url", help="broker URL, mqtt://[user:pass@]host:port or mqtts://")
    group.add_argument("--mqtt-ca-file", help="CA certificate for mqtts://")
    group.add_argument("--topic-prefix", help="topic prefix (default facmon/v1)")
    group.add_argument("--influx-url", help="InfluxDB URL (default http://127.0.0.1:8086)")
    group.add_argument("--influx-db", help="InfluxDB database of the readings (default facmon)")
    group.add_argument("--influx-evidence-db", help="InfluxDB database of statuses, alerts, reviews and the rollup "
                                                    "(default <influx-db>_evidence)")
    group.add_argument("--registry", help="facility registry YAML")
    group.add_argument("--log-level", help="DEBUG, INFO, WARNING or ERROR")


_SETTING_FLAGS = (
    "mqtt_url", "mqtt_ca_file", "topic_prefix", "influx_url", "influx_db", "influx_evidence_db", "registry",
    "log_level", "max_reading_age", "mqtt_client_id", "mqtt_share_group", "batch_size", "now",
)


def instant(text: str) -> str:
    """An argparse type for --now: checked at once (before any server starts), passed on as ISO text."""
    from facmon.clock import parse_instant

    try:
        return parse_instant(text).isoformat()
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} {exc}") from None


def settings_from(args: argparse.Namespace) -> Settings:
    overrides = {name: getattr(args, name, None) for name in _SETTING_FLAGS}
    try:
        settings = load_settings(overrides)
    except SettingsError as exc:
        raise CommandError(str(exc), EXIT_USAGE) from None
    for warning in credential_warnings(settings, overrides):
        print(f"facmon: warning: {warning}", file=sys.stderr)
    return settings


def credential_warnings(settings: Settings, flags: dict[str, Any]) -> list[str]:
    """Passwords on the command line (any local user reads /proc/PID/cmdline) or crossing the network in clear."""
    warnings = []
    url = flags.get("mqtt_url")
    if url is not None and settings.mqtt.password is not None:
        warnings.append("--mqtt-url holds a password, which every local user can read in /proc/PID/cmdline; "
                        "set FACMON_MQTT_URL in the environment instead")
    return warnings + settings.cleartext_warnings()


def load_registry_or_fail(path: Path) -> Any:
    from sensors.registry import RegistryError, load_registry

    try:
        return load_registry(path)
    except RegistryError as exc:
        raise CommandError(str(exc), EXIT_USAGE) from None


# -- subcommands -------------------------------------------------------------------------------------------------
def cmd_schema(args: argparse.Namespace) -> int:
    from sensors.schema import reading_schema

    print(json.dumps(reading_schema(), indent=2, ensure_ascii=False))
    return EXIT_OK


def cmd_registry_check(args: argparse.Namespace) -> int:
    registry = load_registry_or_fail(Path(args.file))
    print(f"{args.file}: {len(registry)} facilities, types: {', '.join(registry.types())}")
    return EXIT_OK


def cmd_registry_import(args: argparse.Namespace) -> int:
    from sensors.registry import RegistryError
    from sensors.registry_csv import import_csv, registry_to_yaml

    try:
        registry = import_csv(args.csv)
    except RegistryError as exc:
        raise CommandError(str(exc), EXIT_USAGE) from None
    text = registry_to_yaml(registry)
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
        print(f"wrote {len(registry)} facilities to {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return EXIT_OK


def set_from_signal_handler(event: threading.Event) -> None:
    """Set `event` from a signal handler without deadlocking.

    The handler runs in the main thread, possibly while that thread is inside `event.wait()` holding the event's
    own non-reentrant lock; `event.set()` there would wait for that lock forever. Another thread can take it.
    """
    threading.Thread(target=event.set, name="signal", daemon=True).start()


def wait_for_signal() -> threading.Event:
    """An event set by SIGTERM or SIGINT, so services stop cleanly (flush, acknowledge, disconnect)."""
    stop = threading.Event()

    def handler(signum: int, frame: FrameType | None) -> None:
        set_from_signal_handler(stop)

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
    return stop


def cmd_ingest(args: argparse.Namespace) -> int:
    from ingest.service import Ingester, IngestError

    settings = settings_from(args)
    logs.configure(settings.log_level)
    registry = load_registry_or_fail(settings.registry)
    stop = wait_for_signal()
    try:
        ingester = Ingester(settings, registry)
    except IngestError as exc:
        raise CommandError(str(exc)) from None

    def reload(signum: int, frame: FrameType | None) -> None:
        from sensors.registry import RegistryError, load_registry

        try:
            ingester.reload_registry(load_registry(settings.registry))
        except RegistryError as exc:
            # A log line, not print(): print in a signal handler can hit "reentrant call" on stderr while the
            # interrupted thread is writing a log line, and kill the ingester; logging absorbs that.
            logging.getLogger("facmon.cli").error("registry not reloaded, keeping the previous one: %s", exc)

    signal.signal(signal.SIGHUP, reload)
    try:
        ingester.run(stop)
    except IngestError as exc:
        raise CommandError(str(exc)) from None
    return EXIT_OK


def cmd_demo(args: argparse.Namespace) -> int:
    from facmon.demo import run_demo

    return run_demo(output=args.output, keep_running=args.keep_running, now=args.now)


# -- parser ------------------------------------------------------------------------------------------------------
Handler = Callable[[argparse.Namespace], int]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="facmon", description="Public-facility utilization monitor.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    ingest = sub.add_parser("ingest", help="validate MQTT readings and write them to InfluxDB")
    _settings_flags(ingest)
    ingest.add_argument("--max-reading-age", help="oldest ts accepted, e.g. 35d, 12h, 90m")
    ingest.add_argument("--client-id", dest="mqtt_client_id", help="MQTT client id of the persistent session")
    ingest.add_argument("--share-group", dest="mqtt_share_group", help="MQTT shared-subscription group")
    ingest.add_argument("--batch-size", type=int, help="points per InfluxDB write")
    ingest.set_defaults(handler=cmd_ingest)

    registry = sub.add_parser("registry", help="check or import the facility registry")
    registry_sub = registry.add_subparsers(dest="registry_command", required=True, metavar="ACTION")
    check = registry_sub.add_parser("check", help="validate a registry file")
    check.add_argument("file")
    check.set_defaults(handler=cmd_registry_check)
    imp = registry_sub.add_parser("import", help="convert a CSV spreadsheet to registry YAML")
    imp.add_argument("csv")
    imp.add_argument("-o", "--output", help="write here instead of standard output")
    imp.set_defaults(handler=cmd_registry_import)

    schema = sub.add_parser("schema", help="print the reading payload's JSON Schema")
    schema.set_defaults(handler=cmd_schema)

    demo = sub.add_parser(
        "demo", help="the sample county's last 28 days through the whole system, then stop (`make demo`)",
        description="Start Mosquitto and InfluxDB in a temporary directory (or use those of FACMON_MQTT_URL and "
                    "FACMON_INFLUX_URL), the ingester, backfill facmon/resources/county.yaml, analyze it, print the "
                    "flagged facilities, write the evidence report, and stop everything.")
    demo.add_argument("--output", type=Path, metavar="DIR", help="where the report goes (default ./demo-output)")
    demo.add_argument("--keep-running", action="store_true", help="keep the stack up until Ctrl-C")
    demo.add_argument("--now", type=instant, metavar="INSTANT", help=NOW_HELP)
    demo.set_defaults(handler=cmd_demo)
    from analytics import command as analytics_command

    analytics_command.register(sub)
    from analytics import devices_cli

    devices_cli.register(sub)
    from facmon import access_commands

    access_commands.register(sub)
    __import__("sensors.simulate_cli").simulate_cli.register(sub)
    __import__("analytics.auditor_cli").auditor_cli.register(sub)
    __import__("dashboards.cli").cli.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler: Handler = args.handler
    try:
        return handler(args)
    except CommandError as exc:
        print(f"facmon: {exc}", file=sys.stderr)
        return exc.code
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    # Run as `python -m facmon.cli`, this file is __main__; subcommand modules import facmon.cli, and their
    # CommandError must be the class main() catches, so call main() from that module.
    from facmon.cli import main as _main

    sys.exit(_main())
