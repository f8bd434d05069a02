"""Ingest benchmark: how fast `facmon ingest` drains a broker backlog into InfluxDB, against mosquitto_sub.

For each run: queue N QoS-1 readings over F facility topics in Mosquitto while the subscriber is away, then start
the subscriber and time the drain. The ingester's figure counts points in InfluxDB (acknowledged after the
write); mosquitto_sub only receives and prints, which is the broker's floor. Prints each run, the medians, the
ratio, and the ingester's peak resident memory (VmHWM).

    python bench/ingest.py                      # N=200,000 over 1,000 facilities, 3 runs
    python bench/ingest.py --readings 50000 --runs 1
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from backlog import publish_backlog

from facmon.demo.localstack import LocalInfluxDB, LocalMosquitto, cpu_seconds

PREFIX = "facmon/v1"
TARGET_RATE = 30_000
TARGET_RATIO = 0.25
TARGET_MEMORY_MIB = 150


def write_registry(path: Path, facilities: int) -> None:
    lines = ["facilities:"]
    for i in range(facilities):
        lines += [
            f"  - id: bench-{i:04d}",
            f"    name: Bench hall {i}",
            "    type: library",
            f"    region: zhejiang/bench/t{i % 10}",
            "    capacity: 200",
            '    opening_hours: {mon: ["09:00-17:00"]}',
        ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def backlog(readings: int, facilities: int) -> Iterator[tuple[str, bytes]]:
    """Readings spread over the facilities, one per facility per minute, in RFC 3339 with +08:00 as devices send."""
    start = datetime.now(UTC) - timedelta(minutes=readings // facilities + 5)
    tz = timedelta(hours=8)
    for i in range(readings):
        facility, step = i % facilities, i // facilities
        ts = (start + timedelta(minutes=step) + tz).strftime("%Y-%m-%dT%H:%M:%S+08:00")
        occupancy = (i * 7919) % 150
        payload = f'{{"ts":"{ts}","occupancy":{occupancy},"entries":{i % 5},"exits":{i % 4},"seq":{step}}}'
        yield f"{PREFIX}/bench-{facility:04d}/s1/reading", payload.encode()


def register_session(mosquitto: LocalMosquitto, client_id: str) -> None:
    """mosquitto_sub -c makes the persistent session (and its subscription) exist before the backlog."""
    subprocess.run(
        ["mosquitto_sub", "-h", "127.0.0.1", "-p", str(mosquitto.port), "-c", "-i", client_id, "-q", "1",
         "-t", f"{PREFIX}/#", "-W", "1"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False,
    )


def drain_mosquitto_sub(mosquitto: LocalMosquitto, readings: int, facilities: int, run: int) -> float:
    client_id = f"bench-sub-{run}"
    register_session(mosquitto, client_id)
    publish_backlog("127.0.0.1", mosquitto.port, backlog(readings, facilities), client_id=f"bench-pub-s{run}")
    started = time.perf_counter()
    subprocess.run(
        ["mosquitto_sub", "-h", "127.0.0.1", "-p", str(mosquitto.port), "-c", "-i", client_id, "-q", "1",
         "-t", f"{PREFIX}/#", "-C", str(readings)],
        stdout=subprocess.DEVNULL, check=True,
    )
    return readings / (time.perf_counter() - started)


def points_written(influx: LocalInfluxDB, database: str) -> int:
    """Points InfluxDB has taken into the database's shards: a cheap counter to poll (counting is not)."""
    with urllib.request.urlopen(f"{influx.url}/debug/vars", timeout=10) as response:
        stats = json.load(response)
    return sum(
        int(entry["values"].get("writePointsOk", 0))
        for key, entry in stats.items()
        if key.startswith("shard:") and entry.get("tags", {}).get("database") == database
    )


def count_points(influx: LocalInfluxDB, database: str) -> int:
    result = influx.query("SELECT count(occupancy) FROM reading", db=database)
    series = result["results"][0].get("series")
    return int(series[0]["values"][0][1]) if series else 0


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def drain_ingester(mosquitto: LocalMosquitto, influx: LocalInfluxDB, registry: Path, readings: int,
                   facilities: int, run: int, workdir: Path, profile: str | None = None) -> tuple[float, float]:
    database = f"bench_{run}"
    env = dict(
        os.environ,
        FACMON_MQTT_URL=mosquitto.url,
        FACMON_INFLUX_URL=influx.url,
        FACMON_INFLUX_DB=database,
        FACMON_REGISTRY=str(registry),
        FACMON_MQTT_CLIENT_ID=f"bench-ingest-{run}",
        FACMON_LOG_LEVEL="WARNING",
    )
    command = [sys.executable, "-m", "facmon", "ingest"]
    log = (workdir / f"ingest-{run}.log").open("w")
    # First start makes the persistent session; then stop, queue the backlog, and time the restart.
    first = subprocess.Popen(command, env=env, stdout=log, stderr=log)
    time.sleep(2.0)
    first.send_signal(signal.SIGTERM)
    first.wait(30)
    publish_backlog("127.0.0.1", mosquitto.port, backlog(readings, facilities), client_id=f"bench-pub-i{run}")
    servers = {name: pid for name, pid in (("influxd", influx.pid), ("mosquitto", mosquitto.pid)) if pid}
    servers_cpu = {name: cpu_seconds(pid) for name, pid in servers.items()}
    started = time.perf_counter()
    ingester = subprocess.Popen(command, env=env, stdout=log, stderr=log)
    spy = None
    if profile:
        py_spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
        spy = subprocess.Popen([py_spy, "record", "-r", "200", "-f", "raw", "-o", profile, "--pid",
                                str(ingester.pid), "--duration", "10"], stdout=subprocess.DEVNULL)
    try:
        # Poll InfluxDB's write counter, then confirm by counting the distinct points stored; a rewrite of the
        # same point counts as written but not as stored, so the count has the last word.
        deadline = started + 600
        stored = 0
        while time.perf_counter() < deadline:
            time.sleep(0.05)
            if points_written(influx, database) >= readings:
                stored = count_points(influx, database)
                if stored >= readings:
                    break
        elapsed = time.perf_counter() - started
        memory = peak_rss_mib(ingester.pid)
        cpu = cpu_seconds(ingester.pid)
        others = ", ".join(f"{name} {cpu_seconds(servers[name]) - was:.2f} s" for name, was in servers_cpu.items())
        print(f"  drain {elapsed:.2f} s wall; CPU: ingester {cpu:.2f} s, {others}", flush=True)
    finally:
        ingester.send_signal(signal.SIGTERM)
        ingester.wait(60)
        log.close()
        if spy is not None:
            spy.wait(30)
    if stored != readings:
        raise SystemExit(f"run {run}: InfluxDB holds {stored} readings, expected {readings}; see {log.name}")
    return readings / elapsed, memory


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--readings", type=int, default=200_000)
    parser.add_argument("--facilities", type=int, default=1_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--py-spy", metavar="FILE", help="profile the ingester with py-spy (raw output to FILE)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="facmon-bench-") as tmp:
        workdir = Path(tmp)
        registry = workdir / "registry.yaml"
        write_registry(registry, args.facilities)
        with LocalMosquitto(workdir / "mosquitto", persistence=False) as mosquitto, \
                LocalInfluxDB(workdir / "influxdb") as influx:
            sub_rates, ingest_rates, memories = [], [], []
            for run in range(1, args.runs + 1):
                sub_rate = drain_mosquitto_sub(mosquitto, args.readings, args.facilities, run)
                rate, memory = drain_ingester(mosquitto, influx, registry, args.readings, args.facilities, run,
                                              workdir, args.py_spy)
                sub_rates.append(sub_rate)
                ingest_rates.append(rate)
                memories.append(memory)
                print(f"run {run}: mosquitto_sub {sub_rate:,.0f} msg/s   facmon ingest {rate:,.0f} readings/s "
                      f"({rate / sub_rate:.0%})   peak RSS {memory:.0f} MiB", flush=True)
    sub_median = statistics.median(sub_rates)
    ingest_median = statistics.median(ingest_rates)
    ratio = ingest_median / sub_median
    print(f"\nbacklog: {args.readings:,} QoS-1 readings over {args.facilities:,} facility topics, "
          f"median of {args.runs} runs")
    print(f"mosquitto_sub drain (broker floor): {sub_median:,.0f} msg/s")
    print(f"facmon ingest into InfluxDB:        {ingest_median:,.0f} readings/s "
          f"(target >= {TARGET_RATE:,}: {'met' if ingest_median >= TARGET_RATE else 'NOT met'})")
    print(f"ratio ingest / mosquitto_sub:       {ratio:.1%} "
          f"(target >= {TARGET_RATIO:.0%}: {'met' if ratio >= TARGET_RATIO else 'NOT met'})")
    print(f"ingester peak memory:               {max(memories):.0f} MiB "
          f"(target <= {TARGET_MEMORY_MIB}: {'met' if max(memories) <= TARGET_MEMORY_MIB else 'NOT met'})")


if __name__ == "__main__":
    main()
