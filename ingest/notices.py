"""Refusal notices: what one says (enough to fix a device in one round) and which sensors have one retained.

A notice names every problem of the reading (up to READING_ERRORS), shows the reading's ts as dates — in UTC and
in the facility's time zone — and echoes the start of the topic and payload. The last notice of a sensor is
retained on its notice topic, so a device (or its integrator) that subscribes later still learns why it was
refused; the sensor's next accepted reading clears it (an empty retained message). Which sensors have a retained
notice is tracked here, bounded: past RETAINED_NOTICES sensors a notice is sent without being retained, so the
broker never holds more than RETAINED_NOTICES x ~2 KB (40 MB of its `memory_limit`) of them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, tzinfo

from sensors.contract import NOTICE_ITEMS, NOTICE_PAYLOAD_BYTES, NOTICE_TOPIC_CHARS, Refusal
from sensors.wording import instant

#: Sensors whose last notice the broker may hold retained at once (each notice is at most ~2 KB).
RETAINED_NOTICES = 20_000


def _problem(refusal: Refusal) -> dict[str, object]:
    return {"reason": refusal.reason.value, "detail": refusal.detail, "path": refusal.path}


def notice_body(
    topic: str,
    payload: bytes,
    refusal: Refusal,
    received_ns: int,
    zone: tzinfo | None = None,
    summary: tuple[Sequence[Refusal], Mapping[str, Sequence[Refusal]]] | None = None,
) -> bytes:
    """The JSON of one notice. `zone` is the facility's time zone (None when the facility is unknown)."""
    body: dict[str, object] = {
        "reason": refusal.reason.value,
        "detail": refusal.detail,
        "path": refusal.path,
        "topic": topic[:NOTICE_TOPIC_CHARS],
        "received": datetime.fromtimestamp(received_ns / 1e9, UTC).isoformat(timespec="milliseconds"),
        "payload": payload[:NOTICE_PAYLOAD_BYTES].decode("utf-8", "replace"),
    }
    if refusal.more:
        body["errors"] = [_problem(refusal), *map(_problem, refusal.more)]
    if refusal.ts_ns is not None:
        body["ts"] = {"utc": instant(refusal.ts_ns)}
        if zone is not None:
            body["ts"] = {"utc": instant(refusal.ts_ns), "local": instant(refusal.ts_ns, zone), "zone": str(zone)}
    if summary is not None:
        refusals, by_reason = summary
        counts = {reason: len(group) for reason, group in by_reason.items()}
        body["detail"] = (
            f"{len(refusals)} readings of this message were refused ("
            + ", ".join(f"{reason} {count}" for reason, count in counts.items())
            + f"); the first {NOTICE_ITEMS} are listed in 'refusals'"
        )
        body["path"] = None
        body["refused"] = len(refusals)
        body["reasons"] = counts
        body["refusals"] = [_problem(r) for r in refusals[:NOTICE_ITEMS]]
    return json.dumps(body, ensure_ascii=False).encode("utf-8", "backslashreplace")


class RetainedNotices:
    """The sensors whose last notice is retained on the broker, at most `limit` of them. MQTT thread only."""

    def __init__(self, limit: int = RETAINED_NOTICES) -> None:
        self.limit = limit
        self.sensors: set[tuple[str, str]] = set()

    def may_retain(self, facility: str, sensor: str) -> bool:
        """True if a notice for this sensor may be retained (it has one already, or there is room)."""
        return (facility, sensor) in self.sensors or len(self.sensors) < self.limit

    def retained(self, facility: str, sensor: str) -> None:
        self.sensors.add((facility, sensor))

    def cleared(self, facility: str, sensor: str) -> None:
        self.sensors.discard((facility, sensor))

    def __contains__(self, key: object) -> bool:
        return key in self.sensors

    def __bool__(self) -> bool:
        return bool(self.sensors)
