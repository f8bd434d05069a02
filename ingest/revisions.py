"""Revisions: a reading re-sent with other values for the same sensor and ts. Kept, because history must not be
rewritten unseen (issue 17); found on the ingest hot path without reading InfluxDB (the ingester may only write).

Storing every arrival as its own point and comparing them later cost 31 % of the drain rate (bench/ingest.py), so
the ingester remembers instead the last READINGS_PER_SENSOR readings of each sensor (ts -> values and arrival
time): a resend of one of them is compared on the spot. Identical values are a redelivery (nothing is written); other
values are a revision: a `revision` point with the old and the new values and both arrival times, while the
`reading` point takes the new values (figures use the latest). Memory is bounded: at most TRACKED_SENSORS sensors
(~2.5 KB each); past that the memory starts afresh. A resend of a reading older than what is remembered (or from
before the ingester started) cannot be compared: it is counted (`resends_unchecked`), not judged.
"""

from __future__ import annotations

from facmon.core import names
from facmon.core.lineproto import line
from sensors.contract import Reading

READINGS_PER_SENSOR = 16  # 4 hours at the contract's 15-minute heartbeat
TRACKED_SENSORS = 20_000
_FIELDS = ("occupancy", "entries", "exits", "uses")

Values = tuple[int | None, int | None, int | None, int | None, int]  # the four counts and the arrival (ns)


class RevisionWatch:
    """Remembers recent readings per sensor and turns changed resends into `revision` lines. MQTT thread only."""

    def __init__(self, per_sensor: int = READINGS_PER_SENSOR, sensors: int = TRACKED_SENSORS) -> None:
        self.per_sensor = per_sensor
        self.max_sensors = sensors
        self._recent: dict[tuple[str, str], dict[int, Values]] = {}
        self.revisions = 0
        self.redeliveries = 0
        self.unchecked = 0

    def check(self, readings: list[Reading], out: list[str]) -> None:
        """Remember `readings` (all of one message); append a revision line to `out` for each changed resend."""
        recent = self._recent
        for reading in readings:
            facility, sensor, ts_ns, received_ns, occupancy, entries, exits, uses, _seq, _over = reading
            key = (facility, sensor)
            seen = recent.get(key)
            if seen is None:
                if len(recent) >= self.max_sensors:
                    recent.clear()
                seen = recent[key] = {}
            before = seen.get(ts_ns)
            if before is None:
                if len(seen) >= self.per_sensor:
                    if ts_ns < next(iter(seen)):
                        self.unchecked += 1  # older than anything remembered of this sensor: cannot be compared
                        continue
                    del seen[next(iter(seen))]  # the first remembered (in a sensor's usual order, its oldest)
                seen[ts_ns] = (occupancy, entries, exits, uses, received_ns)
                continue
            if before[:4] == (occupancy, entries, exits, uses):
                self.redeliveries += 1
                continue
            self.revisions += 1
            seen[ts_ns] = (occupancy, entries, exits, uses, received_ns)
            out.append(revision_line(reading, before))


def revision_line(reading: Reading, before: Values) -> str:
    """`revision,facility,sensor` at the reading's ts: old_* and new_* counts, both arrival times in ms."""
    fields: dict[str, int | None] = {}
    for index, name in enumerate(_FIELDS):
        fields[f"old_{name}"] = before[index]
        fields[f"new_{name}"] = reading[4 + index]  # type: ignore[assignment]
    fields["old_received_ms"] = before[4] // 1_000_000
    fields["new_received_ms"] = reading.received_ns // 1_000_000
    return line(names.REVISION, {"facility": reading.facility, "sensor": reading.sensor},
                {k: v for k, v in fields.items() if v is not None}, reading.ts_ns)
