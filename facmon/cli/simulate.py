"""`facmon simulate`: virtual sensors for the facilities of a registry, live or backfilling past days.

Argument checking and wiring only; the readings come from sensors.simulator.simulate (pure) and go out through
sensors.simulator.publisher (paho).
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from facmon.cli.common import (
    EXIT_OK,
    EXIT_USAGE,
    CommandError,
    instant,
    parse_facility,
    set_from_signal_handler,
    settings_from,
)
from facmon.core.i18n import _
from sensors.contract import ID_PATTERN, is_valid_id
from sensors.registry import load_registry
from sensors.simulator.profiles import CLONE, PROFILES

SPEED_SINCE_DEFAULT = 86400.0  # with --speed > 1 and no --since, the simulated clock starts a day back
FOLLOW_SPEED = 60.0  # --follow catches up with real time at least this fast


def _duration(text: str) -> float:
    from facmon.core.settings import parse_duration

    try:
        return parse_duration(text).total_seconds()
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration like 28d, 2h, 90m or 30s") from None


def _instant(text: str) -> str:
    return instant(text)


def _interval(text: str) -> int:
    seconds = _duration(text)
    if seconds != int(seconds) or not 60 <= seconds <= 900 or 900 % int(seconds):
        raise argparse.ArgumentTypeError(f"{text!r}: the interval must divide 15m and be at least 1m (5m, 3m, 1m)")
    return int(seconds)


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive number")
    return value


def _rate(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a share from 0 to 1, like 0.01")
    return value


def _profile(text: str) -> tuple[str | None, str]:
    """`PROFILE` for every facility or `FACILITY=PROFILE` for one; `FACILITY=clone_of:SOURCE` names the source."""
    from sensors.simulator.plan import SimulationError, check_choice

    facility, _, name = text.rpartition("=")
    if facility and not is_valid_id(facility):
        raise argparse.ArgumentTypeError(f"{facility!r} is not a facility id ({ID_PATTERN})")
    try:
        check_choice(facility or None, name)
    except SimulationError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return facility or None, name


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add the `simulate` subcommand to facmon's parser."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "simulate", help="virtual sensors: publish realistic readings for a registry's facilities over MQTT",
        description="Virtual sensors for the facilities of a registry, publishing the documented payloads over "
                    "MQTT. Live by default; --days N backfills the past N days as fast as the broker takes them. "
                    "See docs/simulator.md.")
    parser.add_argument("--days", type=_positive, metavar="N", help="backfill the past N days, then stop")
    parser.add_argument("--follow", action="store_true", help="after --days, go on publishing live")
    parser.add_argument("--speed", type=_positive, default=1.0, help="live: simulated seconds per second (60: an "
                        "hour a minute) until the simulated clock catches up with real time")
    parser.add_argument("--since", type=_duration, metavar="DURATION",
                        help="live: start the simulated clock this long ago (default now; 1d with --speed)")
    parser.add_argument("--duration", type=_duration, metavar="DURATION", help="live: stop after this long")
    parser.add_argument("--profile", type=_profile, action="append", default=[], metavar="[FACILITY=]PROFILE",
                        help=f"profile for all facilities, or for one (repeatable): {', '.join(PROFILES)}; "
                        f"{CLONE} names its source: FACILITY={CLONE}:SOURCE")
    parser.add_argument("--facility", type=parse_facility, action="append", metavar="ID",
                        help="simulate only this facility (repeatable)")
    parser.add_argument("--seed", type=int, default=1, help="the same seed gives the same readings (default 1)")
    parser.add_argument("--interval", type=_interval, default=900, help="reading interval while open (default 15m)")
    parser.add_argument("--bad-rate", type=_rate, default=0.0, metavar="SHARE",
                        help="also send this share of deliberately bad messages (e.g. 0.01)")
    parser.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                        help="progress bar on stderr (default: when stderr is a terminal)")
    group = parser.add_argument_group("settings (override FACMON_* environment variables)")
    group.add_argument("--mqtt-url", help="broker URL, mqtt://[user:pass@]host:port or mqtts://")
    group.add_argument("--mqtt-ca-file", help="CA certificate for mqtts://")
    group.add_argument("--topic-prefix", help="topic prefix (default facmon/v1)")
    group.add_argument("--registry", help="facility registry YAML")
    group.add_argument("--now", type=_instant, metavar="INSTANT",
                       help="pin the clock: backfill until, and go live from, this ISO instant with its offset "
                       "(e.g. 2026-12-01T16:30:00Z); for tests and reproducing a run; the ingester needs the same "
                       "FACMON_NOW")
    parser.set_defaults(handler=cmd_simulate)
    return parser


def split_profiles(choices: Sequence[tuple[str | None, str]]) -> tuple[str | None, dict[str, str]]:
    """(profile for all or None, {facility: profile}); a later flag beats an earlier one."""
    default: str | None = None
    overrides: dict[str, str] = {}
    for facility, name in choices:
        if facility is None:
            default = name
        else:
            overrides[facility] = name
    return default, overrides


@contextmanager
def _stop_on_signals() -> Iterator[threading.Event]:
    """SIGINT and SIGTERM set an event, so sensors say `offline` and disconnect; old handlers come back after."""
    stop = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    for sig in previous:
        signal.signal(sig, lambda signum, frame: set_from_signal_handler(stop))
    try:
        yield stop
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def cmd_simulate(args: argparse.Namespace) -> int:
    from sensors.simulator.plan import plan
    from sensors.simulator.publisher import Fleet, Progress, backfill, live

    settings = settings_from(args)
    registry = load_registry(settings.registry, settings.registry_cache_dir)
    if args.follow and not args.days:
        raise CommandError(_("--follow continues a backfill: give --days too"), EXIT_USAGE)
    default, overrides = split_profiles(args.profile)
    sensors, warnings = plan(registry, default, overrides, set(args.facility or ()))
    for warning in warnings:
        print(f"facmon simulate: {settings.registry}: {warning}", file=sys.stderr)
    if args.days and args.days * 86400 > settings.max_reading_age.total_seconds():
        print(_("facmon simulate: readings older than FACMON_MAX_READING_AGE ({age}) will be refused by the "
                "ingester").format(age=settings.max_reading_age), file=sys.stderr)
    fleet = Fleet(settings, sensors)
    tty = sys.stderr.isatty() if args.progress is None else args.progress

    def show(text: str) -> None:
        if tty:
            sys.stderr.write("\r" + text + "\033[K")
            sys.stderr.flush()

    with _stop_on_signals() as stop:
        fleet.connect()
        try:
            clock = settings.clock
            start = clock.time()
            if args.days:
                progress = Progress(0, enabled=tty)
                summary = backfill(fleet, sensors, args.seed, int(start - args.days * 86400), int(start),
                                   interval=args.interval, bad_rate=args.bad_rate, stop=stop, progress=progress)
                print(summary.line("backfill"), flush=True)
                speed, start = max(args.speed, FOLLOW_SPEED), int(start)
            else:
                since = args.since if args.since is not None else SPEED_SINCE_DEFAULT if args.speed > 1 else 0.0
                speed, start = args.speed, start - since
            if (args.follow or not args.days) and not stop.is_set():
                until = clock.time() + args.duration if args.duration else None
                summary = live(fleet, sensors, args.seed, start, speed=speed, interval=args.interval,
                               bad_rate=args.bad_rate, stop=stop, until=until, status=show, clock=clock.time)
                if tty:
                    sys.stderr.write("\n")
                print(summary.line("live"), flush=True)
        finally:
            fleet.close()
    return EXIT_OK
