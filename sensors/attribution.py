"""Who a refused message belongs to, so its notice reaches a topic its integrator may read. Pure: no I/O.

The broker lets an integrator write only below its own facilities (facmon.access), so a topic mistake that still
names a facility of the registry — a wrong last level (`…/readings`), a sensor id with capitals, one level too
many or too few, or the facility id in capitals as printed on a label — came from that facility's integrator and
is answered where it may read: the sensor's notice topic when the sensor id is valid and the facility's own
`{prefix}/{facility}/_rejected` otherwise. Nothing else can be held to anyone: an unknown facility, a topic that
names no facility. Those go to the operators' topic and are counted (`unattributed`).
"""

from __future__ import annotations

from collections.abc import Container
from dataclasses import dataclass

from sensors.contract import Refusal, RefusalReason, TopicGrammar, is_valid_id


@dataclass(frozen=True, slots=True)
class Route:
    """Where a refusal's notice goes; `facility` is None when nobody but the operators can be told."""

    topic: str
    facility: str | None
    sensor: str | None


def _facility_of(grammar: TopicGrammar, topic: str, known: Container[str]) -> tuple[str, str | None] | None:
    """(facility, sensor or None) named by a topic under the prefix, case-folded; None if it names no known one."""
    head = grammar.prefix + "/"
    if not topic.startswith(head):
        return None
    parts = topic[len(head) :].split("/")
    facility = parts[0].lower() if parts[0].isascii() else parts[0]
    if not is_valid_id(facility) or facility not in known:
        return None
    sensor = parts[1] if len(parts) == 3 and is_valid_id(parts[1]) else None
    return facility, sensor


def route(grammar: TopicGrammar, topic: str, refusal: Refusal, known: Container[str]) -> Route:
    """The notice topic of `refusal` (from a message on `topic`) for the facilities in `known`."""
    if refusal.reason is RefusalReason.UNKNOWN_FACILITY:
        return Route(grammar.unparseable_notice_topic, None, None)
    if refusal.facility is not None and refusal.sensor is not None:
        if refusal.facility in known:
            return Route(grammar.notice(refusal.facility, refusal.sensor), refusal.facility, refusal.sensor)
        return Route(grammar.unparseable_notice_topic, None, None)
    found = _facility_of(grammar, topic, known)
    if found is None:
        return Route(grammar.unparseable_notice_topic, None, None)
    facility, sensor = found
    if sensor is not None:
        return Route(grammar.notice(facility, sensor), facility, sensor)
    return Route(grammar.facility_notice(facility), facility, None)
