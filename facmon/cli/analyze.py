"""`facmon analyze`: classify facilities from their readings, print the result and store it in InfluxDB."""

from __future__ import annotations

import argparse
import logging
import math
import sys
from collections.abc import Sequence
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from analytics.analysis.options import DEFAULT_CONCURRENCY, DEFAULT_GROUP_SIZE, RollupMode, Settle
from analytics.analysis.output import RENDERERS
from analytics.analysis.scope import Scope, ScopeError, scope_of
from facmon.cli.common import (
    EXIT_OK,
    EXIT_USAGE,
    CommandError,
    parse_facility,
    settings_flags,
    settings_from,
    wait_for_signal,
    write_atomically,
)
from facmon.core.errors import AlertDeliveryError
from facmon.core.i18n import _
from sensors.registry import load_registry

if TYPE_CHECKING:
    from analytics.analysis.calendar import Calendar
    from analytics.analysis.model import AnalysisRun
    from facmon.core.clock import Clock
    from facmon.core.influx import InfluxClient
    from sensors.registry import Facility

log = logging.getLogger(__name__)

SECONDS_PER_DAY = 86400


def parse_as_of(text: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2025-10-29") from None


def parse_window(text: str) -> int:
    """Whole days: ``28d``, ``4w``, or a bare number of days."""
    from facmon.core.settings import parse_duration

    raw = text.strip()
    try:
        seconds = parse_duration(raw + "d" if raw.isdigit() else raw).total_seconds()
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a window like 28d or 4w") from None
    if seconds % SECONDS_PER_DAY or not 1 <= seconds // SECONDS_PER_DAY <= 366:
        raise argparse.ArgumentTypeError(f"{text!r}: the window must be 1 to 366 whole days")
    return int(seconds // SECONDS_PER_DAY)


def parse_every(text: str) -> float:
    from facmon.core.settings import parse_duration

    try:
        seconds = parse_duration(text).total_seconds()
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an interval like 1h or 30m") from None
    if seconds < 60:
        raise argparse.ArgumentTypeError("--every must be at least 1m")
    return seconds


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive whole number")
    return value


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add the `analyze` subcommand to facmon's parser."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "analyze", help="classify facilities as active, underused, idle, no data or exempt",
        description="Classify each facility from its readings over the whole days before --as-of, print the "
                    "result and store it in the evidence database (measurement facility_status).",
    )
    settings_flags(parser)
    parser.add_argument("--as-of", type=parse_as_of, help="first day after the window (default: today)")
    parser.add_argument("--window", type=parse_window, default=28, help="window length in whole days (default 28d)")
    parser.add_argument("--facility", action="append", type=parse_facility, metavar="ID",
                        help="only this facility (repeatable)")
    parser.add_argument("--region", help="only facilities in this region or below it, e.g. zhejiang/wenzhou")
    parser.add_argument("--format", choices=sorted(RENDERERS), default="table", help="output format")
    parser.add_argument("--rules", help="rules YAML with per-type thresholds (see examples/rules.yaml)")
    parser.add_argument("--allow-no-readings", action="store_true",
                        help="analyse a window that ends before the first reading in the database (refused otherwise)")
    parser.add_argument("--every", type=parse_every, help="run again at this interval, e.g. 1h, until SIGTERM")
    storing = parser.add_mutually_exclusive_group()
    storing.add_argument("--no-store", action="store_true",
                         help="write nothing to InfluxDB (statuses, rollup, alerts); the default with --facility or "
                              "--region")
    storing.add_argument("--store", action="store_true",
                         help="with --facility or --region: store the shown facilities' statuses and alert on them "
                              "(verdicts are always the whole registry's)")
    national = parser.add_argument_group("national roll-up (docs/scaling.md)")
    national.add_argument("--export", type=Path, metavar="FILE",
                          help="also write the status export this deployment sends upward to FILE (replaced whole "
                               "on each run): every facility's status and findings as codes and numbers; needs the "
                               "deployment's name and the whole registry (no --facility or --region)")
    national.add_argument("--deployment", metavar="NAME",
                          help="this deployment's name in the export, e.g. the province (FACMON_DEPLOYMENT)")
    parser.add_argument("--rollup", choices=[m.value for m in RollupMode], default=RollupMode.USE.value,
                        help="day summaries kept in InfluxDB: use (default), rebuild, read (never write), off")
    parser.add_argument("--settle-days", type=_positive, default=2, metavar="N",
                        help="days before today still read from raw readings and not yet kept (default 2)")
    parser.add_argument("--concurrency", type=_positive, default=DEFAULT_CONCURRENCY, help="queries at a time")
    parser.add_argument("--group-size", type=_positive, default=DEFAULT_GROUP_SIZE, help="facilities per query")
    parser.add_argument("--query-timeout", type=float, default=300.0, help="seconds per InfluxDB request")
    parser.set_defaults(handler=cmd_analyze)
    return parser


def select(facilities: Sequence[Facility], ids: Sequence[str] | None, region: str | None) -> list[Facility]:
    """The facilities a run shows; an id the registry lacks or a region without facilities is a ScopeError."""
    shown = scope_of(facilities, ids, region).shown
    return list(facilities) if shown is None else [f for f in facilities if f.id in shown]


def _check_dates(client: InfluxClient, args: argparse.Namespace, as_of: date, shown: Sequence[Facility],
                 clock: Clock) -> None:
    """Refuse an as-of in the future and a window before any reading (analytics.analysis.asof); warn of an empty
    window."""
    from analytics.analysis.asof import DatesError, future_problem, readings_problem

    if args.as_of is not None and (problem := future_problem(as_of, shown, clock)):
        raise DatesError(problem)
    error, warning = readings_problem(client, as_of, args.window, shown, args.allow_no_readings)
    if error:
        raise DatesError(error)
    if warning:
        log.warning("%s", warning)


def alert_problem(error: str, failed: int) -> str | None:
    """One line for a scheduled job's log when the run's alerts did not all go out (AlertDeliveryError, exit 3)."""
    if error:
        first = error.strip().splitlines()[0] if error.strip() else error
        more = " (details above)" if "\n" in error.strip() else ""
        return f"alerts not sent: {first}{more}" if error.startswith("InfluxDB") else \
            f"alerts not sent, the auditors file is unusable: {first}{more}"
    if failed:
        return f"alerts not delivered: {failed} deliveries failed (retried on the next run; details above)"
    return None


def _mtime(path: Path) -> float | None:
    try:
        return path.stat().st_mtime
    except OSError:
        return None


def warn_unknown_years(calendar: Calendar, facilities: Sequence[Facility], as_of: date, days: int) -> None:
    """Say so when facilities follow China's calendar in a year whose holidays nobody has told facmon yet."""
    if all(f.holidays == f.adjusted_workdays == "as_usual" for f in facilities):
        return
    unknown = calendar.unknown_years(as_of - timedelta(days=2 * days), as_of - timedelta(days=1))
    if unknown:
        log.warning("China's holidays for %s are not known yet: facilities that follow the calendar keep their "
                    "weekly hours then; add the State Council's notice to the calendar file (FACMON_CALENDAR) or "
                    "update chinese-calendar", ", ".join(map(str, unknown)))


def export_problems(args: argparse.Namespace, deployment: str | None) -> list[str]:
    """Why --export cannot be written by this command line: the export is the whole deployment's, by name."""
    if args.export is None:
        return []
    problems = []
    if deployment is None:
        problems.append(_("--export needs the deployment's name: set FACMON_DEPLOYMENT or give --deployment"))
    if args.facility or args.region:
        problems.append(_("--export is every facility of the deployment: leave out --facility and --region"))
    return problems


def cmd_analyze(args: argparse.Namespace) -> int:
    from analytics.alerts.run import process_run
    from analytics.analysis import evidence, queries, store
    from analytics.analysis.calendar_data import load_calendar
    from analytics.analysis.engine import analyze
    from analytics.analysis.periodic import run_every
    from analytics.analysis.rules import load_rules
    from analytics.national.export import render_export
    from facmon.core import i18n, logs
    from facmon.core.influx import InfluxError
    from facmon.core.version import facmon_version

    settings = settings_from(args)
    logs.configure(settings.log_level)
    if problems := export_problems(args, settings.deployment):
        raise CommandError("\n".join(problems), EXIT_USAGE)
    registry = load_registry(settings.registry, settings.registry_cache_dir)
    calendar = load_calendar(settings.calendar)
    rules = load_rules(args.rules)
    facilities = list(registry)
    scope = scope_of(facilities, args.facility, args.region)
    writes = scope.stores(args.store, args.no_store)
    if scope.filtered and not writes:
        log.info("filtered run: read-only (--store keeps the shown facilities' statuses and alerts on them)")
    loaded: dict[str, Any] = {"mtime": _mtime(settings.registry), "facilities": facilities, "scope": scope}
    timeout = max(settings.influx_timeout, args.query_timeout)
    client, evidence_client = evidence.clients(settings, timeout)
    render = RENDERERS[args.format]

    def current_facilities() -> tuple[list[Facility], Scope]:
        """With --every, a registry edited since the last run is read again; a broken edit keeps the old one."""
        mtime = _mtime(settings.registry)
        if mtime != loaded["mtime"]:
            from sensors.registry import RegistryError

            loaded["mtime"] = mtime
            try:
                fresh = list(load_registry(settings.registry, settings.registry_cache_dir))
                loaded["scope"] = scope_of(fresh, args.facility, args.region)
                loaded["facilities"] = fresh
                log.info("registry reloaded: %d facilities", len(fresh))
            except (RegistryError, ScopeError) as exc:
                log.error("registry not reloaded, keeping the previous one: %s", exc)
        chosen: list[Facility] = loaded["facilities"]
        return chosen, loaded["scope"]

    def once() -> AnalysisRun:
        facilities, shown = current_facilities()
        today = settings.clock.today()
        as_of = args.as_of or today
        mode = RollupMode(args.rollup)
        if not writes and mode in (RollupMode.USE, RollupMode.REBUILD):
            mode = RollupMode.READ if mode is RollupMode.USE else RollupMode.OFF
        if loaded.get("no_rollup"):
            mode = RollupMode.OFF
        _check_dates(client, args, as_of, [f for f in facilities if shown.shown is None or f.id in shown.shown],
                     settings.clock)
        settle = Settle.from_today(today, args.settle_days, math.ceil(settings.max_reading_age / timedelta(days=1)))
        source = queries.InfluxSource(client, evidence=evidence_client)
        warn_unknown_years(calendar, facilities, as_of, args.window)
        # The whole registry, always: network checks must see every facility (analytics.analysis.scope).
        run = shown.narrow(analyze(source, facilities, rules, as_of, args.window, mode=mode, settle=settle,
                                   group_size=args.group_size, concurrency=args.concurrency, calendar=calendar))
        if writes:
            store.store_run(evidence_client, run)
        sys.stdout.write(render(run, lambda code: registry.display_type(code, i18n.current())))
        sys.stdout.flush()
        if writes:  # alerts to auditors (off without FACMON_AUDITORS); logs, never raises
            summary = process_run(run, registry, settings, client=evidence_client)
            loaded["alert_problem"] = alert_problem(summary.error, summary.failed)
        if args.export is not None and settings.deployment is not None:
            write_atomically(args.export, render_export(run, settings.deployment, facmon_version()))
        return run

    try:
        try:
            if writes:
                evidence.prepare(evidence_client)
            elif not evidence.exists(evidence_client):
                loaded["no_rollup"] = True  # nothing kept yet, and --no-store creates nothing
            evidence.warn_legacy(client, settings.evidence_db)
        except evidence.EvidenceError as exc:
            raise CommandError(f"InfluxDB at {settings.influx_url}: {exc}") from None
        if args.every is None:
            try:
                once()
            except InfluxError as exc:
                raise CommandError(f"InfluxDB at {settings.influx_url}: {exc}") from None
            if loaded.get("alert_problem"):
                raise AlertDeliveryError(loaded["alert_problem"])
            return EXIT_OK
        stop = wait_for_signal()
        log.info("analysing %d facilities every %.0f s", len(facilities), args.every)
        run_every(once, args.every, stop)
        log.info("stopped")
        return EXIT_OK
    finally:
        client.close()
        evidence_client.close()
