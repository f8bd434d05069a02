"""Test helpers for end-to-end ingester tests: the real `facmon ingest` process, real MQTT, real InfluxDB.

- `IngesterProcess` runs `python -m facmon.cli ingest` with FACMON_* settings in its environment, logs to a file,
  and is stopped with SIGTERM (clean) or SIGKILL (crash);
- `Publisher` publishes at QoS 1 and waits for each PUBACK, so a message is in the broker when it returns;
- `NoticeListener` collects the refusal notices the ingester publishes;
- `InfluxReader` reads points back over InfluxDB's HTTP API (stdlib only, independent of ingest/influx.py);
- `wait_until` polls a condition with a timeout.
"""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

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
    return time.time_ns() // 1_000_000


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
        self._proc: subprocess.Popen[bytes] | None = None
        self._run_offset = 0

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self, wait_connected: bool = True, timeout: float = TIMEOUT) -> None:
        assert not self.running, "already running"
        self._run_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        base = {key: value for key, value in os.environ.items() if not key.upper().startswith("FACMON_")}
        with self.log_path.open("ab") as log:
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "facmon.cli", "ingest"],
                env={**base, **self.env},
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.workdir,
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


@dataclass(frozen=True)
class Notice:
    topic: str
    body: dict[str, Any]


class NoticeListener:
    """Subscribes to `{prefix}/#` and keeps every `.../rejected` and `_rejected` message as a Notice."""

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
        if message.topic.endswith("rejected"):
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

    def databases(self) -> set[str]:
        with suppress(KeyError, IndexError):
            return {row[0] for row in self.raw("SHOW DATABASES", database="")["results"][0]["series"][0]["values"]}
        return set()
