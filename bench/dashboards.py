"""Dashboard benchmark: every panel query of every dashboard, as Grafana would send it, timed against InfluxDB.

For each dashboard (English models, dashboards/render.py) and each time range — the dashboard's default, the
last 7 days and the last 28 days, ending at ``--now`` — the variables are resolved with All selected (the
detail dashboard takes its first facility), then every panel's and annotation's query is interpolated the way
Grafana does (dashboards/interpolate.py, Grafana 10+ absolute time filters, 1,000 data points) and run one after
another (Grafana runs a dashboard's panels concurrently: a dashboard takes at least as long as its slowest
query). Prints the slowest queries and one summary line for an operator to compare over time:

    DASHBOARDS panels=… queries=… slowest_s=… slowest=<dashboard>/<panel> <refId>/<range>

    python bench/dashboards.py --url http://localhost:8086 --db facmon          # a server with data; now = the clock
    python bench/dashboards.py --keep /var/tmp/province                         # the province bench/analytics.py
                                                                               #   --cadence 15m --keep loaded
    python bench/dashboards.py --facilities 200 --days 8                        # loads a small province itself

``--facilities N`` starts a private InfluxDB in a temporary directory and loads the first N facilities of the
repeated sample county (bench/province.py) for ``--days`` + 1 days up to the province's as-of date, then writes the
evidence as production has it: `facmon analyze` (facility_status) and `facmon dashboards sync-registry`
(facility_info). With ``--keep`` or ``--facilities`` the ranges end at the province's data end
(PROVINCE_AS_OF, midnight UTC) unless ``--now`` says otherwise. A query InfluxDB refuses is reported and the
dashboard's other queries still run.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

# This directory holds bench/ingest.py, which would shadow the ingest package: take it off the path.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.analytics import (  # noqa: E402
    DATABASE,
    DAYS,
    PROVINCE_AS_OF,
    BenchInfluxDB,
    load_province,
    run_analyze,
    wait_until_quiet,
)
from dashboards import render  # noqa: E402
from dashboards.interpolate import TimeRange  # noqa: E402
from dashboards.model import JSON  # noqa: E402
from dashboards.runner import Clients, dashboard_range, resolve_variables, run_dashboard  # noqa: E402
from facmon.cli.main import main as facmon_main  # noqa: E402
from facmon.core.influx import InfluxClient, InfluxError  # noqa: E402

#: The ranges every dashboard is timed over besides its own default: (label, days).
EXTRA_RANGES = (("7d", 7), ("28d", 28))


@dataclass(frozen=True, slots=True)
class Timing:
    dashboard: str  # the file's stem: overview, facility, pipeline
    where: str  # "panel <title> <refId>", "annotation <name>", or "variables"
    range_label: str
    seconds: float
    rows: int
    error: str | None = None

    @property
    def name(self) -> str:
        return f"{self.dashboard}/{self.where.removeprefix('panel ')}/{self.range_label}"


def ranges(model: JSON, now_ms: int) -> list[tuple[str, TimeRange]]:
    """The dashboard's default range, then the extra ones (a default equal to one of them is timed once)."""
    default = dashboard_range(model, now_ms)
    out = [(str(model["time"]["from"]).removeprefix("now-"), default)]
    for label, days in EXTRA_RANGES:
        if label != out[0][0]:
            out.append((label, TimeRange.last(now_ms, days, "d")))
    return out


def time_dashboard(stem: str, model: JSON, clients: Clients, now_ms: int) -> Iterator[Timing]:
    for label, time_range in ranges(model, now_ms):
        started = time.perf_counter()
        try:
            selections = resolve_variables(model, clients, time_range)
        except InfluxError as exc:
            yield Timing(stem, "variables", label, time.perf_counter() - started, 0, str(exc))
            continue
        yield Timing(stem, "variables", label, time.perf_counter() - started,
                     sum(len(s.values) for s in selections.values()))
        for result in run_dashboard(model, clients, time_range, selections, keep_going=True):
            yield Timing(stem, f"{result.where} {result.ref_id}".rstrip(), label, result.seconds, len(result.rows),
                         result.error)


def report(timings: list[Timing], top: int) -> None:
    print(f"slowest {min(top, len(timings))} of {len(timings)} (variables: every variable query of the dashboard):")
    for timing in sorted(timings, key=lambda t: t.seconds, reverse=True)[:top]:
        print(f"  {timing.seconds:8.2f} s  {timing.rows:7} rows  {timing.name}")
    for timing in timings:
        if timing.error:
            print(f"  REFUSED {timing.name}: {timing.error}")
    by_range: dict[str, float] = {}
    for timing in timings:
        by_range[timing.range_label] = by_range.get(timing.range_label, 0.0) + timing.seconds
    print("  total per range: " + ", ".join(f"{label} {seconds:.1f} s" for label, seconds in by_range.items()))
    queries = [t for t in timings if t.where != "variables"]
    slowest = max(queries, key=lambda t: t.seconds)
    panels = sum(len(model["panels"]) for model in render.dashboards().values())
    print(f"DASHBOARDS panels={panels} queries={len(queries)} slowest_s={slowest.seconds:.2f} "
          f"slowest={slowest.name}", flush=True)


def load_small(influx: BenchInfluxDB, workdir: Path, facilities: int, days: int) -> None:
    """A small province with its evidence, as bench/analytics.py --cadence 15m loads it plus the registry sync."""
    client = InfluxClient(influx.url, DATABASE, timeout=300)
    client.create_database()
    registry = workdir / "registry.yaml"
    started = time.monotonic()
    described = load_province(client, registry, facilities, days)
    print(f"loaded {described} in {time.monotonic() - started:.1f} s", flush=True)
    print(f"InfluxDB compactions settled after {wait_until_quiet(influx.pid or 0, quiet=10.0):.0f} s", flush=True)
    as_of_now = datetime(PROVINCE_AS_OF.year, PROVINCE_AS_OF.month, PROVINCE_AS_OF.day, 4, tzinfo=UTC)
    run_analyze(influx, registry, workdir, 1, ["--window", str(min(days, 7))], PROVINCE_AS_OF,
                as_of_now.isoformat().replace("+00:00", "Z"))
    with contextlib.redirect_stdout(io.StringIO()):
        code = facmon_main(["dashboards", "sync-registry", "--influx-url", influx.url, "--influx-db", DATABASE,
                            "--registry", str(registry)])
    if code != 0:
        raise SystemExit(f"facmon dashboards sync-registry failed ({code})")
    client.close()


def parse_now(text: str | None, province: bool) -> int:
    if text is not None:
        return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)
    if province:
        return int(datetime(PROVINCE_AS_OF.year, PROVINCE_AS_OF.month, PROVINCE_AS_OF.day,
                            tzinfo=UTC).timestamp() * 1000)
    return time.time_ns() // 1_000_000


def run(url: str, database: str, evidence: str, now_ms: int, top: int, timeout: float) -> None:
    clients = Clients(InfluxClient(url, database, timeout=timeout), InfluxClient(url, evidence, timeout=timeout))
    now = datetime.fromtimestamp(now_ms / 1000, UTC).isoformat()
    print(f"timing every dashboard query on {url} ({database}, {evidence}), ranges ending {now}", flush=True)
    timings: list[Timing] = []
    for name, model in render.dashboards().items():
        for timing in time_dashboard(Path(name).stem, model, clients, now_ms):
            timings.append(timing)
            if timing.seconds >= 10:
                print(f"  ... {timing.seconds:.1f} s {timing.name}", flush=True)
    clients.readings.close()
    clients.evidence.close()
    report(timings, top)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--url", help="a running InfluxDB with data loaded")
    where.add_argument("--keep", type=Path, help="the directory bench/analytics.py --keep loaded a server into")
    where.add_argument("--facilities", type=int, help="load this many facilities into a private InfluxDB first")
    parser.add_argument("--db", default=DATABASE, help=f"readings database (default {DATABASE})")
    parser.add_argument("--evidence-db", help="evidence database (default <db>_evidence)")
    parser.add_argument("--days", type=int, default=DAYS,
                        help=f"--facilities: load readings of this many days and one more before the province's "
                             f"as-of date (default {DAYS}, as bench/analytics.py)")
    parser.add_argument("--now", help="end of every range, ISO 8601 (default: the clock with --url, else the "
                                      "province's data end)")
    parser.add_argument("--top", type=int, default=15, help="how many of the slowest queries to list")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds per query")
    args = parser.parse_args()
    problems = []
    if args.facilities is not None and args.facilities < 1:
        problems.append("--facilities must be at least 1")
    if args.days < 1:
        problems.append("--days must be at least 1")
    if args.top < 1:
        problems.append("--top must be at least 1")
    try:
        now_ms = parse_now(args.now, args.url is None)
    except ValueError:
        problems.append(f"--now {args.now!r} is not an ISO 8601 time")
    if problems:
        parser.error("; ".join(problems))
    evidence = args.evidence_db or f"{args.db}_evidence"
    if args.url:
        run(args.url, args.db, evidence, now_ms, args.top, args.timeout)
        return
    with tempfile.TemporaryDirectory(prefix="facmon-bench-dash-") as tmp:
        workdir = args.keep or Path(tmp)
        if args.keep and not (workdir / "influxdb").is_dir():
            parser.error(f"--keep {workdir}: no server there (bench/analytics.py --keep {workdir} loads one)")
        with BenchInfluxDB(workdir / "influxdb") as influx:
            if args.facilities is not None:
                load_small(influx, workdir, args.facilities, args.days)
            run(influx.url, args.db, evidence, now_ms, args.top, args.timeout)


if __name__ == "__main__":
    main()
