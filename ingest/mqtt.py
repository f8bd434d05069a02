"""The paho-mqtt edge: connection options, a persistent QoS-1 session, and a faster receive path.

`BufferedClient` changes two things in paho 2.x, both measured on a 200,000-message backlog (bench/ingest.py):
- paho reads each packet with three or more 1-byte `recv` calls and one `select` per packet; here the socket is
  read in 256 KiB gulps and every complete packet in the buffer is handled before paho selects again
  (about 3x the drain rate on its own);
- acknowledgements are queued as one write of many PUBACKs instead of one queued packet and wake-up each.
Both use paho internals (`_sock_recv`, `loop_read`, `_packet_queue`), so paho is pinned below 2.3 in
pyproject.toml and the integration tests exercise these paths against a real Mosquitto.
"""

from __future__ import annotations

import logging
import ssl
import struct
from collections.abc import Iterable
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

from facmon.settings import Settings

log = logging.getLogger(__name__)

_READ_CHUNK = 256 * 1024
_PUBACK = 0x40
_PUBACK_PACK = struct.Struct("!BBH")


class BufferedClient(paho.Client):
    """A paho Client with buffered socket reads and bulk acknowledgements."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._read_buffer = b""
        self._read_pos = 0

    def _sock_recv(self, bufsize: int) -> bytes:
        buffer, pos = self._read_buffer, self._read_pos
        if pos >= len(buffer):
            buffer = super()._sock_recv(_READ_CHUNK)
            if not buffer:
                return buffer
            pos = 0
        end = pos + bufsize
        self._read_buffer = buffer
        self._read_pos = min(end, len(buffer))
        return buffer[pos:end]

    def loop_read(self, max_packets: int = 1) -> MQTTErrorCode:
        rc = super().loop_read(max_packets)
        while (
            rc == MQTTErrorCode.MQTT_ERR_SUCCESS and self._sock is not None and self._read_pos < len(self._read_buffer)
        ):
            rc = super().loop_read(max_packets)
        return rc

    def reconnect(self) -> MQTTErrorCode:
        self._read_buffer = b""
        self._read_pos = 0
        return super().reconnect()

    def ack_many(self, mids: Iterable[int]) -> None:
        """Acknowledge QoS-1 messages in one write; thread-safe like paho's own `ack`."""
        packets = b"".join(_PUBACK_PACK.pack(_PUBACK, 2, mid) for mid in mids)
        if packets and self._sock is not None:
            self._packet_queue(_PUBACK, packets, 0, 0)


def session_properties(settings: Settings) -> Properties:
    """MQTT v5 CONNECT properties: a session that outlives restarts, and our in-flight window."""
    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = min(int(settings.max_reading_age.total_seconds()), 0xFFFFFFFE)
    props.ReceiveMaximum = settings.mqtt_receive_maximum
    return props


def make_client(settings: Settings, client_id: str, manual_ack: bool) -> BufferedClient:
    """A client configured from settings: credentials, TLS, reconnect backoff. Not yet connected."""
    url = settings.mqtt
    client = BufferedClient(
        callback_api_version=CallbackAPIVersion.VERSION2,
        client_id=client_id,
        protocol=paho.MQTTv5,
        manual_ack=manual_ack,
    )
    if url.username:
        client.username_pw_set(url.username, url.password.get_secret_value() if url.password else None)
    if url.tls:
        context = ssl.create_default_context(cafile=str(settings.mqtt_ca_file) if settings.mqtt_ca_file else None)
        client.tls_set_context(context)
    client.reconnect_delay_set(min_delay=1, max_delay=30)
    client.max_queued_messages_set(0)
    client.max_inflight_messages_set(1000)
    return client


def subscription_topic(settings: Settings, topic: str) -> str:
    if settings.mqtt_share_group:
        return f"$share/{settings.mqtt_share_group}/{topic}"
    return topic


def subscribe_options() -> SubscribeOptions:
    """QoS 1; retained messages only on a new subscription, so a resubscribe does not replay them."""
    return SubscribeOptions(qos=1, retainHandling=SubscribeOptions.RETAIN_SEND_IF_NEW_SUB)
