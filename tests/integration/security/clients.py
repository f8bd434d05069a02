"""MQTT clients that log in with an account, for access-control tests against the real broker.

Whether a message was *not* delivered is shown with a barrier: the same publisher sends a permitted message
afterwards, and MQTT keeps one publisher's QoS-1 messages in order, so once the barrier arrives anything sent
before it would have arrived too.
"""

from __future__ import annotations

import queue
import ssl
import threading
import uuid
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

TIMEOUT = 10.0


class Account:
    """One connection under a username (or anonymous); keeps every message it receives."""

    def __init__(
        self,
        port: int,
        username: str | None = None,
        password: str | None = None,
        *,
        protocol: int = mqtt.MQTTv311,
        ca_file: Path | None = None,
        host: str = "127.0.0.1",
    ) -> None:
        self.messages: queue.Queue[tuple[str, bytes]] = queue.Queue()
        self.client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=f"test-{username or 'anon'}-{uuid.uuid4().hex[:8]}",
            protocol=protocol,
        )
        if username is not None:
            self.client.username_pw_set(username, password)
        if ca_file is not None:
            self.client.tls_set_context(ssl.create_default_context(cafile=str(ca_file)))
        self._connack = threading.Event()
        self.connack: ReasonCode | None = None
        self.client.on_connect = self._on_connect
        self.client.on_message = lambda _c, _u, msg: self.messages.put((msg.topic, msg.payload))
        self.client.connect(host, port)
        self.client.loop_start()
        if not self._connack.wait(TIMEOUT):
            self.close()
            raise AssertionError(f"no CONNACK for {username!r}")

    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: ReasonCode, props: Any) -> None:
        self.connack = reason
        self._connack.set()

    @property
    def logged_in(self) -> bool:
        return self.connack is not None and not self.connack.is_failure

    def subscribe(self, *topics: str) -> None:
        """Subscribe at QoS 1 and wait for every SUBACK."""
        acked = threading.Semaphore(0)
        self.client.on_subscribe = lambda *args: acked.release()
        for topic in topics:
            result, _ = self.client.subscribe(topic, qos=1)
            assert result == mqtt.MQTT_ERR_SUCCESS, result
        for topic in topics:
            assert acked.acquire(timeout=TIMEOUT), f"no SUBACK for {topic}"

    def publish(self, topic: str, payload: bytes | str = b"x") -> None:
        """Publish at QoS 1 and wait for the PUBACK (Mosquitto acknowledges a denied publish too)."""
        info = self.client.publish(topic, payload, qos=1)
        info.wait_for_publish(TIMEOUT)
        assert info.is_published(), f"no PUBACK for {topic}"

    def received_until(self, barrier: str, timeout: float = TIMEOUT) -> list[str]:
        """Topics received up to and including the first message on `barrier`."""
        topics = []
        while True:
            try:
                topic, _ = self.messages.get(timeout=timeout)
            except queue.Empty:
                raise AssertionError(f"barrier {barrier} never arrived; got {topics}") from None
            topics.append(topic)
            if topic == barrier:
                return topics

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def login(port: int, username: str | None, password: str | None, **kwargs: Any) -> ReasonCode:
    """The broker's answer to one login attempt."""
    account = Account(port, username, password, **kwargs)
    try:
        assert account.connack is not None
        return account.connack
    finally:
        account.close()
