"""The device contract: identifiers, limits, topic grammar and the values a parsed message becomes.

Everything here is pure data. Every other part of facmon (ingester, simulator, analytics, dashboards) takes its
topic names, limits and refusal reasons from this module, so the contract is written down once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import NamedTuple

from facmon.core.names import ACTIVITY_FIELDS as ACTIVITY_FIELDS
from facmon.core.names import COUNT_FIELDS as COUNT_FIELDS

ID_PATTERN = r"[a-z0-9][a-z0-9_-]{0,62}"
ID_RE = re.compile(ID_PATTERN)
RESERVED_FACILITY_IDS = frozenset({"alerts"})
PROBE_RE = re.compile(r"[a-z0-9]{8,32}")  # the nonce of a liveness probe (facmon check-config)

MAX_PAYLOAD_BYTES = 256 * 1024
#: The broker's packet limit (facmon.access): the payload limit plus room for the MQTT header, the topic (facmon's
#: longest is ~150 characters under a short prefix) and MQTT 5 properties. So a payload over MAX_PAYLOAD_BYTES but
#: within the packet limit still reaches the ingester and gets an `oversize` notice; a larger packet never reaches
#: it: the broker drops the connection (MQTT 5: DISCONNECT with reason code 0x95, "Packet too large").
PACKET_HEADROOM_BYTES = 4 * 1024
MAX_PACKET_BYTES = MAX_PAYLOAD_BYTES + PACKET_HEADROOM_BYTES
MAX_BATCH_ITEMS = 1000
MAX_COUNT = 100_000
MAX_SEQ = 2**63 - 1
MAX_FUTURE_SECONDS = 300
NOTICE_PAYLOAD_BYTES = 512
NOTICE_TOPIC_CHARS = 512  # a notice echoes at most this much of the topic it answers
NOTICE_ITEMS = 10  # a message with more refused readings gets one summary notice listing the first ones
READING_ERRORS = 8  # problems of one reading a notice lists, so an integrator fixes them in one round
STATUS_VALUES = ("online", "offline")


def is_valid_id(value: object) -> bool:
    """True for a facility or sensor id that may appear in a topic, a tag and a query."""
    return isinstance(value, str) and ID_RE.fullmatch(value) is not None


class MessageKind(StrEnum):
    READING = "reading"
    STATUS = "status"


class RefusalReason(StrEnum):
    """Why a message or one reading of a batch was refused; also the `reason` tag in InfluxDB."""

    BAD_TOPIC = "bad_topic"
    UNKNOWN_FACILITY = "unknown_facility"
    OVERSIZE = "oversize"
    BAD_ENCODING = "bad_encoding"
    BAD_JSON = "bad_json"
    BAD_SHAPE = "bad_shape"
    BATCH_TOO_LARGE = "batch_too_large"
    DUPLICATE_FIELD = "duplicate_field"
    UNKNOWN_FIELD = "unknown_field"
    MISSING_FIELD = "missing_field"
    WRONG_TYPE = "wrong_type"
    OUT_OF_RANGE = "out_of_range"
    BAD_TS = "bad_ts"
    TS_IN_FUTURE = "ts_in_future"
    TS_TOO_OLD = "ts_too_old"
    BAD_STATUS = "bad_status"
    TOO_MANY_SENSORS = "too_many_sensors"
    NOT_STORED = "not_stored"


class Reading(NamedTuple):
    """One accepted reading; `ts_ns` is the sensor's time, `received_ns` the ingester's.

    A NamedTuple rather than a frozen dataclass: the ingester makes tens of thousands a second, and a frozen
    dataclass's __init__ costs four times as much.
    """

    facility: str
    sensor: str
    ts_ns: int
    received_ns: int
    occupancy: int | None = None
    entries: int | None = None
    exits: int | None = None
    uses: int | None = None
    seq: int | None = None
    over_capacity: bool = False


@dataclass(frozen=True, slots=True)
class StatusChange:
    """A sensor said it is online or offline (or the broker said so through its Last Will)."""

    facility: str
    sensor: str
    online: bool
    received_ns: int


@dataclass(frozen=True, slots=True)
class Refusal:
    """A refused message, or one refused reading of a batch, with what the integrator needs to fix it."""

    reason: RefusalReason
    detail: str
    path: str | None = None
    facility: str | None = None
    sensor: str | None = None
    ts_ns: int | None = None  # the reading's ts as decoded, when it could be (the notice shows it as dates)
    more: tuple[Refusal, ...] = ()  # the same reading's further problems, up to READING_ERRORS in all


@dataclass(frozen=True, slots=True)
class Topic:
    """A parsed `{prefix}/{facility}/{sensor}/{kind}` topic."""

    facility: str
    sensor: str
    kind: MessageKind


class TopicGrammar:
    """Builds and reads facmon's topics under one prefix (e.g. `facmon/v1`)."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix.rstrip("/")
        self._head = self.prefix + "/"
        self._levels = self.prefix.count("/") + 1

    @property
    def subscription(self) -> str:
        return self._head + "#"

    @property
    def max_topic_length(self) -> int:
        """The longest topic facmon reads or writes: two ids of 63 characters and the longest last level."""
        return len(self._head) + 63 + 1 + 63 + 1 + len("rejected")

    @property
    def unparseable_notice_topic(self) -> str:
        """The operators' notice topic: refusals no facility can be held to (no integrator may read it)."""
        return self._head + "_rejected"

    def facility_notice(self, facility: str) -> str:
        """Where a topic mistake under a known facility is answered (its integrator may read it)."""
        if not is_valid_id(facility):
            raise ValueError(f"invalid facility id {facility!r}")
        return f"{self._head}{facility}/_rejected"

    def reading(self, facility: str, sensor: str) -> str:
        return self._build(facility, sensor, "reading")

    def status(self, facility: str, sensor: str) -> str:
        return self._build(facility, sensor, "status")

    def notice(self, facility: str, sensor: str) -> str:
        return self._build(facility, sensor, "rejected")

    def alert(self, facility: str) -> str:
        if not is_valid_id(facility):
            raise ValueError(f"invalid facility id {facility!r}")
        return f"{self._head}alerts/{facility}"

    @property
    def ingest_alert(self) -> str:
        """The ingester's operator alerts (silence); `_` cannot start a facility id, so no facility shares it."""
        return f"{self._head}alerts/_ingest"

    def probe(self, nonce: str) -> str:
        """Where `facmon check-config` asks whether an ingester's subscription is live."""
        if not PROBE_RE.fullmatch(nonce):
            raise ValueError(f"invalid probe nonce {nonce!r}")
        return f"{self._head}alerts/_probe/{nonce}"

    def probe_answer(self, nonce: str) -> str:
        return self.probe(nonce) + "/live"

    def probe_nonce(self, topic: str) -> str | None:
        """The nonce of a probe topic (not of its answer), or None."""
        head = self._head + "alerts/_probe/"
        if not topic.startswith(head):
            return None
        nonce = topic[len(head) :]
        return nonce if PROBE_RE.fullmatch(nonce) else None

    def _build(self, facility: str, sensor: str, kind: str) -> str:
        if not is_valid_id(facility) or not is_valid_id(sensor):
            raise ValueError(f"invalid facility or sensor id: {facility!r}, {sensor!r}")
        return f"{self._head}{facility}/{sensor}/{kind}"

    def is_own_output(self, topic: str) -> bool:
        """Notices and alerts that facmon itself publishes under the prefix, which the ingester ignores."""
        if not topic.startswith(self._head):
            return False
        rest = topic[len(self._head) :]
        if rest == "_rejected" or rest.startswith("alerts/"):
            return True
        parts = rest.split("/")
        return (len(parts) == 3 and parts[2] == "rejected") or (len(parts) == 2 and parts[1] == "_rejected")

    def parse(self, topic: str) -> Topic | Refusal:
        """Read a reading or status topic; anything else under the prefix is a bad_topic refusal."""
        if not topic.startswith(self._head):
            return Refusal(RefusalReason.BAD_TOPIC, f"topic is not under {self.prefix}/")
        parts = topic[len(self._head) :].split("/")
        if len(parts) != 3:
            return Refusal(
                RefusalReason.BAD_TOPIC,
                f"expected {self.prefix}/<facility_id>/<sensor_id>/reading or /status",
            )
        facility, sensor, kind = parts
        if not is_valid_id(facility):
            return Refusal(RefusalReason.BAD_TOPIC, f"facility id must match {ID_PATTERN}", path="topic")
        if not is_valid_id(sensor):
            return Refusal(RefusalReason.BAD_TOPIC, f"sensor id must match {ID_PATTERN}", path="topic")
        if kind == "reading":
            return Topic(facility, sensor, MessageKind.READING)
        if kind == "status":
            return Topic(facility, sensor, MessageKind.STATUS)
        return Refusal(RefusalReason.BAD_TOPIC, "last topic level must be 'reading' or 'status'", path="topic")
