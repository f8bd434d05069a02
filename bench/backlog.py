"""Load a QoS-1 backlog into a broker fast: a minimal MQTT 3.1.1 publisher on a raw socket.

paho's publisher spends most of its time on its own bookkeeping, which would make setting up a 200,000-message
backlog slower than draining it; this writes PUBLISH packets back to back and counts the PUBACKs.
"""

from __future__ import annotations

import socket
import struct
import threading
from collections.abc import Iterable


def _remaining_length(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n % 128, n // 128
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _string(value: str) -> bytes:
    raw = value.encode()
    return struct.pack("!H", len(raw)) + raw


def _packet(first_byte: int, body: bytes) -> bytes:
    return bytes([first_byte]) + _remaining_length(len(body)) + body


def publish_backlog(host: str, port: int, messages: Iterable[tuple[str, bytes]], client_id: str = "facmon-backlog",
                    window: int = 1000, timeout: float = 120.0) -> int:
    """Publish (topic, payload) pairs at QoS 1; return how many the broker acknowledged."""
    sock = socket.create_connection((host, port), timeout=timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    connect = _string("MQTT") + bytes([4, 0x02]) + struct.pack("!H", 60) + _string(client_id)
    sock.sendall(_packet(0x10, connect))
    connack = sock.recv(4)
    if len(connack) < 4 or connack[0] != 0x20 or connack[3] != 0:
        raise ConnectionError(f"broker refused the connection: {connack!r}")
    slots = threading.Semaphore(window)
    acked = 0
    sent = 0
    done = threading.Event()

    def read_acks() -> None:
        nonlocal acked
        buffer = b""
        while not done.is_set() or acked < sent:
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                return
            if not chunk:
                return
            buffer += chunk
            whole = len(buffer) // 4 * 4  # PUBACK is exactly 4 bytes in MQTT 3.1.1
            for _ in range(whole // 4):
                acked += 1
                slots.release()
            buffer = buffer[whole:]
            if done.is_set() and acked >= sent:
                return

    sock.settimeout(1.0)
    reader = threading.Thread(target=read_acks, daemon=True)
    reader.start()
    pending: list[bytes] = []
    mid = 0
    for topic, payload in messages:
        mid = mid % 65535 + 1
        slots.acquire()
        pending.append(_packet(0x32, _string(topic) + struct.pack("!H", mid) + payload))
        sent += 1
        if len(pending) >= 64:
            sock.sendall(b"".join(pending))
            pending.clear()
    if pending:
        sock.sendall(b"".join(pending))
    done.set()
    reader.join(timeout)
    sock.sendall(_packet(0xE0, b""))
    sock.close()
    return acked
