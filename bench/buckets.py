"""The analysis's cold path, one group's fetch both ways: InfluxDB's GROUP BY time(15m) aggregates against the raw
readings bucketed here (analytics.analysis.buckets, what `facmon analyze` does), with wall time and InfluxDB's CPU.

The group is the analysis's first group (facilities of alike hours, --group-size of them) of a province as
bench/province.py makes it: the sample county repeated, --facilities facilities; the time ranges are the group's
opening hours over both windows (--days each) before 2026-12-02, as a run without the rollup asks for them.
Both answers are checked equal (to the last bit) before any figure is printed.

    python bench/buckets.py --facilities 200 --days 7          # a private InfluxDB, loaded with 200 facilities
    python bench/buckets.py --url http://127.0.0.1:8086 --db bench --facilities 20000 --days 28
    python bench/buckets.py --url http://127.0.0.1:8086 --db mine --load --facilities 200 --days 7

InfluxDB's CPU comes from /proc/<pid>/stat of the server: the private one's, else the process listening on
--url's port on this machine (or --influxd-pid); for a remote server only wall times are printed.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlparse

# This directory holds bench/ingest.py, which would shadow the ingest package: take it off the path.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from analytics.analysis import queries  # noqa: E402
from analytics.analysis.engine import MERGE_GAP_SLOTS  # noqa: E402
from analytics.analysis.options import DEFAULT_GROUP_SIZE  # noqa: E402
from analytics.analysis.schedule import slot_grid, slot_runs, week_hours, windows  # noqa: E402
from bench.analytics import PROVINCE_AS_OF, BenchInfluxDB, _post, wait_until_quiet  # noqa: E402
from bench.province import province_readings, province_registry  # noqa: E402
from facmon.core.influx import InfluxClient  # noqa: E402
from facmon.demo.localstack import cpu_seconds  # noqa: E402
from sensors.registry import Facility, parse_registry  # noqa: E402


def first_group(count: int, size: int) -> list[Facility]:
    """The analysis's first group of the province's first ``count`` facilities (engine.analyze's grouping)."""
    facilities = sorted(parse_registry(province_registry(count)), key=lambda f: (f.timezone, week_hours(f), f.id))
    return facilities[:size]


def group_ranges(group: Sequence[Facility], days: int) -> list[tuple[int, int]]:
    """The time ranges a run without the rollup asks for: open slots of both windows, gaps bridged as it does."""
    slots = []
    for facility in group:
        current, previous = windows(PROVINCE_AS_OF, days, facility.timezone)
        grid = slot_grid(facility, previous.first_day, current.last_day)
        slots.append(grid.slot[~grid.closed])
    return slot_runs(np.concatenate(slots), MERGE_GAP_SLOTS)


def load(client: InfluxClient, count: int, days: int) -> None:
    """The province's readings of both windows (and the day before, for late uploads) into the database."""
    client.create_database()
    first = PROVINCE_AS_OF - timedelta(days=2 * days + 1)
    total, started = 0, time.monotonic()
    for lines, body in province_readings(count, first, PROVINCE_AS_OF):
        _post(client, body)
        total += lines
    print(f"loaded {total:,} readings of {count} facilities in {time.monotonic() - started:.1f} s", flush=True)


def listening_pid(port: int) -> int | None:
    """The local process listening on this TCP port (Linux /proc), or None."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:  # 0A: LISTEN
                inodes.add(f"socket:[{fields[9]}]")
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if any(str(fd.readlink()) in inodes for fd in (proc / "fd").iterdir()):
                return int(proc.name)
        except OSError:
            continue
    return None


def timed(fetch: Callable[[], pd.DataFrame], pid: int | None) -> tuple[float, float, pd.DataFrame]:
    """(wall seconds, InfluxDB CPU seconds or NaN, answer) of one fetch."""
    cpu = cpu_seconds(pid) if pid else float("nan")
    started = time.monotonic()
    frame = fetch()
    wall = time.monotonic() - started
    return wall, (cpu_seconds(pid) - cpu) if pid else float("nan"), frame


def compare(client: InfluxClient, group: Sequence[Facility], ranges: Sequence[tuple[int, int]], runs: int,
            pid: int | None) -> None:
    ids = [f.id for f in group]
    fields = queries.reading_fields(client)

    def grouped() -> pd.DataFrame:
        texts = queries.run_statements(client, queries.aggregate_statements(ids, ranges, fields))
        parts = [queries.parse_aggregates(text, ids) for text in texts]
        return pd.concat(parts, ignore_index=True) if parts else queries.empty_frame()

    def local() -> pd.DataFrame:
        return queries.fetch_aggregates(client, ids, ranges, fields)

    ways = {"InfluxDB GROUP BY time(15m)": grouped, "readings + local buckets": local}
    figures: dict[str, list[tuple[float, float]]] = {name: [] for name in ways}
    answers = {}
    for _run in range(runs):
        for name, fetch in ways.items():  # alternating, so neither way always finds the cache warm
            wall, cpu, answers[name] = timed(fetch, pid)
            figures[name].append((wall, cpu))
    one, two = (answers[name].sort_values(["fac", "sensor", "slot"]).reset_index(drop=True) for name in ways)
    pd.testing.assert_frame_equal(two, one, check_exact=True)
    print(f"group of {len(group)} facilities, {len(ranges)} time ranges, {len(one):,} quarter hours: both ways "
          f"equal to the last bit; medians of {runs} runs:")
    medians = {}
    for name, results in figures.items():
        wall = statistics.median(r[0] for r in results)
        cpu = statistics.median(r[1] for r in results)
        medians[name] = (wall, cpu)
        print(f"  {name:28s} wall {wall:7.3f} s   InfluxDB CPU {cpu:7.3f} s", flush=True)
    (wall_a, cpu_a), (wall_b, cpu_b) = medians.values()
    print(f"  ratio GROUP BY / readings:   wall {wall_a / wall_b:5.2f}        InfluxDB CPU "
          f"{cpu_a / cpu_b if cpu_b else float('nan'):5.2f}")
    print(f"BUCKETS facilities={len(group)} ranges={len(ranges)} rows={len(one)} groupby_wall_s={wall_a:.3f} "
          f"groupby_cpu_s={cpu_a:.3f} readings_wall_s={wall_b:.3f} readings_cpu_s={cpu_b:.3f}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", help="an InfluxDB holding the data (default: a private one, loaded here)")
    parser.add_argument("--db", default="bench")
    parser.add_argument("--facilities", type=int, default=200, help="the province's size (ids and hours)")
    parser.add_argument("--days", type=int, default=7, help="days per window (a run reads two)")
    parser.add_argument("--group-size", type=int, default=DEFAULT_GROUP_SIZE)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--load", action="store_true", help="load the readings into --url's --db first")
    parser.add_argument("--influxd-pid", type=int, help="the server's process (default: found by --url's port)")
    args = parser.parse_args()
    group = first_group(args.facilities, args.group_size)
    ranges = group_ranges(group, args.days)
    if args.url:
        client = InfluxClient(args.url, args.db, timeout=600)
        if args.load:
            load(client, args.facilities, args.days)
        pid = args.influxd_pid or listening_pid(urlparse(args.url).port or 8086)
        if pid is None:
            print("InfluxDB is not a local process: wall times only", flush=True)
        compare(client, group, ranges, args.runs, pid)
        return
    with tempfile.TemporaryDirectory(prefix="facmon-buckets-") as tmp, BenchInfluxDB(Path(tmp)) as influx:
        client = InfluxClient(influx.url, args.db, timeout=600)
        load(client, args.facilities, args.days)
        print(f"InfluxDB compactions settled after {wait_until_quiet(influx.pid or 0):.0f} s", flush=True)
        compare(client, group, ranges, args.runs, influx.pid)


if __name__ == "__main__":
    main()
