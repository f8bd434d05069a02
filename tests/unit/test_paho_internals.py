"""The private paho-mqtt members ingest/mqtt.py's BufferedClient relies on, pinned one by one.

BufferedClient replaces paho's receive path (see its docstring) by overriding and calling private methods and
attributes of `paho.mqtt.client.Client`. paho may rename or reshape them in any release, so a paho upgrade must
fail here first, each failure naming the member and what changed, before the ingester misbehaves against a
real broker. The last tests drive BufferedClient through a socket pair (no broker) so that what paho does with
the members (its packet handlers reading `_in_packet`, `_packet_queue` writing bytes as given) is pinned too.
"""

from __future__ import annotations

import inspect
import socket
import struct
import threading
from collections.abc import Iterator

import paho.mqtt.client as paho
import pytest
from paho.mqtt import __version__ as paho_version
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode

from ingest.mqtt import BufferedClient

EMPTY = inspect.Parameter.empty
HINT = (
    "ingest/mqtt.py's BufferedClient relies on it (see its docstring): adapt BufferedClient to this paho-mqtt "
    "before widening the paho-mqtt pin in pyproject.toml"
)

#: Private and public methods BufferedClient overrides or calls: their parameters after self, (name, default).
METHODS: dict[str, list[tuple[str, object]]] = {
    "_packet_read": [],  # overridden: reads from our buffer
    "_loop": [("timeout", 1.0)],  # overridden: handles buffered packets before paho's select()
    "loop_read": [("max_packets", 1)],  # overridden: every buffered packet, not one per select()
    "_sock_recv": [("bufsize", EMPTY)],
    "_send_puback": [("mid", EMPTY)],
    "_packet_handle": [],
    "_loop_rc_handle": [("rc", EMPTY)],
    "_packet_queue": [("command", EMPTY), ("packet", EMPTY), ("mid", EMPTY), ("qos", EMPTY), ("info", None)],
    "loop_write": [],
    "want_write": [],
    "reconnect": [],
}
#: The keys of paho's `_in_packet`, all of which BufferedClient sets before handing a packet to `_packet_handle`.
IN_PACKET_KEYS = {"command", "have_remaining", "remaining_count", "remaining_mult", "remaining_length", "packet",
                  "to_process", "pos"}
#: Names BufferedClient adds; paho must not use them for something of its own.
OUR_NAMES = ("_read_buffer", "_read_pos", "on_raw_message", "packets_per_read", "has_buffered_packet", "ack_many")
#: paho's methods that must call the ones BufferedClient overrides, or the overrides are never reached.
CALLS = {"loop": "self._loop(", "loop_forever": "self._loop(", "_loop": "self.loop_read()"}


def paho_client(manual_ack: bool = True) -> paho.Client:
    return paho.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id="pin", protocol=paho.MQTTv311,
                       clean_session=False, manual_ack=manual_ack)


def problem(member: str, detail: str) -> str:
    return f"paho-mqtt {paho_version}: Client.{member} {detail}; {HINT}"


@pytest.mark.parametrize("name", sorted(METHODS))
def test_each_method_keeps_its_parameters(name: str) -> None:
    method = getattr(paho.Client, name, None)
    assert callable(method), problem(name, "is gone")
    parameters = list(inspect.signature(method).parameters.values())
    found = [(p.name, p.default) for p in parameters[1:]]
    assert found == METHODS[name], problem(name, f"now takes {found}, not {METHODS[name]}")
    kinds = {p.kind for p in parameters}
    assert kinds <= {inspect.Parameter.POSITIONAL_OR_KEYWORD}, problem(name, f"has parameter kinds {kinds}")


@pytest.mark.parametrize(("caller", "call"), sorted(CALLS.items()))
def test_paho_reaches_the_overridden_methods(caller: str, call: str) -> None:
    source = inspect.getsource(getattr(paho.Client, caller))
    assert call in source, problem(caller, f"no longer calls {call.rstrip('(')}, so BufferedClient's override is "
                                   "skipped")


def test_the_attributes_exist_with_their_types() -> None:
    client = paho_client(manual_ack=True)
    assert client._sock is None, problem("_sock", "is not None before connecting")
    assert hasattr(client._msgtime_mutex, "__enter__"), problem("_msgtime_mutex", "is not a lock")
    assert isinstance(client._last_bytes_received, float), problem("_last_bytes_received", "is not a float")
    assert client._manual_ack is True, problem("_manual_ack", "does not hold the manual_ack argument")
    assert set(client._in_packet) == IN_PACKET_KEYS, problem("_in_packet", f"has keys {sorted(client._in_packet)}")
    assert callable(paho.time_func), problem("time_func", "(module level) is gone")
    assert isinstance(paho.time_func(), float), problem("time_func", "(module level) returns no float")


@pytest.mark.parametrize("name", OUR_NAMES)
def test_paho_does_not_use_the_names_we_add(name: str) -> None:
    assert not hasattr(paho.Client, name), problem(name, "exists in paho now and clashes with BufferedClient's")
    assert name not in vars(paho_client()), problem(name, "is set by paho now and clashes with BufferedClient's")


# ---- the members at work, through a socket pair -------------------------------------------------------------

@pytest.fixture
def wired() -> Iterator[tuple[BufferedClient, socket.socket]]:
    """A BufferedClient (manual acks, as the ingester) whose socket is one end of a pair; the test is the broker."""
    ours, broker = socket.socketpair()
    ours.setblocking(False)
    client = BufferedClient(callback_api_version=CallbackAPIVersion.VERSION2, client_id="pin",
                            protocol=paho.MQTTv311, clean_session=False, manual_ack=True)
    client._sock = ours
    try:
        yield client, broker
    finally:
        client._sock = None
        ours.close()
        broker.close()


def publish_qos1(topic: bytes, payload: bytes, mid: int) -> bytes:
    body = struct.pack("!H", len(topic)) + topic + struct.pack("!H", mid) + payload
    assert len(body) < 128
    return bytes([0x32, len(body)]) + body


def test_a_publish_read_from_the_socket_reaches_on_raw_message(wired: tuple[BufferedClient, socket.socket]) -> None:
    client, broker = wired
    got: list[tuple[bytes, bytes, int, int, bool]] = []
    client.on_raw_message = lambda *args: got.append(args)
    before = client._last_bytes_received
    broker.sendall(publish_qos1(b"t/a", b"{}", 7) + publish_qos1(b"t/b", b"[1]", 8))
    assert client.loop_read() == MQTTErrorCode.MQTT_ERR_SUCCESS
    assert got == [(b"t/a", b"{}", 7, 1, False), (b"t/b", b"[1]", 8, 1, False)]
    assert client._last_bytes_received >= before


def test_acks_queued_with_packet_queue_go_out_as_given(wired: tuple[BufferedClient, socket.socket]) -> None:
    client, broker = wired
    client.ack_many([7, 8, 65535])
    assert broker.recv(64) == b"\x40\x02\x00\x07\x40\x02\x00\x08\x40\x02\xff\xff"


def test_other_packets_go_to_paho_s_handlers_with_in_packet_filled(wired: tuple[BufferedClient, socket.socket]) -> None:
    client, broker = wired
    reasons: list[object] = []
    client.on_connect = lambda _c, _u, flags, reason, _p: reasons.append((flags.session_present, str(reason)))
    broker.sendall(b"\x20\x02\x01\x00")  # CONNACK: session present, accepted
    assert client.loop_read() == MQTTErrorCode.MQTT_ERR_SUCCESS
    assert reasons == [(True, "Success")]
    broker.sendall(b"\xd0\x01\x00")  # PINGRESP with a remaining length paho must see as wrong
    assert client._packet_read() == MQTTErrorCode.MQTT_ERR_PROTOCOL


def test_acks_queued_by_another_thread_go_out_before_the_next_packet_is_handled(
    wired: tuple[BufferedClient, socket.socket],
) -> None:
    """The ingester's writer thread queues PUBACKs while the MQTT thread is inside loop_read (paho then only
    queues them: its network thread writes). They must reach the broker before the next packet is handled, not
    after the round of up to packets_per_read packets: otherwise a crash makes the broker redeliver everything
    written but not yet acknowledged (9,930 readings in tests/faults/test_crash.py before the fix)."""
    client, broker = wired
    client._thread = threading.current_thread()  # as under loop_start(): _packet_queue queues, never writes
    broker.setblocking(False)
    seen_by_broker: list[bytes] = []

    def handled(_topic: bytes, _payload: bytes, mid: int, _qos: int, _retain: bool) -> None:
        try:
            seen_by_broker.append(broker.recv(64))
        except BlockingIOError:
            seen_by_broker.append(b"")
        client.ack_many([mid])  # the write of this reading is done: acknowledge it

    client.on_raw_message = handled
    broker.sendall(publish_qos1(b"t/a", b"{}", 7) + publish_qos1(b"t/b", b"{}", 8) + publish_qos1(b"t/c", b"{}", 9))
    assert client.loop_read() == MQTTErrorCode.MQTT_ERR_SUCCESS
    assert seen_by_broker == [b"", b"\x40\x02\x00\x07", b"\x40\x02\x00\x08"]
