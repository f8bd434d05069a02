"""Soak: FACMON_SOAK_SECONDS (default 300) of steady traffic; memory stays flat and no work piles up.

The rate. The sample county (facmon/resources/county.yaml: 60 facilities, 1-3 sensors each, one reading per sensor per
15 minutes) sends about 0.13 messages a second, so twice its real rate is ~0.27/s: 80 messages in five minutes,
far too few to show a leak. The soak runs at 200 readings a second instead — 60,000 readings, about five days of
that county's traffic, or the steady rate of ~90,000 sensors reporting every 15 minutes (a province) — over a
registry of the county's size (60 facilities, 2 sensors each), every sensor reporting each quarter-hour with ts
written as devices do (RFC 3339 with an offset, epoch seconds, epoch milliseconds). A leak of 100 bytes a reading
would add ~3.4 MiB between the two windows compared below.

What must hold: VmRSS, sampled every 10 s, averages in the last fifth of the run within PLATEAU_MARGIN_MIB of
its average in the second fifth (the first fifth is warm-up: imports done, caches filled, arenas grown); the
ingester's `pending` counter (readings taken, not yet written) stays near zero throughout and does not trend
up; every reading is stored exactly once.
"""

from __future__ import annotations

import os
import statistics
import time

import pytest

from facmon.demo.localstack import LocalMosquitto
from tests.faults.memory import MemorySampler, mib
from tests.faults.streams import reading_topic
from tests.integration.ingester import InfluxReader, IngesterFactory, StreamPublisher, now_ms, wait_until

pytestmark = [pytest.mark.servers, pytest.mark.slow]

SECONDS = float(os.environ.get("FACMON_SOAK_SECONDS", "300"))
RATE = 200  # readings/s; see the module docstring
FACILITIES, SENSORS = 60, 2
# glibc's malloc ratchets the heap up by steps of ~0.3-1 MiB after large transient buffers (socket reads, HTTP
# bodies) and keeps it; that is a plateau, not a leak. 3 MiB still catches a leak of ~90 bytes a reading: 36,000
# readings pass between the middles of the two windows of a 300 s run.
PLATEAU_MARGIN_MIB = 3.0
MAX_PENDING = 500  # readings; at 200/s with a 0.25 s flush interval a healthy ingester holds ~50


def county_registry() -> str:
    lines = ["facilities:"]
    for n in range(FACILITIES):
        lines += [
            f"  - id: soak-{n:02d}",
            f"    name: 测试设施 {n}",
            f"    type: {('library', 'cultural_hall', 'sports_ground', 'day_care')[n % 4]}",
            f"    region: zhejiang/lishui/jinyun/t{n % 5}",
            f"    capacity: {50 + n * 10}",
            '    opening_hours: {mon: ["08:30-17:00"], sat: ["09:00-12:00"]}',
        ]
    return "\n".join(lines) + "\n"


def soak_messages(prefix: str, count: int, start_ms: int) -> list[tuple[str, bytes]]:
    """The county's traffic, replayed fast: every sensor reports each quarter-hour, in its own ts format.

    Reading i is sensor i % 120's reading for quarter-hour i // 120, so (facility, sensor, ts) is unique and, as
    with real devices, all sensors send the same few ts strings (the parser caches them; a cache of unique
    strings would just fill to its bound of 10,000 — bounded, not a leak, but it would blur the comparison).
    """
    messages = []
    sensors = FACILITIES * SENSORS
    for i in range(count):
        n = i % sensors
        facility, sensor = f"soak-{n % FACILITIES:02d}", f"door-{n // FACILITIES}"
        ts_ms = start_ms + (i // sensors) * 900_000
        if n % 3 == 0:
            ts = '"' + time.strftime("%Y-%m-%dT%H:%M:%S+08:00", time.gmtime(ts_ms // 1000 + 8 * 3600)) + '"'
        elif n % 3 == 1:
            ts = str(ts_ms)
        else:
            ts = str(ts_ms // 1000)
        payload = f'{{"ts": {ts}, "occupancy": {i % 90}, "entries": {i % 4}, "exits": {i % 3}, "seq": {i}}}'
        messages.append((reading_topic(prefix, facility, sensor), payload.encode()))
    return messages


def test_soak_at_steady_rate_keeps_memory_flat_and_nothing_pending(
    make_ingester: IngesterFactory, mosquitto: LocalMosquitto, reader: InfluxReader, prefix: str
) -> None:
    total = int(RATE * SECONDS)
    quarter_hours = total // (FACILITIES * SENSORS) + 1
    start_ms = (now_ms() - 3_600_000) // 900_000 * 900_000 - quarter_hours * 900_000
    messages = soak_messages(prefix, total, start_ms)
    ingester = make_ingester({"FACMON_STATS_INTERVAL": "2"}, registry_text=county_registry())
    ingester.start()
    publisher = StreamPublisher(mosquitto.host, mosquitto.port, messages, rate=RATE).start()
    sampler = MemorySampler(ingester, lambda: publisher.acked_count, interval=10.0).start()
    publisher.join(timeout=SECONDS + 60)
    sampler.stop()
    wait_until(lambda: int(reader.scalar('SELECT count("seq") FROM "reading"') or 0) >= total, timeout=60,
               interval=0.5, what=f"{total} readings")
    # The latest counters line, not any: an early line of a quiet moment also says pending=0.
    wait_until(lambda: ingester.counter("written") >= total, timeout=30, interval=0.5, what="counters written=total")
    assert ingester.running

    stored = reader.rows('SELECT "seq" FROM "reading"')
    assert sorted(row["seq"] for row in stored) == list(range(total))

    fifth = SECONDS / 5
    first = [s.rss_kib for s in sampler.between(fifth, 2 * fifth)]
    last = [s.rss_kib for s in sampler.between(4 * fifth, SECONDS + 5)]
    assert first, sampler.samples
    assert last, sampler.samples
    first_mean, last_mean = statistics.mean(first), statistics.mean(last)
    assert mib(last_mean - first_mean) <= PLATEAU_MARGIN_MIB, [mib(s.rss_kib) for s in sampler.samples]

    history = ingester.counters_history()
    pending = [line["pending"] for line in history]
    lag = [line["lag_ms"] for line in history]
    assert max(pending) <= MAX_PENDING, max(pending)
    n = len(pending) // 5
    assert statistics.mean(pending[-n:]) <= statistics.mean(pending[n : 2 * n]) + 50, pending
    assert history[-1]["written"] == history[-1]["accepted"] == total
    assert sum(ingester.refused_counts().values()) == 0
    code, log = ingester.stop()
    assert code == 0, log
    print(
        f"\nsoak {SECONDS:.0f} s at {RATE}/s ({total} readings): VmRSS {mib(first_mean):.1f} MiB (second fifth) -> "
        f"{mib(last_mean):.1f} MiB (last fifth), samples {[round(mib(s.rss_kib), 1) for s in sampler.samples]}; "
        f"VmHWM {mib(max(s.hwm_kib for s in sampler.samples)):.1f} MiB; pending max {max(pending)}, "
        f"mean {statistics.mean(pending):.1f}; lag_ms max {max(lag)}"
    )
