"""Analytics benchmark: `facmon analyze` over F facilities x 28 days of readings in a real InfluxDB.

Starts a private InfluxDB 1.x (facmon.demo.localstack) in a temporary directory, loads the readings with large
line-protocol POSTs, waits for InfluxDB to finish compacting, then runs `facmon analyze` as a child process
three times. Reports each run's wall time, the child's peak resident memory (ru_maxrss from wait4, which covers
the whole process, numpy and pandas included) and the CPU time InfluxDB spent on it, the medians, and the
targets. The first run finds the rollup (analytics_day) empty and aggregates every day from the raw readings
("cold"); later runs read the days it kept ("warm"), as every run after the first does in production.

    python bench/analytics.py                                  # 2,000 facilities, 28 days, 5-minute readings
    python bench/analytics.py --facilities 250                 # the quicker check
    python bench/analytics.py --facilities 100 --points-scale 0.2 --runs 1   # a smoke run (25-minute readings)
    python bench/analytics.py --facilities 250 -- --rollup off # every run from the raw readings
    python bench/analytics.py --facilities 20000 --cadence 15m --keep /var/tmp/province   # a province

``--cadence 5m`` (the default) loads synthetic 5-minute readings of four facility types; ``--cadence 15m`` loads
the sample county repeated (bench/province.py: its types, hours, closures, outages and, in every tenth county, its
forged profiles) with what `facmon simulate` sends every 15 minutes. ``--keep DIR`` keeps the loaded server in DIR
and reuses it next time (the evidence database is dropped first, so the first run is cold again). The last line
sums the runs up for an operator to compare over time.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

# This directory holds bench/ingest.py, which would shadow the ingest package: take it off the path.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from bench.province import province_readings, write_province_registry  # noqa: E402
from facmon.core.influx import InfluxClient, InfluxUnavailable  # noqa: E402
from facmon.demo.localstack import LocalInfluxDB, cpu_seconds  # noqa: E402

TARGET_SECONDS = 30.0
TARGET_GIB = 1.5
AS_OF = date(2025, 11, 3)
#: the province data: the sample county's dates, analysed the next morning as the daily run does
PROVINCE_AS_OF = date(2026, 12, 2)
PROVINCE_NOW = "2026-12-02T04:00:00Z"
DAYS = 28
DATABASE = "bench"
LINES_PER_POST = 100_000
TYPES = ("library", "sports_hall", "community_center", "swimming_pool")
HOURS = (
    '{mon: ["09:00-21:00"], tue: ["09:00-21:00"], wed: ["09:00-21:00"], thu: ["09:00-21:00"], '
    'fri: ["09:00-21:00"], sat: ["09:00-17:00"], sun: ["09:00-17:00"]}',
    '{mon: ["08:30-11:30", "13:30-17:00"], tue: ["08:30-11:30", "13:30-17:00"], wed: ["08:30-11:30", '
    '"13:30-17:00"], thu: ["08:30-11:30", "13:30-17:00"], fri: ["08:30-11:30", "13:30-17:00"]}',
    '{mon: ["06:00-09:00", "17:00-22:00"], tue: ["17:00-22:00"], wed: ["17:00-22:00"], thu: ["17:00-22:00"], '
    'fri: ["17:00-02:00"], sat: ["08:00-02:00"], sun: ["08:00-22:00"]}',
)
# profile -> (share of capacity in use during the day, occupancy reported?, days the sensor reports)
PROFILES = {
    "busy": (0.35, True, DAYS),
    "low": (0.04, True, DAYS),
    "idle": (0.0, True, DAYS),
    "counts": (0.30, False, DAYS),
    "silent": (0.30, True, 6),
}
PROFILE_CYCLE = ("busy",) * 12 + ("low", "low", "idle", "counts", "counts", "silent")


class BenchInfluxDB(LocalInfluxDB):
    """The test server, told to snapshot and compact soon after writes stop, so runs read TSM files as in
    production rather than a freshly written cache."""

    def _config_text(self) -> str:
        extra = (
            '  cache-snapshot-write-cold-duration = "5s"\n  compact-full-write-cold-duration = "20s"\n'
            "  cache-max-memory-size = 4294967296\n  query-log-enabled = false"
        )
        return super()._config_text().replace("  query-log-enabled = false", extra)


def facility_rows(count: int) -> list[dict[str, object]]:
    rows = []
    for i in range(count):
        rows.append({
            "id": f"bench-{i:05d}",
            "type": TYPES[i % len(TYPES)],
            "region": f"zhejiang/bench/r{i % 20:02d}",
            "capacity": 50 + (i * 37) % 250,
            "timezone": "Europe/Berlin" if i % 10 == 9 else "Asia/Shanghai",
            "hours": HOURS[i % len(HOURS)],
            "profile": PROFILE_CYCLE[i % len(PROFILE_CYCLE)],
            "sensors": 2 if i % 7 == 0 else 1,
            "closed": i % 50 == 25,
        })
    return rows


def write_registry(path: Path, rows: list[dict[str, object]]) -> None:
    lines = ["facilities:"]
    closure_start = AS_OF - timedelta(days=DAYS)
    for row in rows:
        lines += [
            f"  - id: {row['id']}",
            f"    name: Bench facility {row['id']}",
            f"    type: {row['type']}",
            f"    region: {row['region']}",
            f"    capacity: {row['capacity']}",
            f"    timezone: {row['timezone']}",
            f"    opening_hours: {row['hours']}",
            "    department: Bench department",
        ]
        if row["closed"]:
            end = closure_start + timedelta(days=19)
            lines.append(f"    closures: [{{from: {closure_start}, to: {end}, reason: renovation}}]")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def readings(rows: list[dict[str, object]], step_minutes: float) -> Iterator[list[str]]:
    """Line protocol per facility and sensor: around the clock (zero at night, some night cleaning)."""
    rng = np.random.default_rng(7)
    start = int(datetime(AS_OF.year, AS_OF.month, AS_OF.day, tzinfo=UTC).timestamp()) - (DAYS + 1) * 86400
    step = int(step_minutes * 60)
    times = np.arange(start, start + (DAYS + 1) * 86400, step, dtype=np.int64)
    hours = ((times + 8 * 3600) // 3600) % 24
    daytime = (hours >= 8) & (hours < 22)
    for row in rows:
        level, occupancy, report_days = PROFILES[str(row["profile"])]
        capacity = int(row["capacity"])  # type: ignore[call-overload]
        keep = times < start + (report_days + 1) * 86400
        for sensor in range(int(row["sensors"])):  # type: ignore[call-overload]
            t = times[keep]
            busy = np.where(daytime[keep], level * capacity / int(row["sensors"]), 0.0)  # type: ignore[call-overload]
            occ = rng.poisson(busy).astype(np.int64)
            if row["profile"] == "idle":
                occ = np.where(hours[keep] == 3, 2, 0)  # cleaning at night only
            entries = rng.poisson(busy * step_minutes / 60).astype(np.int64)
            delay = rng.integers(50, 900, len(t))
            prefix = (f"reading,facility={row['id']},region={row['region']},sensor=s{sensor + 1},"
                      f"type={row['type']} ")
            if occupancy:
                yield [f"{prefix}occupancy={o}i,entries={e}i,arrival_delay_ms={d}i,received_ms={s * 1000 + d}i {s}"
                       for o, e, d, s in zip(occ.tolist(), entries.tolist(), delay.tolist(), t.tolist(), strict=True)]
            else:
                yield [f"{prefix}entries={e}i,arrival_delay_ms={d}i,received_ms={s * 1000 + d}i {s}"
                       for e, d, s in zip(entries.tolist(), delay.tolist(), t.tolist(), strict=True)]


def load(client: InfluxClient, rows: list[dict[str, object]], step_minutes: float) -> int:
    """Write everything with two concurrent POST streams; a full write cache is waited out and retried."""
    total = 0
    lock = threading.Lock()

    def post(lines: list[str]) -> None:
        nonlocal total
        _post(client, "\n".join(lines).encode(), "s")
        with lock:
            total += len(lines)

    pending: list[str] = []
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = []
        for chunk in readings(rows, step_minutes):
            pending.extend(chunk)
            if len(pending) >= LINES_PER_POST:
                futures.append(pool.submit(post, pending))
                pending = []
                if len(futures) > 4:
                    futures.pop(0).result()
        if pending:
            futures.append(pool.submit(post, pending))
        for future in futures:
            future.result()
    return total


def wait_until_quiet(pid: int, limit: float = 600.0, quiet: float = 30.0) -> float:
    """Wait until InfluxDB's snapshots and full compactions (20 s after the last write) are done: under 2% CPU
    for ``quiet`` seconds."""
    started = time.monotonic()
    quiet_since = time.monotonic()
    last = cpu_seconds(pid)
    while time.monotonic() - started < limit:
        time.sleep(1.0)
        now = cpu_seconds(pid)
        if now - last > 0.02:
            quiet_since = time.monotonic()
        last = now
        if time.monotonic() - quiet_since >= quiet:
            break
    return time.monotonic() - started


def run_analyze(influx: LocalInfluxDB, registry: Path, workdir: Path, run: int, extra: list[str],
                as_of: date = AS_OF, now: str | None = None) -> tuple[float, float, float]:
    """One `facmon analyze` child: (wall seconds, peak RSS MiB, InfluxDB CPU seconds); checks it exited 0 and
    printed its counts."""
    out_path, err_path = workdir / f"run{run}.json", workdir / f"run{run}.log"
    command = [sys.executable, "-m", "facmon", "analyze", "--influx-url", influx.url, "--influx-db", DATABASE,
               "--registry", str(registry), "--as-of", as_of.isoformat(), "--format", "json", *extra]
    env = {**os.environ, **({"FACMON_NOW": now} if now else {})}
    influx_cpu = cpu_seconds(influx.pid or 0)
    with out_path.open("wb") as out, err_path.open("wb") as err:
        started = time.monotonic()
        child = subprocess.Popen(command, stdout=out, stderr=err, env=env)
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.monotonic() - started
        child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise SystemExit(f"facmon analyze failed ({child.returncode}):\n{err_path.read_text()[-2000:]}")
    result = json.loads(out_path.read_text())
    influx_cpu = cpu_seconds(influx.pid or 0) - influx_cpu
    print(f"  run {run}: {wall:6.2f} s  {usage.ru_maxrss / 1024:7.1f} MiB  (facmon CPU "
          f"{usage.ru_utime + usage.ru_stime:5.1f} s, InfluxDB CPU {influx_cpu:5.1f} s)  {result['counts']}",
          flush=True)
    return wall, usage.ru_maxrss / 1024, influx_cpu


def load_synthetic(client: InfluxClient, registry: Path, facilities: int, points_scale: float) -> str:
    rows = facility_rows(facilities)
    write_registry(registry, rows)
    step = 5.0 / points_scale
    points = load(client, rows, step)
    return f"{points:,} points ({facilities} facilities, {DAYS + 1} days, every {step:g} min)"


def load_province(client: InfluxClient, registry: Path, facilities: int, days: int = DAYS) -> str:
    write_province_registry(registry, facilities)
    first = PROVINCE_AS_OF - timedelta(days=days + 1)
    total, started = 0, time.monotonic()
    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = None
        for done, (lines, body) in enumerate(province_readings(facilities, first, PROVINCE_AS_OF), start=1):
            if pending is not None:
                pending.result()
            pending = pool.submit(_post, client, body)
            total += lines
            if done % 20 == 0:
                print(f"  {done * 71:,} facilities, {total:,} readings, {time.monotonic() - started:.0f} s",
                      flush=True)
        if pending is not None:
            pending.result()
    return f"{total:,} readings ({facilities} facilities, {days + 1} days, what `facmon simulate` sends every 15 min)"


def _post(client: InfluxClient, body: bytes, precision: str = "ns") -> None:
    """POST line protocol; a full write cache is waited out and retried."""
    for attempt in range(60):
        try:
            client.write(body, precision=precision)
            return
        except InfluxUnavailable:
            time.sleep(min(5.0, 0.5 * (attempt + 1)))
    raise RuntimeError("InfluxDB kept refusing writes")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--facilities", type=int, default=2000)
    parser.add_argument("--cadence", choices=("5m", "15m"), default="5m",
                        help="5m: synthetic 5-minute readings; 15m: the sample county repeated, simulated")
    parser.add_argument("--points-scale", type=float, default=1.0,
                        help="5m only: share of the 5-minute readings to load: 0.2 = one reading every 25 minutes")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--keep", "--workdir", dest="workdir", type=Path,
                        help="keep the loaded server and outputs here, and reuse them when run again")
    parser.add_argument("analyze_args", nargs="*", help="extra `facmon analyze` options, after --")
    args = parser.parse_args()
    province = args.cadence == "15m"
    as_of, now = (PROVINCE_AS_OF, PROVINCE_NOW) if province else (AS_OF, None)
    with tempfile.TemporaryDirectory(prefix="facmon-bench-") as tmp:
        workdir = args.workdir or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        registry = workdir / "registry.yaml"
        marker = workdir / "loaded.json"
        wanted = {"facilities": args.facilities, "cadence": args.cadence, "points_scale": args.points_scale}
        reuse = marker.exists() and json.loads(marker.read_text()).get("data") == wanted
        with BenchInfluxDB(workdir / "influxdb") as influx:
            client = InfluxClient(influx.url, DATABASE, timeout=300)
            if reuse:
                described = json.loads(marker.read_text())["described"]
                InfluxClient(influx.url, f"{DATABASE}_evidence", timeout=300).query(
                    f"DROP DATABASE {DATABASE}_evidence")
                print(f"reusing {described} in {workdir}", flush=True)
            else:
                client.query(f"DROP DATABASE {DATABASE}")
                client.create_database()
                started = time.monotonic()
                described = (load_province(client, registry, args.facilities) if province else
                             load_synthetic(client, registry, args.facilities, args.points_scale))
                loaded = time.monotonic() - started
                print(f"loaded {described} in {loaded:.1f} s", flush=True)
                settle = wait_until_quiet(influx.pid or 0)
                print(f"InfluxDB compactions settled after {settle:.0f} s", flush=True)
                marker.write_text(json.dumps({"data": wanted, "described": described}))
            results = [run_analyze(influx, registry, workdir, run, args.analyze_args, as_of, now)
                       for run in range(1, args.runs + 1)]
        wall = statistics.median(r[0] for r in results)
        memory = statistics.median(r[1] for r in results)
        print(f"facmon analyze {' '.join(args.analyze_args)}".rstrip() +
              f", {described}, median of {args.runs}:")
        print(f"  wall time  {wall:7.2f} s    target <= {TARGET_SECONDS:.0f} s    "
              f"{'ok' if wall <= TARGET_SECONDS else 'MISSED'}")
        print(f"  peak RSS   {memory:7.1f} MiB  target <= {TARGET_GIB * 1024:.0f} MiB "
              f"{'ok' if memory <= TARGET_GIB * 1024 else 'MISSED'}")
        if len(results) > 1:
            print(f"  first run  {results[0][0]:7.2f} s, {results[0][1]:.1f} MiB (cold unless the rollup is off)")
        warm = results[1:] or results
        print(f"ANALYTICS facilities={args.facilities} cadence={args.cadence} cold_s={results[0][0]:.1f} "
              f"warm_s={statistics.median(r[0] for r in warm):.1f} peak_mib={max(r[1] for r in results):.0f} "
              f"influx_cpu_s={statistics.median(r[2] for r in warm):.1f} "
              f"cold_influx_cpu_s={results[0][2]:.1f}", flush=True)


if __name__ == "__main__":
    main()
