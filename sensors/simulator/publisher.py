"""The simulator's MQTT edge: one paho connection per virtual sensor, backfill and live publishing, progress.

Each sensor gets a connection of its own (client id `facmon-sim-<n>`) because a Last Will belongs to a
connection: the broker publishes that sensor's retained `offline` when it vanishes, and the sensor publishes a
retained `online` on every connect and a retained `offline` when it stops cleanly. Messages are QoS 1 with many
in flight; a window bounds how many are unacknowledged, so a long backfill cannot fill memory.
"""

from __future__ import annotations

import contextlib
import heapq
import select
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TextIO

import paho.mqtt.client as paho

from facmon.core.errors import FacmonError
from facmon.core.mqttclient import new_client
from facmon.core.settings import Settings
from sensors.contract import TopicGrammar
from sensors.simulator.simulate import HEARTBEAT, Message, SimSensor, messages

WINDOW = 20_000  # unacknowledged messages over all connections
INFLIGHT_PER_CLIENT = 200  # unacknowledged messages per connection
CONNECT_TIMEOUT = 15.0
KEEPALIVE = 30


class PublishError(FacmonError, RuntimeError):
    """The broker could not be reached, refused us, or stopped acknowledging."""


@dataclass(slots=True)
class Summary:
    """What a run published; `readings` counts every reading inside the reading messages."""

    readings: int = 0
    messages: int = 0
    bad: int = 0
    statuses: int = 0
    sensors: int = 0
    seconds: float = 0.0
    interrupted: bool = False

    def count(self, message: Message) -> None:
        self.messages += 1
        self.readings += len(message.readings)
        self.bad += message.kind == "bad"
        self.statuses += message.kind == "status"

    def line(self, mode: str) -> str:
        rate = self.messages / self.seconds if self.seconds > 0 else 0.0
        state = " (interrupted)" if self.interrupted else ""
        return (f"{mode}{state}: {self.readings:,} readings in {self.messages:,} messages ({self.bad:,} bad) from "
                f"{self.sensors} sensors in {self.seconds:.1f} s, {rate:,.0f} messages/s")


def bar(done: int, total: int, elapsed: float, width: int = 30, unit: str = "messages") -> str:
    """One progress line: bar, percentage, counts, rate, time left. Never past 100 %: acknowledgements of other
    messages (a sensor's `online` on a reconnect) may arrive while the bar counts, so `done` is capped at `total`."""
    done = max(0, min(done, total)) if total else done
    share = done / total if total else 1.0
    filled = min(width, int(share * width))
    rate = done / elapsed if elapsed > 0 else 0.0
    left = f"{(total - done) / rate:.0f} s left" if rate and done < total else ""
    return f"[{'#' * filled}{'.' * (width - filled)}] {share:6.1%} {done:,}/{total:,} {unit} {rate:,.0f}/s {left}"


class Progress:
    """A text bar on a terminal, redrawn in place at most ten times a second; silent when not a terminal."""

    def __init__(self, total: int, stream: TextIO | None = None, enabled: bool | None = None,
                 unit: str = "messages") -> None:
        self.stream, self.unit = stream or sys.stderr, unit
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self.total, self.started, self._drawn = total, time.monotonic(), 0.0

    def update(self, done: int, force: bool = False) -> None:
        now = time.monotonic()
        if self.enabled and (force or now - self._drawn >= 0.1):
            self._drawn = now
            self.stream.write("\r" + bar(done, self.total, now - self.started, unit=self.unit) + "\033[K")
            self.stream.flush()

    def finish(self, done: int) -> None:
        self.update(done, force=True)
        if self.enabled:
            self.stream.write("\n")


class Fleet:
    """One paho client per sensor, all driven from the calling thread: publishing writes straight to the socket
    and `pump` reads the acknowledgements. (paho's thread per client cost ~200 µs a message in hand-overs.)

    Not thread-safe: one thread publishes and pumps; other threads may only set the `stop` events it watches.
    """

    def __init__(self, settings: Settings, sensors: Sequence[SimSensor], client_prefix: str = "facmon-sim-") -> None:
        self.grammar = TopicGrammar(settings.topic_prefix)
        self.settings = settings
        self.sent = self.acked = 0
        self._refused: list[str] = []
        self._clients: dict[tuple[str, str], paho.Client] = {}
        self._topics: dict[tuple[str, str], tuple[str, str]] = {}
        self._retry: dict[paho.Client, tuple[float, float]] = {}  # client -> (next attempt, delay)
        self._misc_at = 0.0
        self._clients_up = False  # set once every client connected; lost connections are then retried
        self._waiting: dict[paho.Client, int] = {}  # unacknowledged messages per client
        for n, sensor in enumerate(sensors, start=1):
            key = (sensor.facility.id, sensor.sensor)
            reading, status = self.grammar.reading(*key), self.grammar.status(*key)  # validates both ids
            self._topics[key] = (reading, status)
            self._clients[key] = self._client(f"{client_prefix}{n}", status)

    def _client(self, client_id: str, status: str) -> paho.Client:
        client = new_client(self.settings, client_id, userdata=status)
        client.will_set(status, b"offline", qos=1, retain=True)
        client.max_inflight_messages_set(0)  # no limit in paho (which walks its list on every ack); see publish()
        client.max_queued_messages_set(0)
        client.on_connect = self._on_connect
        client.on_publish = self._on_publish
        return client

    def _on_connect(self, client: paho.Client, status: str, flags: Any, reason: Any, props: Any) -> None:
        if reason.is_failure:
            self._refused.append(str(reason))
            return
        self._retry.pop(client, None)
        self._send(client, status, b"online", retain=True)  # on every (re)connect

    def _on_publish(self, client: paho.Client, userdata: Any, mid: int, reason: Any, props: Any) -> None:
        self.acked += 1
        self._waiting[client] -= 1

    def _send(self, client: paho.Client, topic: str, payload: bytes, retain: bool = False) -> None:
        self.sent += 1
        self._waiting[client] = self._waiting.get(client, 0) + 1
        client.publish(topic, payload, qos=1, retain=retain)

    def connect(self, timeout: float = CONNECT_TIMEOUT) -> None:
        """Connect every sensor and wait for all CONNACKs; PublishError names the problem."""
        url = self.settings.mqtt
        for client in self._clients.values():
            try:
                client.connect(url.host, url.port, keepalive=KEEPALIVE)
            except (OSError, ValueError) as exc:
                self.drop()
                raise PublishError(f"cannot connect to {url.redacted()}: {exc}") from None
        deadline = time.monotonic() + timeout
        while not self._refused and time.monotonic() < deadline and not all(
                c.is_connected() for c in self._clients.values()):
            self.pump(0.05)
        connected = sum(c.is_connected() for c in self._clients.values())
        self._clients_up = not self._refused and connected == len(self._clients)
        if not self._clients_up:
            self.drop()
            why = f"refused the connection: {self._refused[0]}" if self._refused else \
                f"answered {connected} of {len(self._clients)} connections in {timeout:g} s"
            raise PublishError(f"broker {url.redacted()} {why}")

    def pump(self, timeout: float) -> None:
        """Wait up to `timeout` s for the sockets: read acknowledgements, send what is queued, keep alive."""
        poller, by_fd = select.poll(), {}
        for client in self._clients.values():
            sock = client.socket()
            if sock is not None:
                by_fd[sock.fileno()] = client
                poller.register(sock, select.POLLIN | (select.POLLOUT if client.want_write() else 0))
        if not by_fd:
            time.sleep(timeout)
        for fd, events in poller.poll(timeout * 1000) if by_fd else ():
            client = by_fd[fd]
            if events & (select.POLLIN | select.POLLERR | select.POLLHUP):
                client.loop_read(100)
            if events & select.POLLOUT and client.socket() is not None:
                client.loop_write()
        now = time.monotonic()
        if now >= self._misc_at:
            self._misc_at = now + 1.0
            for client in self._clients.values():
                client.loop_misc()
                if client.socket() is None and self._clients_up:
                    self._reconnect(client, now)

    def _reconnect(self, client: paho.Client, now: float) -> None:
        """Try again after 1, 2, 4 … 10 s, as paho's own loop would."""
        due, delay = self._retry.get(client, (now, 1.0))
        if now < due:
            return
        self._retry[client] = (now + delay, min(delay * 2, 10.0))  # until on_connect forgets it
        with contextlib.suppress(OSError, ValueError):
            client.reconnect()

    def publish(self, message: Message) -> None:
        """QoS 1; pumps while too many messages, in all or on this connection, wait for their acknowledgement."""
        key = (message.facility, message.sensor)
        client = self._clients[key]
        while self.sent - self.acked >= WINDOW or self._waiting.get(client, 0) >= INFLIGHT_PER_CLIENT:
            self.pump(0.05)
        if self.sent % 256 == 0:
            self.pump(0)  # take in acknowledgements as they come, not only when the window is full
        reading, status = self._topics[key]
        if message.kind == "status":
            self._send(client, status, message.payload, retain=True)
        else:
            self._send(client, reading, message.encode())

    def wait_acked(self, timeout: float, tick: Callable[[int], None] = lambda acked: None) -> bool:
        """Pump until the broker acknowledged everything sent; False on timeout."""
        deadline = time.monotonic() + timeout
        while self.acked < self.sent and time.monotonic() < deadline:
            self.pump(0.1)
            tick(self.acked)
        return self.acked >= self.sent

    def sleep(self, seconds: float, stop: threading.Event) -> bool:
        """Keep the connections alive for `seconds`; False if `stop` was set meanwhile."""
        deadline = time.monotonic() + seconds
        while not stop.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                return True
            self.pump(min(left, 0.5))
        return False

    def close(self, timeout: float = 10.0) -> None:
        """Say `offline` (retained) for every sensor, as its Last Will would, then disconnect cleanly."""
        for key, client in self._clients.items():
            if client.is_connected():
                self._send(client, self._topics[key][1], b"offline", retain=True)
        self.wait_acked(timeout)
        for client in self._clients.values():
            client.disconnect()
        self.drop()

    def drop(self) -> None:
        """Close every socket (a Last Will fires where no DISCONNECT was sent) and forget the clients."""
        self._clients_up = False
        for client in self._clients.values():
            sock = client.socket()
            if sock is not None:
                sock.close()
        self._clients.clear()


def backfill_messages(sensors: Sequence[SimSensor], seed: int, start: int, end: int, interval: int = HEARTBEAT,
                      bad_rate: float = 0.0) -> list[Message]:
    """What a backfill of [start, end) publishes, in order: every sensor's messages by send time (no status
    changes: they carry no time), then late_backfill's uploads of silent stretches, after all the rest, so the
    arrival order shows them as late as they are."""
    streams = [messages(s, seed, start, end, interval, bad_rate, upload_at=end) for s in sensors]
    merged = [m for m in heapq.merge(*streams, key=lambda m: m.send_at) if m.kind != "status"]
    return [m for m in merged if not m.late] + [m for m in merged if m.late]


def backfill(fleet: Fleet, sensors: Sequence[SimSensor], seed: int, start: int, end: int, *,
             interval: int = HEARTBEAT, bad_rate: float = 0.0, stop: threading.Event | None = None,
             progress: Progress | None = None) -> Summary:
    """Publish the sensors' readings of [start, end) with their historical ts as fast as the broker takes them."""
    began = time.monotonic()
    todo = backfill_messages(sensors, seed, start, end, interval, bad_rate)
    summary = Summary(sensors=len(sensors))
    bar_ = progress or Progress(len(todo))
    bar_.total = len(todo)
    base = fleet.acked

    def shown(acked: int) -> int:
        """This run's acknowledged messages: never more than it published (a reconnect's `online` is acked too)."""
        return min(acked - base, summary.messages)

    uploading = False
    for message in todo:
        if stop is not None and stop.is_set():
            summary.interrupted = True
            break
        if message.late and not uploading:  # the broker takes everything else before the uploads start
            fleet.wait_acked(120.0, lambda acked: bar_.update(shown(acked)))
            uploading = True
        fleet.publish(message)
        summary.count(message)
        bar_.update(shown(fleet.acked))
    done = fleet.wait_acked(120.0, lambda acked: bar_.update(shown(acked)))
    bar_.finish(shown(fleet.acked))
    if not done:
        raise PublishError(f"the broker acknowledged {fleet.acked - base:,} of {summary.messages:,} messages in 120 s")
    summary.seconds = time.monotonic() - began
    return summary


def sim_to_wall(sim: float, start: float, wall0: float, speed: float) -> float:
    """When (wall clock) the simulated clock reaches `sim`: it runs `speed` times faster from `start` at `wall0`
    until it has caught up with real time, and then at real time. It never runs ahead: the ingester refuses ts
    more than 5 minutes in the future."""
    return max(wall0 + (sim - start) / speed, sim)


def live(fleet: Fleet, sensors: Sequence[SimSensor], seed: int, start: float, *, speed: float = 1.0,
         interval: int = HEARTBEAT, bad_rate: float = 0.0, stop: threading.Event, until: float | None = None,
         status: Callable[[str], None] | None = None, clock: Callable[[], float] = time.time) -> Summary:
    """Publish each message when the simulated clock (from `start`) reaches its send time, until `stop` is set
    or the wall clock reaches `until`; generated a quarter hour at a time, so a run can last for months."""
    wall0 = clock()
    summary = Summary(sensors=len(sensors))

    def wait_for(sim: float) -> bool:
        due = sim_to_wall(sim, start, wall0, speed)
        if until is not None and due > until:
            fleet.sleep(until - clock(), stop)
            return False
        return fleet.sleep(due - clock(), stop)

    window, going = int(start), True
    while going:  # batches sent now keep what was measured since the run began, not only this quarter's
        chunk = heapq.merge(*(messages(s, seed, window, window + HEARTBEAT, interval, bad_rate,
                                       measured_from=int(start)) for s in sensors), key=lambda m: m.send_at)
        for message in chunk:
            going = wait_for(message.send_at)
            if not going:
                break
            fleet.publish(message)
            summary.count(message)
        else:
            window += HEARTBEAT
            if status is not None:
                status(f"simulated {time.strftime('%Y-%m-%d %H:%M', time.localtime(window))}: "
                       f"{summary.readings:,} readings in {summary.messages:,} messages")
            going = wait_for(window)
    fleet.wait_acked(30.0)
    summary.seconds = clock() - wall0
    summary.interrupted = stop.is_set()
    return summary
