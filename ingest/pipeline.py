"""Batching and acknowledge-after-write: the ingester's guarantee that an acknowledged reading is stored.

The MQTT thread parses each message and appends its points and its acknowledgement token to the open batch.
A batch is sealed when it is full or `flush_interval` old and handed to the writer thread through a queue of
at most `max_sealed` batches. The writer retries InfluxDB until the write succeeds, and only then releases the
batch's tokens for acknowledgement, in arrival order. While InfluxDB is down the queue fills, the MQTT thread
waits, the broker's in-flight window fills, and the broker holds everything else in the session queue: memory
stays bounded by (max_sealed + 1) x batch_size points plus the in-flight window.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from ingest.influx import (
    InfluxAuthError,
    InfluxDatabaseMissing,
    InfluxError,
    InfluxRejected,
    InfluxUnavailable,
)
from ingest.lineproto import ReadingEncoder, line, refusal_line, status_line
from sensors.contract import NOTICE_PAYLOAD_BYTES, Refusal, TopicGrammar
from sensors.parse import MessageParser

log = logging.getLogger(__name__)

Writer = Callable[[bytes], None]
Acker = Callable[[list[int]], None]
Notifier = Callable[[str, bytes], None]


@dataclass(slots=True)
class Batch:
    generation: int
    lines: list[str] = field(default_factory=list)
    tokens: list[int] = field(default_factory=list)
    readings: int = 0
    opened: float = field(default_factory=time.monotonic)
    first_received_ns: int = 0


@dataclass(slots=True)
class Counters:
    received: int = 0
    readings_accepted: int = 0
    readings_written: int = 0
    statuses: int = 0
    ignored: int = 0
    refused: Counter[str] = field(default_factory=Counter)
    write_retries: int = 0
    write_rejected: int = 0
    last_lag_ms: int = 0


class Pipeline:
    """Parse → batch → write → acknowledge. `submit` runs on the MQTT thread, `run_writer` on its own."""

    def __init__(
        self,
        parser: MessageParser,
        encoder: ReadingEncoder,
        write: Writer,
        ack: Acker,
        notify: Notifier,
        batch_size: int,
        flush_interval: float,
        create_database: Callable[[], None] | None = None,
        max_sealed: int = 2,
        clock_ns: Callable[[], int] = time.time_ns,
    ) -> None:
        self.parser = parser
        self._now_ns = clock_ns  # facmon.clock's: FACMON_NOW pins it for tests
        self.encoder = encoder
        self._write = write
        self._ack = ack
        self._notify = notify
        self._create_database = create_database
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        self.counters = Counters()
        self._generation = 0
        self.max_sealed = max_sealed
        self._cond = threading.Condition(threading.Lock())
        self._open = Batch(self._generation)
        self._sealed: deque[Batch] = deque()
        self._clock_ns = 0
        self._closing = threading.Event()
        self._writer_done = threading.Event()
        self._in_flight_readings = 0

    # -- MQTT thread -----------------------------------------------------------------------------------------
    def new_connection(self) -> None:
        """Tokens are only valid on the connection that delivered them: seal the batch of the old one."""
        with self._cond:
            self._generation += 1
            self._seal_locked()

    def submit(self, topic: str, payload: bytes, token: int | None, retained: bool = False) -> None:
        """Handle one MQTT message; `token` is its packet id to acknowledge, or None for QoS 0."""
        if self._closing.is_set():
            return  # not acknowledged: the broker redelivers it to the next session
        now = self._now_ns()
        received = self._clock_ns = max(now, self._clock_ns + 1)
        parsed = self.parser.parse(topic, payload, received, retained)
        lines: list[str] = [self.encoder.reading(r) for r in parsed.readings]
        if parsed.status is not None:
            lines.append(status_line(parsed.status))
        for offset, refusal in enumerate(parsed.refusals):
            known = refusal.facility is not None and refusal.facility in self.parser.capacities
            lines.append(refusal_line(refusal, known, received + offset))
            self._notify(*self._notice(topic, payload, refusal, received))
        if parsed.refusals:
            self._clock_ns = received + len(parsed.refusals)
        counters = self.counters
        counters.received += not parsed.ignored
        counters.readings_accepted += len(parsed.readings)
        counters.statuses += parsed.status is not None
        counters.ignored += parsed.ignored
        for refusal in parsed.refusals:
            counters.refused[refusal.reason.value] += 1
        with self._cond:
            batch = self._open
            if not batch.tokens and not batch.lines:
                batch.opened = time.monotonic()
                batch.first_received_ns = received
            batch.lines.extend(lines)
            batch.readings += len(parsed.readings)
            if token is not None:
                batch.tokens.append(token)
            if len(batch.lines) >= self.batch_size or len(batch.tokens) >= self.batch_size:
                self._seal_locked()
                # Back-pressure: while the writer is behind, stop reading; the broker holds the rest.
                while len(self._sealed) > self.max_sealed and not self._closing.is_set():
                    self._cond.wait(0.5)

    def add_points(self, lines: list[str]) -> None:
        """Points of facmon's own (counters) that ride along with the next batch."""
        with self._cond:
            self._open.lines.extend(lines)

    def _notice(self, topic: str, payload: bytes, refusal: Refusal, received_ns: int) -> tuple[str, bytes]:
        grammar: TopicGrammar = self.parser.grammar
        if refusal.facility and refusal.sensor:
            notice_topic = grammar.notice(refusal.facility, refusal.sensor)
        else:
            notice_topic = grammar.unparseable_notice_topic
        body = {
            "reason": refusal.reason.value,
            "detail": refusal.detail,
            "path": refusal.path,
            "topic": topic,
            "received": datetime.fromtimestamp(received_ns / 1e9, UTC).isoformat(timespec="milliseconds"),
            "payload": payload[:NOTICE_PAYLOAD_BYTES].decode("utf-8", "replace"),
        }
        return notice_topic, json.dumps(body, ensure_ascii=False).encode("utf-8", "backslashreplace")

    def _seal_locked(self) -> None:
        batch = self._open
        self._open = Batch(self._generation)
        if batch.lines or batch.tokens:
            self._in_flight_readings += batch.readings
            self._sealed.append(batch)
            self._cond.notify_all()

    @property
    def pending_readings(self) -> int:
        return self._in_flight_readings + self._open.readings

    # -- writer thread ---------------------------------------------------------------------------------------
    def run_writer(self) -> None:
        """Write sealed batches in order until close() has been called and everything is written."""
        try:
            while True:
                batch = self._next_batch()
                if batch is None:
                    return
                self._write_batch(batch)
        finally:
            self._writer_done.set()

    def _next_batch(self) -> Batch | None:
        with self._cond:
            while not self._sealed:
                batch = self._open
                waiting = batch.lines or batch.tokens
                if waiting and (self._closing.is_set() or time.monotonic() - batch.opened >= self.flush_interval):
                    self._seal_locked()
                    break
                if self._closing.is_set():
                    return None
                self._cond.wait(self.flush_interval / 2)
            batch = self._sealed.popleft()
            self._cond.notify_all()
            return batch

    def _write_batch(self, batch: Batch) -> None:
        body = ("\n".join(batch.lines) + "\n").encode("utf-8", "backslashreplace") if batch.lines else b""
        delay = 0.5
        while body:
            try:
                self._write(body)
                break
            except InfluxDatabaseMissing:
                if self._create_database is None:
                    log.error("InfluxDB database is missing and facmon may not create it; retrying in %.0f s", delay)
                else:
                    try:
                        self._create_database()
                        log.info("created the InfluxDB database")
                        continue
                    except InfluxError as exc:
                        log.error("cannot create the InfluxDB database: %s; retrying in %.0f s", exc, delay)
            except InfluxRejected as exc:
                # Not retryable: InfluxDB stored the valid points of the batch and refused the rest.
                self.counters.write_rejected += 1
                log.error("InfluxDB refused part of a batch of %d points: %s", len(batch.lines), exc)
                break
            except (InfluxUnavailable, InfluxAuthError) as exc:
                self.counters.write_retries += 1
                log.warning(
                    "InfluxDB write failed (%s); holding %d readings, retrying in %.1f s",
                    exc,
                    self.pending_readings,
                    delay,
                )
            time.sleep(delay)
            delay = min(delay * 2, 30.0)
        self.counters.readings_written += batch.readings
        self._in_flight_readings -= batch.readings
        if batch.first_received_ns:
            self.counters.last_lag_ms = (self._now_ns() - batch.first_received_ns) // 1_000_000
        if batch.tokens and batch.generation == self._generation:
            self._ack(batch.tokens)

    # -- shutdown ----------------------------------------------------------------------------------------------
    def close(self, timeout: float = 60.0) -> bool:
        """Stop taking messages, write and acknowledge what was taken; False if the writer did not finish."""
        self._closing.set()
        with self._cond:
            self._cond.notify_all()
        return self._writer_done.wait(timeout)

    def stats_line(self, instance: str, stats_ts_ns: int) -> str:
        c = self.counters
        fields: Mapping[str, int] = {
            "received": c.received,
            "readings_accepted": c.readings_accepted,
            "readings_written": c.readings_written,
            "refused": sum(c.refused.values()),
            "pending": self.pending_readings,
            "lag_ms": c.last_lag_ms,
            "write_retries": c.write_retries,
        }
        return line("ingest_stats", {"instance": instance}, dict(fields), stats_ts_ns)
