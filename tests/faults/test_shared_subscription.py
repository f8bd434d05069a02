"""Scale-out: two ingesters in one MQTT shared-subscription group split one stream, and store it exactly once.

`facmon ingest --share-group NAME` subscribes to `$share/NAME/{prefix}/#` (ingest/mqtt.py subscription_topic).
Mosquitto 2.0.11 hands each message of the group to one member, round robin, and each member keeps its own
persistent session (its own client id). Both sessions must exist before the stream starts — a message published
while the group has no subscription goes nowhere — so the test waits until each ingester has taken a reading.

Mosquitto 2.0.11 restores a persistent session's plain subscriptions after a restart but not its shared ones, so
an ingester in a group subscribes again whenever it resumes its session (ingest/service.py); the second test
restarts the broker and checks that the group receives again.
"""

from __future__ import annotations

import re
import time

import pytest

from facmon.demo.localstack import LocalMosquitto
from tests.faults.streams import assert_stored_exactly_once, count_readings, reading_stream
from tests.integration.ingester import (
    InfluxReader,
    IngesterFactory,
    IngesterProcess,
    StreamPublisher,
    unique,
    wait_until,
)

pytestmark = [pytest.mark.servers, pytest.mark.slow]

TOTAL = 50_000
WARM_UP = 20


def start_group(make_ingester: IngesterFactory, broker: LocalMosquitto, prefix: str) -> list[IngesterProcess]:
    """Two ingesters (own client ids, own persistent sessions) in one new share group."""
    group = unique("g")
    ingesters = [make_ingester(broker=broker, client_id=unique(f"ingest{n}-")) for n in (1, 2)]
    for ingester in ingesters:
        ingester.args = ["--share-group", group]
        ingester.start()
        assert ingester.session() == "new"
        assert f"subscribed to $share/{group}/{prefix}/#" in ingester.run_log
    return ingesters


def stop_and_split(ingesters: list[IngesterProcess]) -> list[int]:
    """Stop the group cleanly; how many messages each member took (all of them valid readings)."""
    received = []
    for ingester in ingesters:
        code, log = ingester.stop()
        assert code == 0, log
        # The final line, written after the last batch: a periodic counters line may predate the last write.
        final = re.search(r"stopped: received=(\d+) written=(\d+) refused=(\d+)", log)
        assert final is not None, log
        got, written, refused = (int(value) for value in final.groups())
        assert (got, refused) == (written, 0), final.group(0)
        received.append(got)
    return received


def test_two_ingesters_in_a_share_group_store_every_reading_once_and_both_work(
    make_ingester: IngesterFactory, mosquitto: LocalMosquitto, reader: InfluxReader, prefix: str
) -> None:
    stream = reading_stream(prefix, TOTAL)
    ingesters = start_group(make_ingester, mosquitto, prefix)

    # Both members are subscribed once each has taken one of a few warm-up readings (the first of the stream).
    warm_up = StreamPublisher(mosquitto.host, mosquitto.port, stream.messages[:WARM_UP]).start()
    warm_up.join()
    for ingester in ingesters:
        wait_until(lambda ingester=ingester: ingester.counter("received") > 0,
                   what=f"{ingester.client_id} to take a warm-up reading")

    rest = StreamPublisher(mosquitto.host, mosquitto.port, stream.messages[WARM_UP:]).start()
    rest.join()
    wait_until(lambda: count_readings(reader) >= TOTAL, timeout=120, interval=0.5, what=f"{TOTAL} readings")
    for ingester in ingesters:
        ingester.wait_for_log(r"counters .* pending=0 ", timeout=30)
    assert_stored_exactly_once(reader, stream)

    received = stop_and_split(ingesters)
    # Once: no message went to both members. Both worked: each took a substantial part.
    assert sum(received) == TOTAL, received
    assert min(received) >= TOTAL * 0.3, received
    print(f"\nshare group split {TOTAL} readings as {received}")


def test_share_group_receives_again_after_a_broker_restart(
    make_ingester: IngesterFactory, fresh_mosquitto: LocalMosquitto, reader: InfluxReader, prefix: str
) -> None:
    """Without subscribing again on resume, every reading after a broker restart is acknowledged and dropped."""
    ingesters = start_group(make_ingester, fresh_mosquitto, prefix)
    fresh_mosquitto.restart()  # clean stop: sessions saved, and restored on start
    for ingester in ingesters:
        ingester.wait_for_log(r"session resumed", timeout=45)
    time.sleep(1.0)  # the SUBACK of a new SUBSCRIBE (the log line is written when it is sent)

    stream = reading_stream(prefix, 2_000)
    StreamPublisher(fresh_mosquitto.host, fresh_mosquitto.port, stream.messages).start().join()
    wait_until(lambda: count_readings(reader) >= 2_000, timeout=30, interval=0.2, what="2,000 readings")
    for ingester in ingesters:
        ingester.wait_for_log(r"counters .* pending=0 ", timeout=30)
    assert_stored_exactly_once(reader, stream)
    for ingester in ingesters:
        assert "session resumed, subscribed to $share/" in ingester.run_log
    received = stop_and_split(ingesters)
    assert sum(received) == 2_000, received
    assert min(received) >= 600, received
