"""The auditors' commands: `facmon review` records, lists, shows and undoes reviews of flagged facilities,
`facmon report` writes the evidence report."""

from __future__ import annotations

import argparse
import getpass
import json
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from analytics.alerts.decide import Disposition
from facmon.cli.analyze import parse_as_of
from facmon.cli.common import EXIT_OK, EXIT_USAGE, CommandError, parse_facility, settings_flags, settings_from
from facmon.core.i18n import _
from facmon.core.settings import Settings
from sensors.registry import Facility, load_registry

log = logging.getLogger(__name__)


def register(subparsers: Any) -> None:
    """Add `review` and `report` to facmon's parser."""
    from analytics.analysis.options import REPORT_FORMATS
    review = subparsers.add_parser(
        "review", help="record, list, show or undo auditors' reviews (a review holds back alerts until --until)",
        description="`facmon review FACILITY --disposition … --note …` records a review in the evidence database "
                    "(measurement review): no new alert (idle or data-integrity) for the facility until --until; "
                    "without it, reminders of the alerts open now stop. `list`, `show` and `undo` read and amend "
                    "the history: nothing is ever deleted, an undo is recorded as an event of its own.",
    )
    actions = review.add_subparsers(dest="review_action", required=True, metavar="ACTION")
    add = actions.add_parser("add", help="record a review (also: facmon review FACILITY …)")
    settings_flags(add)
    add.add_argument("facility", type=parse_facility, metavar="FACILITY", help="facility id")
    add.add_argument("--disposition", required=True, choices=[d.value for d in Disposition],
                     help="what the review found")
    add.add_argument("--note", required=True, help="what you found and why, in a sentence or two")
    add.add_argument("--until", type=parse_as_of, metavar="DATE", help="no new alert until this day (inclusive)")
    add.add_argument("--reviewer", help="who reviewed (default: the login name)")
    add.set_defaults(handler=cmd_review)
    listing = actions.add_parser("list", help="every review, oldest first, with its id, hold and undo")
    settings_flags(listing)
    listing.add_argument("--facility", type=parse_facility, help="only this facility's reviews")
    listing.add_argument("--format", choices=("text", "json"), default="text", help="text (default) or json")
    listing.set_defaults(handler=cmd_review_list)
    show = actions.add_parser("show", help="one review by id, or a facility's whole history")
    settings_flags(show)
    show.add_argument("target", metavar="ID|FACILITY", help="a review id (from list) or a facility id")
    show.add_argument("--format", choices=("text", "json"), default="text", help="text (default) or json")
    show.set_defaults(handler=cmd_review_show)
    undo = actions.add_parser("undo", help="withdraw a review (recorded as an undo event; the review stays listed)")
    settings_flags(undo)
    undo.add_argument("id", metavar="ID", help="the review's id (from facmon review list)")
    undo.add_argument("--note", required=True, help="why the review is withdrawn")
    undo.add_argument("--reviewer", help="who withdraws it (default: the login name)")
    undo.set_defaults(handler=cmd_review_undo)

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
    report.add_argument("--print", dest="print_format", choices=("text", "json"), default="text",
                        help="how to say what was written: a line on stderr (text, default) or JSON on stdout")
    report.add_argument("--split", type=_split, default="auto", metavar="auto|none|region[:DEPTH]",
                        help="HTML: an index at --output and one file per region beside it; auto (default) splits "
                             "above 2,000 facilities, by the region depth that gives parts of at most 2,000; none "
                             "never; region[:DEPTH] always, by the first DEPTH levels of the region path")
    report.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                        help="a progress bar of the charts on stderr (default: when stderr is a terminal)")
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
    registry = load_registry(settings.registry, settings.registry_cache_dir)
    if args.facility not in registry:
        raise CommandError(f"not in the registry: {args.facility}", EXIT_USAGE)
    review = reviews.make_review(args.facility, args.disposition, args.note, args.until, _reviewer(args),
                                 settings.clock.today(), settings.clock.time_ns())
    from analytics.analysis.evidence import EvidenceError, prepare

    client = _client(settings)
    try:
        prepare(client)
        reviews.record(client, review, registry.get(args.facility))
    except (EvidenceError, InfluxError) as exc:  # the server's address is what the command adds
        raise CommandError(f"InfluxDB at {settings.influx_url}: {exc}") from None
    finally:
        client.close()
    held = (_("; no new alert until {day}").format(day=review.until) if review.until
            else _("; reminders of its open alerts stop"))
    print(_("recorded {disposition} review of {facility} by {reviewer}{held}").format(
        disposition=review.disposition.value, facility=review.facility, reviewer=review.reviewer, held=held))
    return EXIT_OK


def _split(value: str) -> Any:
    from analytics.report.split import SplitError, parse_split

    try:
        return parse_split(value)
    except SplitError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def cmd_report(args: argparse.Namespace) -> int:
    from analytics.report.build import files, prepare
    from analytics.report.split import REGION, plan
    from facmon.core import logs
    from facmon.core.influx import InfluxError

    settings = settings_from(args)
    logs.configure(settings.log_level)
    split = args.split  # argparse passes the default through _split too
    if split.mode == REGION and args.format != "html":
        raise CommandError(f"--split region splits the HTML report only, not --format {args.format}", EXIT_USAGE)
    registry = None
    if Path(settings.registry).exists():
        registry = load_registry(settings.registry, settings.registry_cache_dir)
    else:
        log.warning("no registry at %s: time zones default to Asia/Shanghai, locations are left out",
                    settings.registry)
    from analytics.analysis.calendar_data import load_calendar
    from analytics.analysis.evidence import clients

    calendar = load_calendar(settings.calendar)  # the charts' closed days as analyze saw them (FACMON_CALENDAR)
    readings, client = clients(settings)
    try:
        report = prepare(client, registry, args.format, args.as_of, args.region, readings=readings,
                         generated=settings.clock.now(), calendar=calendar)
    except InfluxError as exc:
        raise CommandError(f"InfluxDB at {settings.influx_url}: {exc}") from None
    finally:
        client.close()
        readings.close()
    as_of = report.as_of
    path = Path(args.output or f"facmon-report-{as_of.isoformat()}.{args.format}")
    if args.output == "-" and args.format == "html" and plan(report.rows, split, "-") is not None:
        raise CommandError(f"{len(report.rows):,} facilities make a report of several files: give --output FILE, "
                           "or --split none for one file on stdout", EXIT_USAGE)
    progress = _chart_progress(args)
    written: list[dict[str, Any]] = []
    for one in files(report, path.name, split, progress=progress.update_to):
        if args.output == "-":
            sys.stdout.buffer.write(one.data)
            sys.stdout.flush()
            return EXIT_OK
        target = path if one.name is None else path.parent / one.name
        try:
            write_report(target, one.data)
        except OSError as exc:
            raise CommandError(f"cannot write {target}: {exc.strerror or exc}") from None
        written.append({"path": str(target), "bytes": len(one.data), "region": one.region,
                        "facilities": one.facilities or len(report.rows)})
    progress.done()
    if args.print_format == "json":
        print(json.dumps({"format": args.format, "as_of": as_of.isoformat(), "region": args.region,
                          "path": str(path), "bytes": written[0]["bytes"], "files": written}, ensure_ascii=False))
    else:
        print(_("wrote the {format} report as of {as_of} to {path}").format(format=args.format, as_of=as_of,
                                                                            path=path), file=sys.stderr)
        if len(written) > 1:
            print(_("and {count} parts by region beside it").format(count=len(written) - 1), file=sys.stderr)
    return EXIT_OK


class _ChartProgress:
    """The charts drawn so far: a bar on stderr when it is a terminal (or --progress), and a log line at the end,
    as facmon analyze says how long it took."""

    def __init__(self, enabled: bool) -> None:
        import time

        from sensors.simulator.publisher import Progress

        self.bar = Progress(0, enabled=enabled, unit=_("charts"))
        self.started, self.drawn, self._clock = time.monotonic(), 0, time.monotonic

    def update_to(self, done: int, total: int) -> None:
        self.bar.total, self.drawn = total, done
        self.bar.update(done, force=done == total)

    def done(self) -> None:
        if self.bar.enabled and self.drawn:
            self.bar.stream.write("\n")
        if self.drawn:
            log.info("drew %d charts in %.1f s", self.drawn, self._clock() - self.started)


def _chart_progress(args: argparse.Namespace) -> _ChartProgress:
    return _ChartProgress(sys.stderr.isatty() if args.progress is None else args.progress)


def _reviewer(args: argparse.Namespace) -> str:
    try:
        return str(args.reviewer or getpass.getuser())
    except (KeyError, OSError):
        return "unknown"


def _history(args: argparse.Namespace, facilities: list[str] | None) -> tuple[Any, list[Any], list[Any]]:
    """(settings, reviews, undos) from the evidence database; a failure is one CommandError line."""
    from analytics.alerts import reviews
    from facmon.core import logs
    from facmon.core.influx import InfluxError

    settings = settings_from(args)
    logs.configure(settings.log_level)
    client = _client(settings)
    try:
        found, undos = reviews.history(client, facilities)
    except InfluxError as exc:
        if "database not found" in str(exc):
            return settings, [], []  # no evidence database yet: no review was ever recorded
        raise CommandError(f"InfluxDB at {settings.influx_url}: {exc}") from None
    finally:
        client.close()
    return settings, sorted(found, key=lambda r: r.time_ns), undos


def _print_reviews(items: list[dict[str, Any]], fmt: str) -> None:
    from analytics.alerts.review_history import review_line_text

    if fmt == "json":
        print(json.dumps(items, ensure_ascii=False, indent=2))
    else:
        print("\n".join(review_line_text(item) for item in items) if items else _("no reviews"))


def cmd_review_list(args: argparse.Namespace) -> int:
    from analytics.alerts.review_history import review_dict, undone

    settings, found, undos = _history(args, [args.facility] if args.facility else None)
    gone, today = undone(undos), settings.clock.today()
    _print_reviews([review_dict(r, gone, today) for r in found], args.format)
    return EXIT_OK


def cmd_review_show(args: argparse.Namespace) -> int:
    """One review by id, or the whole history of a facility (reviews and undos, holds marked)."""
    from analytics.alerts.review_history import find, review_dict, undone
    from sensors.contract import is_valid_id

    settings, found, undos = _history(args, None)
    gone, today = undone(undos), settings.clock.today()
    one = find(found, args.target)
    chosen = [one] if one is not None else [r for r in found if r.facility == args.target]
    if not chosen:
        what = "facility" if is_valid_id(args.target) else "id"
        raise CommandError(f"no review with {what} {args.target!r} (see facmon review list)", EXIT_USAGE)
    _print_reviews([review_dict(r, gone, today) for r in chosen], args.format)
    return EXIT_OK


def _registry_entry(settings: Settings, facility_id: str) -> Facility | None:
    """The facility's registry entry for an undo's region and type tags; none when the registry cannot be read
    or has dropped the facility since (the undo is recorded without them)."""
    from sensors.registry import RegistryError

    try:
        return load_registry(settings.registry, settings.registry_cache_dir).get(facility_id)
    except (RegistryError, OSError):
        return None


def cmd_review_undo(args: argparse.Namespace) -> int:
    """Withdraw a review by recording an undo event; the review itself stays in the history."""
    from analytics.alerts import reviews
    from analytics.alerts.review_history import find, review_id, undone
    from analytics.analysis.evidence import EvidenceError, prepare
    from facmon.core.influx import InfluxError

    settings, found, undos = _history(args, None)
    review = find(found, args.id)
    if review is None:
        raise CommandError(f"no review with id {args.id!r} (see facmon review list)", EXIT_USAGE)
    rid = review_id(review)
    if rid in undone(undos):
        raise CommandError(f"review {rid} is already undone", EXIT_USAGE)
    undo = reviews.make_undo(review, args.note, _reviewer(args), settings.clock.time_ns())
    where = _registry_entry(settings, review.facility)
    client = _client(settings)
    try:
        prepare(client)
        reviews.record_undo(client, undo, where)
    except (EvidenceError, InfluxError) as exc:
        raise CommandError(f"InfluxDB at {settings.influx_url}: {exc}") from None
    finally:
        client.close()
    print(_("recorded the undo of review {id} ({disposition} of {facility}) by {reviewer}").format(
        id=rid, disposition=review.disposition.value, facility=review.facility, reviewer=undo.reviewer))
    return EXIT_OK


REVIEW_ACTIONS = ("add", "list", "show", "undo", "-h", "--help")


def review_shorthand(argv: Sequence[str]) -> list[str]:
    """`facmon review FACILITY …` (what alert mails suggest) is `facmon review add FACILITY …`."""
    args = list(argv)
    if len(args) >= 2 and args[0] == "review" and args[1] not in REVIEW_ACTIONS:
        args.insert(1, "add")
    return args


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
