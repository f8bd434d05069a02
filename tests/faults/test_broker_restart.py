"""Fault: Mosquitto is restarted (clean stop, persistence on) in the middle of a stream.

What must hold: every reading the broker acknowledged to the publisher ends up in InfluxDB exactly once. When
the broker stops, part of what it acknowledged is still queued for the ingester's session (the publisher is
faster than the ingester, so a backlog builds); Mosquitto writes that queue, the session and its subscription to
its persistence file on a clean stop and reads them back on start. The readings go 20 to a message
(store-and-forward arrays), so the backlog outgrows what the TCP buffers between broker and ingester can hold:
Mosquitto 2.0.11 pushes far more than max_inflight_messages into the connection (docs/reliability.md), and with
single-reading messages the ingester would have everything before the broker stops. The ingester reconnects by
itself (paho's backoff) and resumes its session; the publisher reconnects and resends what was not acknowledged.

Only a clean stop (SIGTERM) is tested: after a crash Mosquitto restores its last autosave (autosave_interval 30 in
facmon/resources/facmon.conf), so what it acknowledged since then is lost — see docs/reliability.md.
"""

from __future__ import annotations

import time

import pytest

from facmon.demo.localstack import LocalInfluxDB, LocalMosquitto
from tests.faults.streams import assert_stored_exactly_once, count_readings, reading_stream
from tests.integration.ingester import InfluxReader, IngesterFactory, StreamPublisher, wait_until

pytestmark = [pytest.mark.servers, pytest.mark.slow]

TOTAL = 150_000  # long enough that the stream is still running when the broker has stopped, under load too
PER_MESSAGE = 20


def test_broker_restart_mid_stream_loses_no_acknowledged_reading(
    make_ingester: IngesterFactory, fresh_mosquitto: LocalMosquitto, influxdb: LocalInfluxDB, reader: InfluxReader,
    prefix: str,
) -> None:
    stream = reading_stream(prefix, TOTAL, PER_MESSAGE)
    ingester = make_ingester(broker=fresh_mosquitto)
    ingester.start()
    publisher = StreamPublisher(fresh_mosquitto.host, fresh_mosquitto.port, stream.messages).start()
    publisher.wait_acked(len(stream.messages) // 6)  # the stop takes a while: more is acknowledged meanwhile

    fresh_mosquitto.stop()  # SIGTERM: Mosquitto saves sessions and queued messages
    acked_at_stop = len(publisher.acked_indices()) * PER_MESSAGE
    # What the ingester had taken is written and counted once it settles; the rest must come from the broker's file.
    ingester.wait_for_log(r"disconnected from the broker")
    wait_until(lambda: ingester.counter("pending") == 0, what="the ingester to write what it had")
    time.sleep(0.5)
    stored_at_stop = count_readings(reader)
    assert acked_at_stop < TOTAL, "the stream ended before the broker stopped"
    assert acked_at_stop - stored_at_stop > 1_000, (
        f"only {acked_at_stop - stored_at_stop} acknowledged readings were waiting in the broker: "
        "the restart tests nothing"
    )
    assert ingester.running

    fresh_mosquitto.start()  # same port, same persistence file
    publisher.join(timeout=120)  # reconnects and resends what was not acknowledged, then the rest
    ingester.wait_for_log(r"session resumed", timeout=45)
    wait_until(lambda: count_readings(reader) >= TOTAL, timeout=120, interval=0.5, what=f"{TOTAL} readings")
    ingester.wait_for_log(r"counters .* pending=0 ", timeout=30)
    assert_stored_exactly_once(reader, stream)  # every reading, so every one acknowledged before the stop
    assert publisher.reconnects >= 1
    code, log = ingester.stop()
    assert code == 0, log
    print(
        f"\nbroker stopped with {acked_at_stop} readings acknowledged, {stored_at_stop} stored: "
        f"{acked_at_stop - stored_at_stop} came back from Mosquitto's persistence"
    )
