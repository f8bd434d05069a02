"""Test helpers for end-to-end ingester tests: the real `facmon ingest` process, real MQTT, real InfluxDB.

- `IngesterProcess` runs `python -m facmon ingest` with FACMON_* settings in its environment, logs to a file,
  and is stopped with SIGTERM (clean) or SIGKILL (crash); its clock is pinned (FACMON_NOW) at the tests' clock;
- `now_ms` is the tests' clock (tests.conftest.TEST_CLOCK), never the machine's: what readings are stamped with;
- `Publisher` publishes at QoS 1 and waits for each PUBACK, so a message is in the broker when it returns;
- `StreamPublisher` streams many QoS-1 messages fast (or at a set rate) on a raw socket and records exactly which
  ones the broker acknowledged, reconnecting and resending like a store-and-forward device;
- `NoticeListener` collects the refusal notices the ingester publishes;
- `InfluxReader` reads points back over InfluxDB's HTTP API (stdlib only, independent of facmon/core/influx.py);
- `wait_until` polls a condition with a timeout;
- the `make_ingester` and `reader` fixtures, shared by tests/integration/test_ingest.py and tests/faults (each
  package supplies its own `prefix` fixture).
"""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from facmon.demo.localstack import LocalInfluxDB, LocalMosquitto
from tests.conftest import TEST_CLOCK

TIMEOUT = 15.0
T = TypeVar("T")

#: Two facilities; tags and capacities the tests check against.
REGISTRY_YAML = """\
facilities:
  - id: wz-lc-lib-001
    name: 鹿城区图书馆五马分馆
    type: library
    region: zhejiang/wenzhou/lucheng
    capacity: 120
    opening_hours:
      tue: ["09:00-12:00", "14:00-20:00"]
  - id: wz-oh-comm-003
    name: 瓯海区娄桥街道社区活动中心
    type: community_center
    region: zhejiang/wenzhou/ouhai
    capacity: 60
    opening_hours:
      mon: ["08:30-11:30"]
"""
LIBRARY = "wz-lc-lib-001"
LIBRARY_TAGS = {"facility": LIBRARY, "type": "library", "region": "zhejiang/wenzhou/lucheng"}
COMMUNITY = "wz-oh-comm-003"
COMMUNITY_TAGS = {"facility": COMMUNITY, "type": "community_center", "region": "zhejiang/wenzhou/ouhai"}


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


def wait_until(condition: Callable[[], T], timeout: float = TIMEOUT, interval: float = 0.05, what: str = "") -> T:
    """Poll `condition` until it returns something truthy and return that; AssertionError on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what or condition!r} (last: {value!r})")
        time.sleep(interval)


def now_ms() -> int:
    """Now on the tests' pinned clock, in epoch milliseconds.

    Each ingester starts its own clock where this one is when it is spawned (FACMON_NOW), so the two differ only
    by the ingester's start-up, during which its clock does not run yet: the ingester's "now" is never ahead of
    this one, and never behind it by more than the time from spawning it to its "connected" line
    (`IngesterProcess.started_ms`). Readings are stamped relative to this clock, so what is "too old" or "in the
    future" to the ingester is the same at every run, whatever the machine's date.
    """
    return TEST_CLOCK.time_ns() // 1_000_000


def clock_env(at_ms: int) -> dict[str, str]:
    """FACMON_NOW for a facmon process spawned when now_ms() read `at_ms`: its clock then follows the tests'."""
    start = datetime.fromtimestamp(at_ms // 1000, UTC).replace(microsecond=at_ms % 1000 * 1000)
    return {"FACMON_NOW": start.isoformat()}


# -- the ingester process ------------------------------------------------------------------------------------------
class IngesterProcess:
    """One `facmon ingest` subprocess (possibly started several times with the same client id and session)."""

    def __init__(
        self,
        workdir: Path,
        *,
        mqtt_url: str,
        influx_url: str,
        influx_db: str,
        topic_prefix: str,
        client_id: str | None = None,
        registry_text: str = REGISTRY_YAML,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.client_id = client_id or unique("ingest-")
        self.topic_prefix = topic_prefix
        self.registry_path = self.workdir / "registry.yaml"
        self.registry_path.write_text(registry_text, encoding="utf-8")
        self.log_path = self.workdir / f"{self.client_id}.log"
        self.env: dict[str, str] = {
            "FACMON_MQTT_URL": mqtt_url,
            "FACMON_INFLUX_URL": influx_url,
            "FACMON_INFLUX_DB": influx_db,
            "FACMON_REGISTRY": str(self.registry_path),
            "FACMON_MQTT_CLIENT_ID": self.client_id,
            "FACMON_TOPIC_PREFIX": topic_prefix,
            "FACMON_STATS_INTERVAL": "0.2",
            "FACMON_INFLUX_TIMEOUT": "3",
            **(env or {}),
        }
        #: Command-line flags after `facmon ingest` (e.g. ["--share-group", "g"]).
        self.args: list[str] = []
        #: Where the process's stdout and stderr go; None: the log file that wait_for_log reads.
        self.output_path: Path | None = None
        #: Run in the child just before exec (e.g. drop_file_permission_override).
        self.preexec_fn: Callable[[], None] | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._run_offset = 0
        #: now_ms() when the current (or last) run was spawned: the instant its pinned clock starts at.
        self.started_ms = 0

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self, wait_connected: bool = True, timeout: float = TIMEOUT) -> None:
        assert not self.running, "already running"
        self._run_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        base = {key: value for key, value in os.environ.items() if not key.upper().startswith("FACMON_")}
        # A restart starts where the tests' clock is now, so the ingester's time never goes back across runs.
        self.started_ms = now_ms()
        with (self.output_path or self.log_path).open("ab") as log:
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "facmon", "ingest", *self.args],
                env={**base, **clock_env(self.started_ms), **self.env},
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.workdir,
                preexec_fn=self.preexec_fn,
            )
        if wait_connected:
            self.wait_for_log(r"connected to ", timeout)

    # -- logs --------------------------------------------------------------------------------------------------
    @property
    def log(self) -> str:
        """Everything every run of this ingester has logged."""
        return self.log_path.read_text(encoding="utf-8", errors="replace") if self.log_path.exists() else ""

    @property
    def run_log(self) -> str:
        """What the current (or last) run has logged."""
        if not self.log_path.exists():
            return ""
        with self.log_path.open("rb") as log:
            log.seek(self._run_offset)
            return log.read().decode("utf-8", errors="replace")

    def wait_for_log(self, pattern: str, timeout: float = TIMEOUT) -> re.Match[str]:
        """Wait until the current run logs a line matching `pattern`; fail early if the process exits."""
        regex = re.compile(pattern)

        def found() -> re.Match[str] | None:
            match = regex.search(self.run_log)
            if match is None and self._proc is not None and self._proc.poll() is not None:
                raise AssertionError(
                    f"ingester exited ({self._proc.returncode}) before logging {pattern!r}:\n{self.run_log}"
                )
            return match

        try:
            return wait_until(found, timeout, what=f"log line {pattern!r}")
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n--- ingester log ---\n{self.run_log}") from None

    def session(self) -> str:
        """'new' or 'resumed': what the broker said about the session when this run connected."""
        line = self.wait_for_log(r"connected to .*").group(0)
        if "resumed" in line:
            return "resumed"
        assert "new" in line, line
        return "new"

    def wait_received(self, count: int, timeout: float = TIMEOUT) -> None:
        """Wait until a counters line of this run says the ingester took `count` messages off the broker."""
        self.wait_for_log(rf"counters received={count} ", timeout)

    def last_counters(self) -> dict[str, int]:
        """The integer counters of this run's latest counters line (received, accepted, written, statuses, ...)."""
        lines = re.findall(r"counters (.*)", self.run_log)
        assert lines, f"no counters line yet:\n{self.run_log}"
        return {key: int(value) for key, value in re.findall(r"(\w+)=(\d+)(?=\s|$)", lines[-1])}

    def counters_history(self) -> list[dict[str, int]]:
        """Every counters line of this run, oldest first (the refused=[...] breakdown is left out)."""
        history = []
        for text in re.findall(r"counters (.*)", self.run_log):
            text = re.sub(r"refused=\[[^\]]*\]", "", text)
            history.append({key: int(value) for key, value in re.findall(r"(\w+)=(\d+)(?=\s|$)", text)})
        return history

    def counter(self, name: str) -> int:
        """One counter from this run's latest counters line; 0 before the first line."""
        history = self.counters_history()
        return history[-1][name] if history else 0

    def refused_counts(self) -> dict[str, int]:
        """Refusals by reason from this run's latest counters line."""
        lines = re.findall(r"counters .*refused=\[([^\]]*)\]", self.run_log)
        assert lines, f"no counters line yet:\n{self.run_log}"
        return {reason: int(n) for reason, n in re.findall(r"(\w+)=(\d+)", lines[-1])}

    # -- the process -----------------------------------------------------------------------------------------------
    def _live(self) -> subprocess.Popen[bytes]:
        assert self._proc is not None, "never started"
        assert self._proc.poll() is None, f"exited with {self._proc.returncode}"
        return self._proc

    @property
    def pid(self) -> int:
        return self._live().pid

    def memory_kib(self) -> dict[str, int]:
        """VmRSS (resident now) and VmHWM (peak resident) of the running process, in KiB, from /proc."""
        status = Path(f"/proc/{self.pid}/status").read_text()
        return {key: int(value) for key, value in re.findall(r"^(VmRSS|VmHWM):\s+(\d+) kB", status, re.MULTILINE)}

    def sighup(self) -> None:
        """Ask the ingester to reload its registry."""
        self._live().send_signal(signal.SIGHUP)

    # -- stopping ------------------------------------------------------------------------------------------------
    def stop(self, timeout: float = 30.0) -> tuple[int, str]:
        """SIGTERM and wait; return the exit code and this run's log."""
        assert self._proc is not None, "never started"
        if self._proc.poll() is None:
            self._proc.send_signal(signal.SIGTERM)
        try:
            code = self._proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"ingester did not stop within {timeout:g} s after SIGTERM:\n{self.run_log}") from None
        return code, self.run_log

    def kill(self) -> None:
        """SIGKILL: a crash, no flushing, no acknowledgements."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()

    def wait_exit(self, timeout: float = TIMEOUT) -> int:
        assert self._proc is not None
        return self._proc.wait(timeout)


_PR_CAPBSET_DROP = 24
_CAP_DAC_OVERRIDE, _CAP_DAC_READ_SEARCH = 1, 2


def drop_file_permission_override() -> None:
    """A preexec_fn: the child cannot bypass file permissions, so chmod 000 denies reading even to root.

    Tests (and CI) run as root, whose CAP_DAC_OVERRIDE ignores permission bits. Dropping it (and
    CAP_DAC_READ_SEARCH) from the bounding set before exec leaves the ingester with every other right.
    """
    if os.geteuid() != 0:
        return
    import ctypes

    prctl = ctypes.CDLL(None, use_errno=True).prctl
    for cap in (_CAP_DAC_OVERRIDE, _CAP_DAC_READ_SEARCH):
        if prctl(_PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP) failed")


# -- MQTT ----------------------------------------------------------------------------------------------------------
def _connected_client(host: str, port: int, client_id: str) -> mqtt.Client:
    connected = threading.Event()
    client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    client.on_connect = lambda *args: connected.set()
    client.connect(host, port)
    client.loop_start()
    if not connected.wait(TIMEOUT):
        client.loop_stop()
        raise AssertionError(f"no CONNACK from {host}:{port}")
    return client


class Publisher:
    """A sensor-like MQTT client that publishes at QoS 1 and waits for the broker's PUBACK."""

    def __init__(self, host: str, port: int) -> None:
        self.client = _connected_client(host, port, unique("pub-"))

    def publish(self, topic: str, payload: bytes | str, retain: bool = False) -> None:
        self.publish_many([(topic, payload)], retain=retain)

    def publish_many(self, messages: Iterable[tuple[str, bytes | str]], retain: bool = False) -> None:
        infos = []
        for topic, payload in messages:
            data = payload.encode() if isinstance(payload, str) else payload
            info = self.client.publish(topic, data, qos=1, retain=retain)
            assert info.rc == mqtt.MQTT_ERR_SUCCESS, f"publish to {topic!r} failed locally: {info.rc}"
            infos.append(info)
        for info in infos:
            info.wait_for_publish(TIMEOUT)
            assert info.is_published(), "no PUBACK"

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@contextmanager
def publisher(host: str, port: int) -> Iterator[Publisher]:
    pub = Publisher(host, port)
    try:
        yield pub
    finally:
        pub.close()


def _mqtt_packet(first_byte: int, body: bytes) -> bytes:
    header = bytearray([first_byte])
    n = len(body)
    while True:
        byte, n = n % 128, n // 128
        header.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(header) + body


def _mqtt_string(value: bytes) -> bytes:
    return struct.pack("!H", len(value)) + value


class StreamPublisher:
    """Streams (topic, payload) pairs at QoS 1 from a thread and records which ones the broker acknowledged.

    Why not `Publisher`: paho publishes a few thousand messages a second here; this raw MQTT 3.1.1 client sends
    tens of thousands, so a 100,000-reading stream takes seconds, and it tracks PUBACKs by packet id, so a
    message counts as published only once the broker took responsibility for it. With `rate` it sends at that
    steady rate instead of as fast as `window` allows. If the connection drops (a broker restart) it
    reconnects and resends what was not acknowledged, as a store-and-forward device does; the resends carry
    the same payload, so they are the same readings.
    """

    def __init__(
        self,
        host: str,
        port: int,
        messages: Sequence[tuple[str, bytes]],
        *,
        rate: float | None = None,
        window: int = 1000,
        reconnect_timeout: float = 60.0,
        max_reconnects: int = 50,
    ) -> None:
        self.host, self.port = host, port
        self.max_reconnects = max_reconnects  # a broker that keeps dropping us (a topic it refuses) is a failure
        self.messages = messages
        self.rate = rate
        self.window = window
        self.reconnect_timeout = reconnect_timeout
        self.client_id = unique("stream-").encode()
        self.acked = bytearray(len(messages))  # 1 where the broker acknowledged message i
        self.acked_count = 0
        self.sent = 0  # PUBLISH packets written, resends included
        self.reconnects = 0
        self.error: BaseException | None = None
        self._cond = threading.Condition()
        self._in_flight: dict[int, int] = {}  # packet id -> message index
        self._dead = False
        self._last_mid = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="stream-publisher", daemon=True)

    def start(self) -> StreamPublisher:
        self._thread.start()
        return self

    @property
    def done(self) -> bool:
        return not self._thread.is_alive()

    def acked_indices(self) -> list[int]:
        with self._cond:
            return [i for i, flag in enumerate(self.acked) if flag]

    def wait_acked(self, count: int, timeout: float = 60.0) -> None:
        """Wait until the broker acknowledged at least `count` messages."""
        wait_until(lambda: self.acked_count >= count or self.error, timeout, what=f"{count} PUBACKs")
        if self.error is not None:
            raise AssertionError(f"publisher failed: {self.error!r}")

    def join(self, timeout: float = 120.0) -> None:
        """Wait until every message is acknowledged (and the publisher disconnected)."""
        self._thread.join(timeout)
        assert not self._thread.is_alive(), f"publisher still running: {self.acked_count}/{len(self.messages)} acked"
        if self.error is not None:
            raise AssertionError(f"publisher failed: {self.error!r}")
        assert self.acked_count == len(self.messages), f"{self.acked_count}/{len(self.messages)} acknowledged"

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)

    # -- the thread ------------------------------------------------------------------------------------------------
    def _connect(self) -> socket.socket:
        deadline = time.monotonic() + self.reconnect_timeout
        while True:
            try:
                sock = socket.create_connection((self.host, self.port), timeout=5)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                # MQTT 3.1.1, clean session, keepalive 0 (off): a publisher paused by a broker outage stays valid.
                connect = _mqtt_string(b"MQTT") + bytes([4, 0x02]) + struct.pack("!H", 0) + _mqtt_string(self.client_id)
                sock.sendall(_mqtt_packet(0x10, connect))
                connack = b""
                while len(connack) < 4:
                    chunk = sock.recv(4 - len(connack))
                    if not chunk:
                        raise ConnectionError("closed before CONNACK")
                    connack += chunk
                if connack[0] != 0x20 or connack[3] != 0:
                    raise ConnectionError(f"broker refused the connection: {connack!r}")
                sock.settimeout(None)
                return sock
            except OSError:
                if time.monotonic() > deadline or self._stop.is_set():
                    raise
                time.sleep(0.1)

    def _read_acks(self, sock: socket.socket) -> None:
        buffer = b""
        while True:
            try:
                chunk = sock.recv(65536)
            except OSError:
                chunk = b""
            if not chunk:
                with self._cond:
                    self._dead = True
                    self._cond.notify_all()
                return
            buffer += chunk
            pos, mids = 0, []
            while len(buffer) - pos >= 2:
                length = buffer[pos + 1]  # PUBACK and every other packet the broker sends us here are short
                if len(buffer) - pos < 2 + length:
                    break
                if buffer[pos] & 0xF0 == 0x40 and length == 2:
                    mids.append((buffer[pos + 2] << 8) | buffer[pos + 3])
                pos += 2 + length
            buffer = buffer[pos:]
            with self._cond:
                for mid in mids:
                    index = self._in_flight.pop(mid, None)
                    if index is not None and not self.acked[index]:
                        self.acked[index] = 1
                        self.acked_count += 1
                self._cond.notify_all()

    def _run(self) -> None:
        try:
            self._publish_all()
        except BaseException as exc:  # reported through join()/wait_acked()
            self.error = exc

    def _publish_all(self) -> None:
        total = len(self.messages)
        started = time.monotonic()
        next_index = 0
        resend: list[int] = []
        while True:
            sock = self._connect()
            with self._cond:
                self._dead = False
            reader = threading.Thread(target=self._read_acks, args=(sock,), daemon=True)
            reader.start()
            try:
                next_index, resend = self._send(sock, next_index, resend, started)
            finally:
                with suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
                reader.join(10)
            if next_index >= total and not resend:
                with self._cond:
                    if not self._in_flight:
                        return
            if self._stop.is_set():
                return
            with self._cond:  # the connection died: resend what it did not acknowledge
                resend = sorted(set(resend) | set(self._in_flight.values()))
                self._in_flight.clear()
            self.reconnects += 1
            if self.reconnects > self.max_reconnects:
                raise ConnectionError(f"the broker dropped the connection {self.reconnects} times")

    def _send(self, sock: socket.socket, next_index: int, resend: list[int], started: float) -> tuple[int, list[int]]:
        """Send until everything is acknowledged or the connection dies; return where to go on from."""
        total = len(self.messages)
        resend = list(resend)
        while not self._stop.is_set():
            packets = []
            with self._cond:
                while len(self._in_flight) >= self.window and not self._dead:
                    self._cond.wait(0.5)
                if self._dead:
                    return next_index, resend
                if not resend and next_index >= total:
                    if not self._in_flight:
                        sock.sendall(_mqtt_packet(0xE0, b""))
                        return next_index, resend
                    self._cond.wait(0.2)
                    continue
                room = min(64, self.window - len(self._in_flight))
                while room and (resend or next_index < total):
                    if resend:
                        index = resend.pop(0)
                    else:
                        if self.rate is not None and time.monotonic() < started + next_index / self.rate:
                            break
                        index = next_index
                        next_index += 1
                    mid = self._new_mid()
                    self._in_flight[mid] = index
                    topic, payload = self.messages[index]
                    packets.append(_mqtt_packet(0x32, _mqtt_string(topic.encode()) + struct.pack("!H", mid) + payload))
                    room -= 1
            if packets:
                try:
                    sock.sendall(b"".join(packets))
                except OSError:
                    with self._cond:
                        self._dead = True
                    return next_index, resend
                self.sent += len(packets)
            elif self.rate is not None and next_index < total:
                time.sleep(max(0.0, min(0.05, started + next_index / self.rate - time.monotonic())))
        return next_index, resend

    def _new_mid(self) -> int:
        """The next packet id not in flight (called with the lock held)."""
        while True:
            self._last_mid = self._last_mid % 65535 + 1
            if self._last_mid not in self._in_flight:
                return self._last_mid


@dataclass(frozen=True)
class Notice:
    topic: str
    body: dict[str, Any]


class NoticeListener:
    """Subscribes to `{prefix}/#` and keeps every live `.../rejected` and `_rejected` message as a Notice."""

    def __init__(self, host: str, port: int, prefix: str) -> None:
        self._queue: queue.Queue[Notice] = queue.Queue()
        self.client = _connected_client(host, port, unique("notices-"))
        self.client.on_message = self._on_message
        subscribed = threading.Event()
        self.client.on_subscribe = lambda *args: subscribed.set()
        self.client.subscribe(f"{prefix}/#", qos=1)
        if not subscribed.wait(TIMEOUT):
            self.close()
            raise AssertionError("no SUBACK")

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        # A notice retained by an earlier test is not this test's; an empty payload clears a retained notice.
        if message.topic.endswith("rejected") and not message.retain and message.payload:
            self._queue.put(Notice(message.topic, json.loads(message.payload)))

    def take(self, count: int, timeout: float = TIMEOUT) -> list[Notice]:
        """Exactly the next `count` notices (fails if fewer arrive in time)."""
        notices = []
        deadline = time.monotonic() + timeout
        while len(notices) < count:
            try:
                notices.append(self._queue.get(timeout=max(0.0, deadline - time.monotonic())))
            except queue.Empty:
                raise AssertionError(f"got {len(notices)} of {count} notices: {notices}") from None
        return notices

    def drain(self, quiet: float = 1.0) -> list[Notice]:
        """Every notice that arrives until none has for `quiet` seconds."""
        notices = []
        while True:
            try:
                notices.append(self._queue.get(timeout=quiet))
            except queue.Empty:
                return notices

    def assert_quiet(self, seconds: float = 0.5) -> None:
        """No (further) notice arrives within `seconds`."""
        try:
            extra = self._queue.get(timeout=seconds)
        except queue.Empty:
            return
        raise AssertionError(f"unexpected notice: {extra}")

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@contextmanager
def notice_listener(host: str, port: int, prefix: str) -> Iterator[NoticeListener]:
    listener = NoticeListener(host, port, prefix)
    try:
        yield listener
    finally:
        listener.close()


# -- InfluxDB ------------------------------------------------------------------------------------------------------
class InfluxReader:
    """Reads what the ingester wrote, as rows of {column: value} with `time` in integer nanoseconds."""

    def __init__(self, url: str, database: str) -> None:
        self.url = url.rstrip("/")
        self.database = database

    def raw(self, q: str, database: str | None = None) -> dict[str, Any]:
        params = {"q": q, "epoch": "ns"}
        db = self.database if database is None else database
        if db:
            params["db"] = db
        request = urllib.request.Request(
            f"{self.url}/query", data=urllib.parse.urlencode(params).encode(), method="POST"
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            result: dict[str, Any] = json.loads(response.read())
        return result

    def rows(self, q: str) -> list[dict[str, Any]]:
        """All rows of all series of the first statement; a missing database or measurement gives []."""
        try:
            result = self.raw(q)["results"][0]
        except (urllib.error.URLError, ConnectionError):
            return []
        if "error" in result:
            if "database not found" in result["error"]:
                return []
            raise AssertionError(f"query {q!r} failed: {result['error']}")
        rows = []
        for series in result.get("series", []):
            tags = series.get("tags", {})
            rows.extend({**tags, **dict(zip(series["columns"], values, strict=True))} for values in series["values"])
        return rows

    def points(self, measurement: str, where: str = "") -> list[dict[str, Any]]:
        clause = f" WHERE {where}" if where else ""
        return self.rows(f'SELECT * FROM "{measurement}"{clause}')

    def count(self, measurement: str, where: str = "") -> int:
        return len(self.points(measurement, where))

    def wait_points(
        self, measurement: str, expected: int, where: str = "", timeout: float = TIMEOUT, settle: float = 0.5
    ) -> list[dict[str, Any]]:
        """Wait until `measurement` holds at least `expected` points, then check it is exactly that many."""
        wait_until(
            lambda: self.count(measurement, where) >= expected,
            timeout,
            interval=0.1,
            what=f"{expected} points in {measurement} {where}".rstrip(),
        )
        time.sleep(settle)
        points = self.points(measurement, where)
        assert len(points) == expected, f"expected exactly {expected} {measurement} points, found {len(points)}"
        return points

    def field_types(self, measurement: str) -> dict[str, str]:
        return {row["fieldKey"]: row["fieldType"] for row in self.rows(f'SHOW FIELD KEYS FROM "{measurement}"')}

    def tag_keys(self, measurement: str) -> set[str]:
        return {row["tagKey"] for row in self.rows(f'SHOW TAG KEYS FROM "{measurement}"')}

    def scalar(self, q: str) -> Any:
        """The first value of the first row (e.g. a count), or None when there are no rows."""
        rows = self.rows(q)
        if not rows:
            return None
        return next(value for key, value in rows[0].items() if key != "time")

    def measurements(self) -> set[str]:
        return {row["name"] for row in self.rows("SHOW MEASUREMENTS")}

    def all_tag_keys(self) -> dict[str, set[str]]:
        """Tag keys of every measurement, as InfluxDB indexed them."""
        result = self.raw("SHOW TAG KEYS")["results"][0]
        return {s["name"]: {row[0] for row in s.get("values", [])} for s in result.get("series", [])}

    def all_field_keys(self) -> dict[str, dict[str, str]]:
        """Field keys and types of every measurement."""
        result = self.raw("SHOW FIELD KEYS")["results"][0]
        return {s["name"]: {row[0]: row[1] for row in s.get("values", [])} for s in result.get("series", [])}

    def tag_values(self, measurement: str, key: str) -> set[str]:
        return {row["value"] for row in self.rows(f'SHOW TAG VALUES FROM "{measurement}" WITH KEY = "{key}"')}

    def databases(self) -> set[str]:
        with suppress(KeyError, IndexError):
            return {row[0] for row in self.raw("SHOW DATABASES", database="")["results"][0]["series"][0]["values"]}
        return set()


# -- fixtures ------------------------------------------------------------------------------------------------------
IngesterFactory = Callable[..., IngesterProcess]


@pytest.fixture
def make_ingester(
    mosquitto: LocalMosquitto, influxdb: LocalInfluxDB, influx_db_name: str, prefix: str, tmp_path: Path
) -> Iterator[IngesterFactory]:
    """Build (not start) ingesters on this test's prefix and database; any left running are killed at the end.

    One definition for the end-to-end and the fault-injection tests, so both start the ingester the same way.
    """
    made: list[IngesterProcess] = []

    def make(
        env: dict[str, str] | None = None,
        *,
        broker: LocalMosquitto | None = None,
        influx: LocalInfluxDB | None = None,
        client_id: str | None = None,
        registry_text: str = REGISTRY_YAML,
    ) -> IngesterProcess:
        ingester = IngesterProcess(
            tmp_path / f"ingester{len(made)}",
            mqtt_url=(broker or mosquitto).url,
            influx_url=(influx or influxdb).url,
            influx_db=influx_db_name,
            topic_prefix=prefix,
            client_id=client_id,
            registry_text=registry_text,
            env=env,
        )
        made.append(ingester)
        return ingester

    yield make
    for ingester in made:
        ingester.kill()


@pytest.fixture
def reader(influxdb: LocalInfluxDB, influx_db_name: str) -> InfluxReader:
    """Reads back what this test's ingesters wrote to its own database."""
    return InfluxReader(influxdb.url, influx_db_name)
