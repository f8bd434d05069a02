"""Batching and acknowledge-after-write: the ingester's guarantee that an acknowledged reading is stored.

The MQTT thread parses each message and appends its points and its acknowledgement token to the open batch.
A batch is sealed when it is full or `flush_interval` old and handed to the writer thread through a queue of
at most `max_sealed` batches. The writer retries InfluxDB until the write succeeds, and only then releases the
batch's tokens for acknowledgement, in arrival order. While InfluxDB is down the queue fills, the MQTT thread
waits, the broker's in-flight window fills, and the broker holds everything else in the session queue: memory
stays bounded by (max_sealed + 1) x batch_size points plus the in-flight window.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, tzinfo

from facmon.core.influx import (
    InfluxAuthError,
    InfluxDatabaseMissing,
    InfluxError,
    InfluxRejected,
    InfluxUnavailable,
)
from facmon.core.lineproto import line
from facmon.core.names import INGEST_STATS
from ingest.notices import RetainedNotices, notice_body
from ingest.points import ReadingEncoder, refusal_line, status_line
from ingest.revisions import RevisionWatch
from sensors.attribution import route
from sensors.contract import (
    NOTICE_ITEMS,
    Refusal,
    RefusalReason,
)
from sensors.parse import MessageParser

log = logging.getLogger(__name__)

Writer = Callable[[bytes], None]
Acker = Callable[[list[int]], None]
#: Publishes a notice (topic, body, retain); False when it was dropped (the notice queue was full).
Notifier = Callable[[str, bytes, bool], bool]


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
    notices_dropped: int = 0
    points_not_stored: int = 0  # points InfluxDB answered as dropped (partial write), readings or not
    unattributed: int = 0  # refused messages no facility can be held to: answered on the operators' topic only


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
        zones: Mapping[str, tzinfo] | None = None,
    ) -> None:
        """`zones`: each facility's time zone, in which notices show a refused reading's ts."""
        self.parser = parser
        self.zones: Mapping[str, tzinfo] = zones or {}
        #: Recent readings per sensor, to record a changed resend as a revision (issue 17).
        self.revisions = RevisionWatch()
        #: Sensors whose last notice is retained on the broker, cleared by their next accepted message.
        self.retained = RetainedNotices()
        self._now_ns = clock_ns  # facmon.core.clock's: FACMON_NOW pins it for tests
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
        #: Facilities that delivered a reading or a status since the silence watch last took the set.
        self.heard: set[str] = set()
        #: Called with the topic of each ignored message (facmon's own topics: probes are among them).
        self.on_ignored: Callable[[str], None] | None = None

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
        if parsed.readings:
            self.revisions.check(parsed.readings, lines)
        if parsed.status is not None:
            lines.append(status_line(parsed.status))
        refusals = parsed.refusals
        if refusals:
            self._refused(topic, payload, refusals, received, lines)
        elif self.retained and parsed.readings and parsed.topic is not None:
            self._clear_notice(parsed.topic.facility, parsed.topic.sensor)
        elif parsed.ignored and self.on_ignored is not None:
            self.on_ignored(topic)
        if (parsed.readings or parsed.status is not None) and parsed.topic is not None:
            self.heard.add(parsed.topic.facility)
        counters = self.counters
        counters.received += not parsed.ignored
        counters.readings_accepted += len(parsed.readings)
        counters.statuses += parsed.status is not None
        counters.ignored += parsed.ignored
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

    def _refused(self, topic: str, payload: bytes, refusals: list[Refusal], received: int, lines: list[str]) -> None:
        """Count, record and answer a message's refusals: each on its own, or, past NOTICE_ITEMS, in one summary.

        A batch of 1,000 bad readings once made 1,000 notices and 1,000 points (issue 19); now it makes one notice
        and one point per reason (with its count), while the counters still count every refused reading.
        """
        where = route(self.parser.grammar, topic, refusals[0], self.parser.capacities)
        if where.facility is None:
            self.counters.unattributed += 1
        elif refusals[0].facility is None:  # a topic mistake under a known facility: its integrator's
            refusals = [replace(r, facility=where.facility, sensor=where.sensor) for r in refusals]
        known = where.facility is not None
        refused = self.counters.refused
        for refusal in refusals:
            refused[refusal.reason.value] += 1
        if len(refusals) <= NOTICE_ITEMS:
            for offset, refusal in enumerate(refusals):
                lines.append(refusal_line(refusal, known, received + offset))
                self._send_notice(where.topic, where.facility, where.sensor,
                                  self._notice(topic, payload, refusal, received))
            self._clock_ns = received + len(refusals)
            return
        by_reason: dict[str, list[Refusal]] = {}
        for refusal in refusals:
            by_reason.setdefault(refusal.reason.value, []).append(refusal)
        for offset, group in enumerate(by_reason.values()):
            lines.append(refusal_line(group[0], known, received + offset, count=len(group)))
        self._clock_ns = received + len(by_reason)
        body = self._notice(topic, payload, refusals[0], received, summary=(refusals, by_reason))
        self._send_notice(where.topic, where.facility, where.sensor, body)

    def _send_notice(self, topic: str, facility: str | None, sensor: str | None, body: bytes) -> None:
        """Publish a notice; a sensor's is retained (while there is room) until its next accepted message."""
        retain = facility is not None and sensor is not None and self.retained.may_retain(facility, sensor)
        if self._notify(topic, body, retain) and retain:
            self.retained.retained(str(facility), str(sensor))

    def _clear_notice(self, facility: str, sensor: str) -> None:
        """The sensor's message was accepted: clear its retained notice (kept tracked if the clear was dropped)."""
        if (facility, sensor) not in self.retained:
            return
        if self._notify(self.parser.grammar.notice(facility, sensor), b"", True):
            self.retained.cleared(facility, sensor)

    def add_points(self, lines: list[str]) -> None:
        """Points of facmon's own (counters) that ride along with the next batch."""
        with self._cond:
            self._open.lines.extend(lines)

    def _notice(
        self,
        topic: str,
        payload: bytes,
        refusal: Refusal,
        received_ns: int,
        summary: tuple[list[Refusal], dict[str, list[Refusal]]] | None = None,
    ) -> bytes:
        zone = self.zones.get(refusal.facility) if refusal.facility else None
        return notice_body(topic, payload, refusal, received_ns, zone, summary)

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
                        log.warning("created the InfluxDB database: it had disappeared (dropped?)")
                        continue
                    except InfluxError as exc:
                        log.error("cannot create the InfluxDB database: %s; retrying in %.0f s", exc, delay)
            except InfluxRejected as exc:
                # Not retryable: InfluxDB stored the valid points of the batch and refused the rest.
                self.counters.write_rejected += 1
                log.error("InfluxDB refused part of a batch of %d points: %s", len(batch.lines), exc)
                not_stored = self._settle_partial_write(batch.lines, exc)
                self.counters.readings_written -= not_stored  # the batch's readings are added below
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

    def _settle_partial_write(self, lines: list[str], error: InfluxRejected) -> int:
        """Find which points InfluxDB dropped, refuse those readings with a notice; return how many readings.

        InfluxDB 1.x answers `partial write: … dropped=N` (e.g. past `max-series-per-database`) without saying
        which points. Writing is idempotent (the same line is the same point), so the batch is written again in
        halves, down to single lines, within PARTIAL_WRITE_BUDGET requests. Readings found are refused
        (`not_stored`) with a notice to their sensor; drops the budget could not place are counted as readings
        not stored, without a notice. None is ever counted as written.
        """
        found, unplaced = find_dropped(self._write, lines, dropped_count(error), PARTIAL_WRITE_BUDGET)
        readings = [line for line in found if line.startswith("reading,")]
        self.counters.points_not_stored += len(found) + unplaced
        not_stored = len(readings) + unplaced
        if not_stored:
            self.counters.refused[RefusalReason.NOT_STORED.value] += not_stored
        detail = f"InfluxDB did not store this reading: {error}"[:300]
        refusal_lines = []
        now = self._now_ns()
        for offset, text in enumerate(readings):
            facility, sensor, ts_ns = reading_identity(text)
            when = datetime.fromtimestamp(ts_ns / 1e9, UTC).isoformat(timespec="milliseconds")
            refusal = Refusal(RefusalReason.NOT_STORED, f"ts {when}: {detail}", None, facility, sensor)
            refusal_lines.append(refusal_line(refusal, facility in self.parser.capacities, now + offset))
            grammar = self.parser.grammar
            body = self._notice(grammar.reading(facility, sensor), b"", refusal, now)
            self._send_notice(grammar.notice(facility, sensor), facility, sensor, body)
        if unplaced:
            log.error("InfluxDB dropped %d more points that could not be singled out; counted as not stored", unplaced)
        self.add_points(refusal_lines)
        return not_stored

    # -- shutdown ----------------------------------------------------------------------------------------------
    def close(self, timeout: float = 60.0) -> bool:
        """Stop taking messages, write and acknowledge what was taken; False if the writer did not finish."""
        self._closing.set()
        with self._cond:
            self._cond.notify_all()
        return self._writer_done.wait(timeout)

    def stats_line(self, instance: str, stats_ts_ns: int, extra: Mapping[str, int] | None = None) -> str:
        c = self.counters
        fields: Mapping[str, int] = {
            "received": c.received,
            "readings_accepted": c.readings_accepted,
            "readings_written": c.readings_written,
            "refused": sum(c.refused.values()),
            "pending": self.pending_readings,
            "lag_ms": c.last_lag_ms,
            "write_retries": c.write_retries,
            "notices_dropped": c.notices_dropped,
            "unattributed": c.unattributed,
            "revisions": self.revisions.revisions,
            "resends_unchecked": self.revisions.unchecked,
            **(extra or {}),
        }
        return line(INGEST_STATS, {"instance": instance}, dict(fields), stats_ts_ns)


PARTIAL_WRITE_BUDGET = 64  # extra write requests to single out the points of one partial write
_DROPPED = re.compile(r"dropped=(\d+)")
_READING_ID = re.compile(r"[,]facility=([a-z0-9_-]+).*?[,]sensor=([a-z0-9_-]+)[, ].* (\d+)$")


def dropped_count(error: Exception) -> int | None:
    """N from InfluxDB's `partial write: … dropped=N`, or None when the answer does not say."""
    match = _DROPPED.search(str(error))
    return int(match.group(1)) if match else None


def reading_identity(text: str) -> tuple[str, str, int]:
    """Facility, sensor and ts of a reading line (ids are plain: checked before they became tags)."""
    match = _READING_ID.search(text)
    if match is None:
        raise ValueError(f"not a reading line: {text[:100]!r}")
    return match.group(1), match.group(2), int(match.group(3))


def find_dropped(write: Writer, lines: list[str], dropped: int | None, budget: int) -> tuple[list[str], int]:
    """Bisect `lines` by writing halves again: (lines InfluxDB drops, drops not singled out within `budget`)."""
    found: list[str] = []
    unplaced = 0
    pending: list[tuple[list[str], int | None]] = [(lines, dropped)]
    while pending:
        segment, count = pending.pop()
        if len(segment) == 1:
            found.append(segment[0])
            continue
        if budget < 2:
            unplaced += count or 0
            continue
        middle = len(segment) // 2
        for half in (segment[:middle], segment[middle:]):
            budget -= 1
            try:
                write(("\n".join(half) + "\n").encode("utf-8", "backslashreplace"))
            except InfluxRejected as exc:
                pending.append((half, dropped_count(exc)))
            except InfluxError as exc:
                log.warning("InfluxDB failed while singling out dropped points (%s)", exc)
                unplaced += dropped_count(exc) or 0
    return found, unplaced
