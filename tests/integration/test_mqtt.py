"""The buffered receive path of ingest.mqtt against a real Mosquitto."""

from __future__ import annotations

import threading
import time

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from facmon.demo.localstack import LocalMosquitto
from ingest.mqtt import BufferedClient

TOPIC = "facmon-test/buffered"


def _client(client_id: str) -> BufferedClient:
    return BufferedClient(
        callback_api_version=CallbackAPIVersion.VERSION2, client_id=client_id, protocol=paho.MQTTv311,
        clean_session=False,
    )


def _publish(mosquitto: LocalMosquitto, count: int) -> None:
    publisher = paho.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id="buffered-publisher")
    publisher.connect("127.0.0.1", mosquitto.port)
    publisher.loop_start()
    try:
        infos = [publisher.publish(TOPIC, f"m{i}".encode(), qos=1) for i in range(count)]
        for info in infos:
            info.wait_for_publish(10)
    finally:
        publisher.disconnect()
        publisher.loop_stop()


def test_packets_left_in_the_buffer_are_handled_without_waiting_for_the_broker(mosquitto: LocalMosquitto) -> None:
    """A backlog that arrives in one read, handled a few packets per loop step, must all arrive at once.

    paho's select() sees only the socket; without the buffer check the rest waited for the keepalive ping.
    """
    subscribed = threading.Event()
    first = _client("buffered-backlog")
    first.on_subscribe = lambda *args: subscribed.set()
    first.on_connect = lambda client, *args: client.subscribe(TOPIC, qos=1)
    first.connect("127.0.0.1", mosquitto.port)
    first.loop_start()
    assert subscribed.wait(10)
    first.disconnect()
    first.loop_stop()

    count = 40
    _publish(mosquitto, count)  # queued in the persistent session while its client is away

    received: list[bytes] = []
    everything = threading.Event()

    def on_raw(topic: bytes, payload: bytes, mid: int, qos: int, retain: bool) -> None:
        received.append(payload)
        if len(received) == count:
            everything.set()

    second = _client("buffered-backlog")
    second.packets_per_read = 3
    second.on_raw_message = on_raw
    second.connect("127.0.0.1", mosquitto.port, keepalive=600)  # no ping to wake the loop for ten minutes
    second.loop_start()
    try:
        started = time.monotonic()
        everything.wait(20)
        assert len(received) == count, f"{len(received)} of {count} after {time.monotonic() - started:.1f} s"
        assert received == [f"m{i}".encode() for i in range(count)]
    finally:
        second.disconnect()
        second.loop_stop()
