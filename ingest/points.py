"""The ingester's points: a reading, a sensor's status change, a refusal, as InfluxDB lines.

Schema (documented in docs/schema.md):
  reading        tags facility, region, sensor, type   fields occupancy/entries/exits/uses/seq (int),
                 arrival_delay_ms, received_ms (int), over_capacity (bool)      time = the sensor's ts
  sensor_status  tags facility, sensor                 fields online (bool)     time = received
  refusal        tags reason[, facility]               fields count (int), sensor, path[, unknown_facility] (str)
                                                        time = received
  ingest_stats   tags instance                          fields counters (int)   time = now
"""

from __future__ import annotations

from collections.abc import Mapping

from facmon.core.lineproto import FieldValue, line, series_key
from facmon.core.names import READINGS, REFUSAL, SENSOR_STATUS
from sensors.contract import Reading, Refusal, StatusChange

#: The encoder's series keys are kept up to this many bytes (an entry: its string plus ~250 bytes of tuple and slot).
SERIES_KEY_CACHE_BYTES = 8 * 1024 * 1024
_KEY_ENTRY_OVERHEAD = 250


class ReadingEncoder:
    """Encodes readings; the escaped series key of each (facility, sensor) is computed once and reused."""

    def __init__(self, facility_tags: Mapping[str, Mapping[str, str]]) -> None:
        self._facility_tags = facility_tags
        self._keys: dict[tuple[str, str], str] = {}
        self._key_bytes = 0

    def reading(self, reading: Reading) -> str:
        key = (reading.facility, reading.sensor)
        prefix = self._keys.get(key)
        if prefix is None:
            tags = dict(self._facility_tags.get(reading.facility, {}))
            tags["facility"] = reading.facility
            tags["sensor"] = reading.sensor
            prefix = series_key(READINGS, tags) + " "
            cost = len(prefix) + _KEY_ENTRY_OVERHEAD
            if self._key_bytes + cost > SERIES_KEY_CACHE_BYTES:
                self._keys.clear()
                self._key_bytes = 0
            self._keys[key] = prefix
            self._key_bytes += cost
        _, _, ts_ns, received_ns, occupancy, entries, exits, uses, seq, over_capacity = reading
        # One f-string: the ingester encodes every reading here, and a list of parts joined costs a third more.
        # received_ms is the receive time itself: per-slot aggregates keep it exact, where ts + mean delay is not.
        return (
            f"{prefix}"
            f"{'' if occupancy is None else f'occupancy={occupancy}i,'}"
            f"{'' if entries is None else f'entries={entries}i,'}"
            f"{'' if exits is None else f'exits={exits}i,'}"
            f"{'' if uses is None else f'uses={uses}i,'}"
            f"{'' if seq is None else f'seq={seq}i,'}"
            f"{'over_capacity=true,' if over_capacity else ''}"
            f"arrival_delay_ms={(received_ns - ts_ns) // 1_000_000}i,received_ms={received_ns // 1_000_000}i {ts_ns}"
        )


def status_line(change: StatusChange) -> str:
    return line(
        SENSOR_STATUS,
        {"facility": change.facility, "sensor": change.sensor},
        {"online": change.online},
        change.received_ns,
    )


def refusal_line(refusal: Refusal, known_facility: bool, ts_ns: int, count: int = 1) -> str:
    """Count a refusal (or `count` of one reason in one message); the facility becomes a tag only when the registry
    knows it (bounded cardinality)."""
    tags = {"reason": refusal.reason.value}
    if known_facility and refusal.facility:
        tags["facility"] = refusal.facility
    fields: dict[str, FieldValue] = {"count": count}
    if refusal.facility and not (known_facility and refusal.facility):
        fields["unknown_facility"] = refusal.facility[:64]  # a field, not a tag: unknown ids make no series
    if refusal.sensor:
        fields["sensor"] = refusal.sensor
    if refusal.path:
        fields["path"] = refusal.path[:200]
    return line(REFUSAL, tags, fields, ts_ns)
