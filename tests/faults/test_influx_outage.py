"""Fault: InfluxDB stops for 30 s in the middle of a steady stream, then comes back.

What must hold: no reading is lost, the ingester never exits, and its memory plateaus during the outage instead
of growing with what is published meanwhile — the backlog waits in the broker's session queue, because the
ingester acknowledges only what InfluxDB has and stops reading once its few sealed batches are full.

The ingester runs with a 10 s MQTT keepalive here (30 s in production), so the outage also outlasts the broker's
keepalive check (1.5 x keepalive): the MQTT thread is held by back-pressure and sends nothing, the broker drops the
connection, and after InfluxDB returns the ingester reconnects, resumes its session and gets the unacknowledged
messages again. That drop must lose nothing either. Batches of 1,000 make back-pressure engage (three sealed batches
and one filling) before the broker's in-flight window of 10,000 is full; with the default 5,000 the window is the
limit instead, the MQTT thread stays free to ping and the connection survives — a gentler case than this one.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from facmon.demo.localstack import LocalInfluxDB, LocalMosquitto
from tests.faults.memory import MemorySampler, mib
from tests.faults.streams import assert_stored_exactly_once, count_readings, reading_stream
from tests.integration.ingester import InfluxReader, IngesterFactory, StreamPublisher, wait_until

pytestmark = [pytest.mark.servers, pytest.mark.slow]

RATE = 2_000  # readings/s: 60,000 arrive during the outage, ~20 MB if the ingester held them itself
BEFORE, OUTAGE, AFTER = 5.0, 30.0, 5.0
PLATEAU_MARGIN_MIB = 3.0


def rss_kib(pid: int | None) -> int:
    """VmRSS of a process in KiB (for the broker's figure, which is reported, not asserted)."""
    status = Path(f"/proc/{pid}/status").read_text()
    match = re.search(r"^VmRSS:\s+(\d+) kB", status, re.MULTILINE)
    assert match is not None
    return int(match.group(1))


def test_influxdb_outage_of_30s_loses_nothing_and_ingester_memory_plateaus(
    make_ingester: IngesterFactory,
    fresh_mosquitto: LocalMosquitto,
    fresh_influxdb: LocalInfluxDB,
    influx_db_name: str,
    prefix: str,
) -> None:
    total = int(RATE * (BEFORE + OUTAGE + AFTER))
    stream = reading_stream(prefix, total)
    mosquitto = fresh_mosquitto  # of its own, so that its memory growth is this backlog's
    ingester = make_ingester(
        {"FACMON_MQTT_KEEPALIVE": "10", "FACMON_BATCH_SIZE": "1000"}, broker=mosquitto, influx=fresh_influxdb
    )
    ingester.start()
    reader = InfluxReader(fresh_influxdb.url, influx_db_name)
    publisher = StreamPublisher(mosquitto.host, mosquitto.port, stream.messages, rate=RATE).start()
    sampler = MemorySampler(ingester, lambda: publisher.acked_count).start()

    wait_until(lambda: sampler.now() >= BEFORE, timeout=BEFORE + 5)
    stored_before = count_readings(reader)
    assert stored_before > RATE * BEFORE / 2, "the ingester was not keeping up before the outage"
    broker_before = rss_kib(mosquitto.pid)
    fresh_influxdb.stop()
    down_at = sampler.now()
    ingester.wait_for_log("InfluxDB write failed", timeout=10)
    time.sleep(OUTAGE - (sampler.now() - down_at))
    assert ingester.running, ingester.run_log
    up_at = sampler.now()
    broker_growth = rss_kib(mosquitto.pid) - broker_before
    fresh_influxdb.start()

    publisher.join(timeout=60)
    wait_until(lambda: count_readings(reader) >= total, timeout=120, interval=0.5, what=f"{total} readings")
    ingester.wait_for_log(r"counters .* pending=0 ", timeout=30)
    sampler.stop()
    assert ingester.running
    assert_stored_exactly_once(reader, stream)

    # The outage outlasted the broker's keepalive: it dropped the blocked ingester, which came back and resumed.
    log = ingester.run_log
    assert "disconnected from the broker" in log, log
    assert log.count("session resumed") >= 1, log

    # Memory: from 5 s into the outage to its end, resident memory stays flat while the broker takes ~50,000 more.
    window = sampler.between(down_at + 5, up_at)
    assert len(window) >= 20, sampler.samples
    published_meanwhile = window[-1].published - window[0].published
    growth = max(s.rss_kib for s in window) - window[0].rss_kib
    assert published_meanwhile >= RATE * (OUTAGE - 10), published_meanwhile
    assert mib(growth) <= PLATEAU_MARGIN_MIB, (
        f"VmRSS grew {mib(growth):.1f} MiB while {published_meanwhile} readings were published during the outage"
    )
    code, stop_log = ingester.stop()
    assert code == 0, stop_log
    peak = max(s.hwm_kib for s in sampler.samples)
    print(
        f"\noutage: VmRSS {mib(window[0].rss_kib):.1f} -> max {mib(window[0].rss_kib + growth):.1f} MiB while "
        f"{published_meanwhile} readings were published; VmHWM {mib(peak):.1f} MiB; "
        f"before {stored_before} stored; total {total}; the broker's VmRSS grew {mib(broker_growth):.1f} MiB "
        f"holding the backlog"
    )
