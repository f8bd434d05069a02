"""Reading streams for the fault tests, and the check that InfluxDB holds each of them exactly once.

Every reading of a stream has its own (facility, sensor, ts) and carries its index as `seq`, so a lost reading
is a missing seq, and a reading stored twice would be a second point with the same seq (impossible by design:
the same facility, sensor and ts make the same point — which is why the tests also count redeliveries).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from facmon.demo.localstack import SHIPPED_MOSQUITTO_CONF
from tests.integration.ingester import COMMUNITY, LIBRARY, InfluxReader, now_ms


def _shipped_inflight_window() -> int:
    for text in SHIPPED_MOSQUITTO_CONF.read_text(encoding="utf-8").splitlines():
        words = text.split()
        if words[:1] == ["max_inflight_messages"]:
            return int(words[1])
    raise AssertionError(f"{SHIPPED_MOSQUITTO_CONF} sets no max_inflight_messages")


#: max_inflight_messages in facmon/resources/facmon.conf; the crash test's bound on readings processed twice
#: (Mosquitto 2.0.11 does not itself keep the in-flight count to it: docs/reliability.md).
BROKER_INFLIGHT_WINDOW = _shipped_inflight_window()
_CHINA = timezone(timedelta(hours=8))


def reading_topic(prefix: str, facility: str, sensor: str) -> str:
    return f"{prefix}/{facility}/{sensor}/reading"


def stream_reading(i: int, start_ms: int, per_message: int = 1) -> tuple[str, str, int, bytes]:
    """(facility, sensor, ts in ms, JSON object) of reading `i`: ts formats vary as devices' do; seq is i.

    Readings are sent `per_message` to a message (a store-and-forward array when more than one), and the k-th
    message goes to facility k % 2, sensor s{(k // 2) % 50}.
    """
    k = i // per_message
    facility = (LIBRARY, COMMUNITY)[k % 2]
    sensor = f"s{(k // 2) % 50}"
    ts_ms = start_ms + i
    if i % 3 == 0:
        text = datetime.fromtimestamp(ts_ms / 1000, _CHINA).isoformat(timespec="milliseconds")
        ts = f'"{text}"'
    elif i % 3 == 1:
        ts = str(ts_ms)
    else:
        ts = f"{ts_ms // 1000}.{ts_ms % 1000:03d}"
    payload = f'{{"ts": {ts}, "occupancy": {i % 100}, "entries": {i % 7}, "seq": {i}}}'
    return facility, sensor, ts_ms, payload.encode()


@dataclass(frozen=True)
class Stream:
    start_ms: int
    readings: int
    per_message: int
    messages: list[tuple[str, bytes]]


def reading_stream(prefix: str, count: int, per_message: int = 1) -> Stream:
    """`count` valid readings over two facilities and 50 sensors each, ts one ms apart, ending an hour before
    now on the tests' pinned clock."""
    start = now_ms() - 3_600_000 - count
    messages = []
    for first in range(0, count, per_message):
        items = [stream_reading(i, start, per_message) for i in range(first, min(first + per_message, count))]
        facility, sensor = items[0][0], items[0][1]
        payload = items[0][3] if per_message == 1 else b"[" + b",".join(item[3] for item in items) + b"]"
        messages.append((reading_topic(prefix, facility, sensor), payload))
    return Stream(start, count, per_message, messages)


def count_readings(reader: InfluxReader) -> int:
    return int(reader.scalar('SELECT count("seq") FROM "reading"') or 0)


def assert_stored_exactly_once(reader: InfluxReader, stream: Stream) -> None:
    """InfluxDB holds one point per reading of the stream, at its own series and ts, and no other."""
    wanted = list(range(stream.readings))
    rows = reader.rows('SELECT "seq", "facility", "sensor" FROM "reading"')
    stored = sorted(int(row["seq"]) for row in rows)
    if stored != wanted:
        missing = sorted(set(wanted) - set(stored))
        extra = len(stored) - len(set(stored))
        raise AssertionError(
            f"{len(stored)} points for {len(wanted)} readings: {len(missing)} missing (first {missing[:10]}), "
            f"{extra} seq stored twice, {len(set(stored) - set(wanted))} unexpected"
        )
    keys = {(row["facility"], row["sensor"], row["time"]) for row in rows}
    assert len(keys) == len(rows), "two points share (facility, sensor, ts)"
    for row in rows:
        facility, sensor, ts_ms, _ = stream_reading(int(row["seq"]), stream.start_ms, stream.per_message)
        assert (row["facility"], row["sensor"], row["time"]) == (facility, sensor, ts_ms * 1_000_000), row
    total = int(reader.scalar('SELECT sum("seq") FROM "reading"') or 0)
    assert total == sum(wanted), "the per-reading seq sum differs"
