"""The paho-mqtt edge: connection options, a persistent QoS-1 session, and a lean receive path.

paho keeps the connection (connect, TLS, keepalive, reconnect with backoff, publishing, subscriptions). Its
receive path, measured on a 100,000-message backlog, cost ~75 µs of CPU per message here: one `select` and three
or more `recv` calls per packet, a `MQTTMessage` object, a topic matcher and two locks. `BufferedClient`
replaces only that part:
- the socket is read in 256 KiB gulps and every complete packet in the buffer is framed in Python;
- a QoS 0/1 PUBLISH goes straight to `on_raw_message(topic, payload, mid, qos, retain)`; every other packet
  (CONNACK, SUBACK, PUBACK of our own notices, PINGRESP, QoS 2) goes to paho's own handler unchanged;
- acknowledgements are queued as one write of many PUBACKs.
This relies on paho internals (`_packet_read`, `_in_packet`, `_packet_handle`, `_packet_queue`), so paho is
pinned below 2.3 in pyproject.toml; the integration tests run this path against a real Mosquitto.

The ingester speaks MQTT 3.1.1 (v5 adds a Properties object per PUBLISH). Its in-flight window is therefore the
broker's `max_inflight_messages` (facmon/resources/facmon.conf), and its session a 3.1.1 persistent session
(clean_session=False), kept by Mosquitto until `persistent_client_expiration`, if set.
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Callable, Iterable
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import MQTTErrorCode

from facmon.core.mqttclient import explain_connect_error, new_client
from facmon.core.settings import Settings

log = logging.getLogger(__name__)

_READ_CHUNK = 256 * 1024
_PUBLISH = 0x30
_PUBACK = 0x40
_PUBACK_PACK = struct.Struct("!BBH")

RawHandler = Callable[[bytes, bytes, int, int, bool], None]


def frame(buffer: bytes, pos: int) -> tuple[int, int, int] | None:
    """(command byte, body start, body end) of the packet at `pos`, or None if it is not complete yet."""
    end = len(buffer)
    if pos + 2 > end:
        return None
    length, multiplier, cursor = 0, 1, pos + 1
    while True:
        if cursor >= end:
            return None
        byte = buffer[cursor]
        length += (byte & 0x7F) * multiplier
        cursor += 1
        if not byte & 0x80:
            break
        multiplier *= 128
        if multiplier > 128**3:
            raise ValueError("malformed remaining length")
    if cursor + length > end:
        return None
    return buffer[pos], cursor, cursor + length


class BufferedClient(paho.Client):
    """A paho Client with a buffered, low-overhead receive path for QoS 0/1 PUBLISH packets."""

    on_raw_message: RawHandler | None = None
    packets_per_read = 10_000  # then back to paho's loop, which sends pings and checks timeouts

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._read_buffer = b""
        self._read_pos = 0

    def reconnect(self) -> MQTTErrorCode:
        self._read_buffer = b""
        self._read_pos = 0
        try:
            return super().reconnect()
        except OSError as exc:
            # paho retries with backoff and says nothing; say why once per attempt (a wrong CA, a refused port).
            log.error("cannot connect to the broker at %s:%d: %s", self.host, self.port, explain_connect_error(exc))
            raise

    def _packet_read(self) -> MQTTErrorCode:
        """Handle one packet from the buffer, reading the socket only when no complete packet is buffered."""
        buffer, pos = self._read_buffer, self._read_pos
        try:
            framed = frame(buffer, pos)
        except ValueError:
            return MQTTErrorCode.MQTT_ERR_PROTOCOL
        if framed is None:
            try:
                chunk = self._sock_recv(_READ_CHUNK)
            except BlockingIOError:
                return MQTTErrorCode.MQTT_ERR_AGAIN
            except OSError as exc:
                log.warning("failed to receive on the MQTT socket: %s", exc)
                return MQTTErrorCode.MQTT_ERR_CONN_LOST
            if not chunk:
                return MQTTErrorCode.MQTT_ERR_CONN_LOST
            buffer = buffer[pos:] + chunk if pos < len(buffer) else chunk
            pos = 0
            self._read_buffer, self._read_pos = buffer, 0
            with self._msgtime_mutex:
                self._last_bytes_received = paho.time_func()
            try:
                framed = frame(buffer, pos)
            except ValueError:
                return MQTTErrorCode.MQTT_ERR_PROTOCOL
            if framed is None:
                return MQTTErrorCode.MQTT_ERR_AGAIN
        command, start, end = framed
        self._read_pos = end
        handler = self.on_raw_message
        if command & 0xF0 == _PUBLISH and command & 0x06 in (0, 2) and handler is not None:
            topic_end = start + 2 + ((buffer[start] << 8) | buffer[start + 1])
            if command & 0x06:
                mid = (buffer[topic_end] << 8) | buffer[topic_end + 1]
                payload_start = topic_end + 2
            else:
                mid = 0
                payload_start = topic_end
            if payload_start > end:
                return MQTTErrorCode.MQTT_ERR_PROTOCOL
            handler(buffer[start + 2 : topic_end], buffer[payload_start:end], mid, (command & 0x06) >> 1,
                    bool(command & 0x01))
            if mid and not self._manual_ack:
                return self._send_puback(mid)
            return MQTTErrorCode.MQTT_ERR_SUCCESS
        self._in_packet = {
            "command": command,
            "have_remaining": 1,
            "remaining_count": [],
            "remaining_mult": 1,
            "remaining_length": end - start,
            "packet": bytearray(buffer[start:end]),
            "to_process": 0,
            "pos": 0,
        }
        return self._packet_handle()

    def loop_read(self, max_packets: int = 1) -> MQTTErrorCode:
        """Handle every buffered packet (paho handles one per select), then return so writes can go out."""
        if self._sock is None:
            return MQTTErrorCode.MQTT_ERR_NO_CONN
        for _ in range(self.packets_per_read):
            if self.want_write():
                # Acknowledgements the writer queued meanwhile (or while back-pressure held this thread) go out
                # before the next packet, not after thousands more: a crash then makes the broker redeliver only
                # what was not yet written, and the broker's window reopens sooner.
                rc = self.loop_write()
                if rc > 0 or self._sock is None:
                    return rc
            rc = self._packet_read()
            if rc > 0:
                return self._loop_rc_handle(rc)
            if rc == MQTTErrorCode.MQTT_ERR_AGAIN or self._sock is None:
                break
        return MQTTErrorCode.MQTT_ERR_SUCCESS

    def has_buffered_packet(self) -> bool:
        try:
            return frame(self._read_buffer, self._read_pos) is not None
        except ValueError:
            return True  # let _packet_read report the protocol error

    def _loop(self, timeout: float = 1.0) -> MQTTErrorCode:
        """paho's loop step, which first handles packets already in our buffer.

        paho's select() watches only the socket: a complete packet left in the buffer when `loop_read` stopped
        at `packets_per_read` would otherwise wait for the next byte from the broker — at the end of a backlog,
        the keepalive ping, seconds later.
        """
        if self._sock is not None and self.has_buffered_packet():
            rc = self.loop_read()
            if rc or self._sock is None:
                return rc
            if self.has_buffered_packet():
                timeout = 0.0
        return super()._loop(timeout)

    def outgoing_count(self) -> int:
        """Our own QoS-1 publishes (notices) not yet acknowledged by the broker, queued or in flight."""
        return len(self._out_messages)

    def ack_many(self, mids: Iterable[int]) -> None:
        """Acknowledge QoS-1 messages in one write; thread-safe like paho's own `ack`."""
        packets = b"".join(_PUBACK_PACK.pack(_PUBACK, 2, mid) for mid in mids)
        if packets and self._sock is not None:
            self._packet_queue(_PUBACK, packets, 0, 0)


def make_client(settings: Settings, client_id: str, manual_ack: bool) -> BufferedClient:
    """A client configured from settings: credentials, TLS, reconnect backoff. Not yet connected."""
    client = new_client(settings, client_id, clean_session=False, cls=BufferedClient, manual_ack=manual_ack)
    client.reconnect_delay_set(min_delay=1, max_delay=30)
    client.max_queued_messages_set(0)
    client.max_inflight_messages_set(1000)
    return client


def subscription_topic(settings: Settings, topic: str) -> str:
    if settings.mqtt_share_group:
        return f"$share/{settings.mqtt_share_group}/{topic}"
    return topic
