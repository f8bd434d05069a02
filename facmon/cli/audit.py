"""The auditors' commands: `facmon review` records a review of a flagged facility, `facmon report` writes the
evidence report."""

from __future__ import annotations

import argparse
import getpass
import logging
import os
import sys
from pathlib import Path
from typing import Any

from analytics.alerts.decide import Disposition
from facmon.cli.analyze import parse_as_of, parse_facility
from facmon.cli.common import EXIT_OK, EXIT_USAGE, CommandError, settings_flags, settings_from
from sensors.registry import load_registry

log = logging.getLogger(__name__)


def register(subparsers: Any) -> None:
    """Add `review` and `report` to facmon's parser."""
    from analytics.analysis.options import REPORT_FORMATS
    review = subparsers.add_parser(
        "review", help="record an auditor's review of a facility (holds back its alerts until --until)",
        description="Record an auditor's review in the evidence database (measurement review). No new alert (idle or "
                    "data-integrity) is sent for the facility until --until; without it, reminders of the alerts "
                    "open now stop.",
    )
    settings_flags(review)
    review.add_argument("facility", type=parse_facility, metavar="FACILITY", help="facility id")
    review.add_argument("--disposition", required=True, choices=[d.value for d in Disposition],
                        help="what the review found")
    review.add_argument("--note", required=True, help="what you found and why, in a sentence or two")
    review.add_argument("--until", type=parse_as_of, metavar="DATE", help="no new alert until this day (inclusive)")
    review.add_argument("--reviewer", help="who reviewed (default: the login name)")
    review.set_defaults(handler=cmd_review)

    report = subparsers.add_parser(
        "report", help="write the evidence report for auditors (html, xlsx or csv)",
        description="Write the evidence report from the statuses facmon analyze stored for --as-of (default: the "
                    "newest): a self-contained HTML file with charts, or one row per facility as xlsx or CSV.",
    )
    settings_flags(report)
    report.add_argument("--format", choices=REPORT_FORMATS, default="html", help="html (default), xlsx or csv")
    report.add_argument("--as-of", type=parse_as_of, help="the analysis date to report (default: the newest)")
    report.add_argument("--region", help="only facilities in this region or below it, e.g. zhejiang/wenzhou")
    report.add_argument("--output", "-o", help="file to write (default facmon-report-AS_OF.FORMAT; - for stdout)")
    report.set_defaults(handler=cmd_report)

    migrate = subparsers.add_parser(
        "migrate-evidence", help="move statuses, alerts and reviews of an older facmon out of the readings database",
        description="As an InfluxDB admin: copy facility_status, alert, alert_delivery, review and facility_info "
                    "from FACMON_INFLUX_DB into FACMON_INFLUX_EVIDENCE_DB (tags kept), then drop them and the old "
                    "rollup from FACMON_INFLUX_DB. Check the reviews first: the ingester's credentials could write "
                    "there. --dry-run prints the statements instead.",
    )
    settings_flags(migrate)
    migrate.add_argument("--dry-run", action="store_true", help="print the InfluxQL, run nothing")
    migrate.set_defaults(handler=cmd_migrate_evidence)


def _client(settings: Any) -> Any:
    """The evidence database, where reviews and statuses live (analytics.analysis.evidence)."""
    from facmon.core.influx import InfluxClient

    return InfluxClient.from_settings(settings, evidence=True)


def cmd_review(args: argparse.Namespace) -> int:
    from analytics.alerts import reviews
    from facmon.core import logs
    from facmon.core.influx import InfluxError

    settings = settings_from(args)
    logs.configure(settings.log_level)
    registry = load_registry(settings.registry)
    if args.facility not in registry:
        raise CommandError(f"not in the registry: {args.facility}", EXIT_USAGE)
    try:
        reviewer = args.reviewer or getpass.getuser()
    except (KeyError, OSError):
        reviewer = "unknown"
    review = reviews.make_review(args.facility, args.disposition, args.note, args.until, reviewer,
                                 settings.clock.today(), settings.clock.time_ns())
    from analytics.analysis.evidence import EvidenceError, prepare

    client = _client(settings)
    try:
        prepare(client)
        reviews.record(client, review)
    except (EvidenceError, InfluxError) as exc:  # the server's address is what the command adds
        raise CommandError(f"InfluxDB at {settings.influx_url}: {exc}") from None
    finally:
        client.close()
    held = f"; no new alert until {review.until}" if review.until else "; reminders of its open alerts stop"
    print(f"recorded {review.disposition.value} review of {review.facility} by {review.reviewer}{held}")
    return EXIT_OK


def cmd_report(args: argparse.Namespace) -> int:
    from analytics.report.build import build_report
    from facmon.core import logs
    from facmon.core.influx import InfluxError

    settings = settings_from(args)
    logs.configure(settings.log_level)
    registry = None
    if Path(settings.registry).exists():
        registry = load_registry(settings.registry)
    else:
        log.warning("no registry at %s: time zones default to Asia/Shanghai, locations are left out",
                    settings.registry)
    from analytics.analysis.evidence import clients

    readings, client = clients(settings)
    try:
        data, as_of = build_report(client, registry, args.format, args.as_of, args.region, readings=readings,
                                   generated=settings.clock.now())
    except InfluxError as exc:
        raise CommandError(f"InfluxDB at {settings.influx_url}: {exc}") from None
    finally:
        client.close()
        readings.close()
    if args.output == "-":
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        return EXIT_OK
    path = Path(args.output or f"facmon-report-{as_of.isoformat()}.{args.format}")
    try:
        write_report(path, data)
    except OSError as exc:
        raise CommandError(f"cannot write {path}: {exc.strerror or exc}") from None
    print(f"wrote the {args.format} report as of {as_of} to {path}", file=sys.stderr)
    return EXIT_OK


REPORT_MODE = 0o640  # evidence about named facilities and people: not for every local user


def write_report(path: Path, data: bytes) -> None:
    """Write the report readable by owner and group only, never through a symbolic link planted at `path`."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, REPORT_MODE)
    with os.fdopen(fd, "wb") as handle:
        os.fchmod(handle.fileno(), REPORT_MODE)  # an existing file keeps its mode otherwise
        handle.write(data)


def cmd_migrate_evidence(args: argparse.Namespace) -> int:
    from analytics.analysis import evidence
    from facmon.core import logs
    from facmon.core.influx import InfluxError

    settings = settings_from(args)
    logs.configure(settings.log_level)
    readings, target = evidence.clients(settings)
    try:
        found = evidence.legacy_measurements(readings)
        copied = [m for m in found if m in evidence.MIGRATED]
        statements = evidence.migrate_statements(settings.influx_db, settings.evidence_db, copied)
        dropped = [s for s in statements if s.startswith("DROP ") and s.split('"')[1] in found]
        plan = [s for s in statements if not s.startswith("DROP ")] + dropped
        if args.dry_run or not plan:
            print("\n".join(plan) if plan else f"nothing to move: {settings.influx_db} holds no evidence measurement")
            return EXIT_OK
        evidence.prepare(target)
        for statement in plan:
            answer = readings.query(statement)
            moved = [row[1] for series in answer[0].get("series", []) for row in series.get("values", [])]
            print(statement + (f"  -- {sum(moved)} points" if moved else ""))
    except evidence.EvidenceError as exc:
        raise CommandError(f"InfluxDB at {settings.influx_url}: {exc}") from None
    except InfluxError as exc:
        raise CommandError(f"InfluxDB at {settings.influx_url}: {exc} (migrate-evidence needs an admin's "
                           "FACMON_INFLUX_USER/PASSWORD)") from None
    finally:
        readings.close()
        target.close()
    return EXIT_OK
