"""parse(topic, payload) -> readings, refusals or a status change. Pure: no I/O, no clock, no paho.

Two decoders give the same answers. The fast one (orjson) handles the common case of flat, escape-free
objects; anything unusual — escapes, nesting, a JSON error, a possible duplicate key — goes to the exact
one (the standard library with a pairs hook), which names the precise problem. Duplicate keys are refused
because JSON leaves their meaning open and a sensor never needs them.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any

import orjson

from sensors.contract import (
    COUNT_FIELDS,
    MAX_BATCH_ITEMS,
    MAX_COUNT,
    MAX_FUTURE_SECONDS,
    MAX_PAYLOAD_BYTES,
    MAX_SEQ,
    READING_ERRORS,
    MessageKind,
    Reading,
    Refusal,
    RefusalReason,
    StatusChange,
    Topic,
    TopicGrammar,
)
from sensors.wording import duration, instant

ALLOWED_FIELDS = frozenset(("ts", "seq", *COUNT_FIELDS))
_RFC3339 = re.compile(
    r"(\d{4}-\d{2}-\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?([Zz]|[+-]\d{2}:\d{2})", re.ASCII
)
_MS_THRESHOLD = 100_000_000_000  # epoch numbers at or above this are milliseconds (seconds would be year 5138)
_NS = 1_000_000_000
_EPOCH_LIMIT = 1e15  # milliseconds of the year 33658: anything larger is garbage, not a time
_ORJSON_INT_LOW, _ORJSON_INT_HIGH = -(2.0**63), 2.0**64  # orjson: ints in [-2**63, 2**64), floats beyond


@dataclass(slots=True)
class Parsed:
    """What one MQTT message amounts to. `ignored` marks facmon's own notices and replayed retained status."""

    topic: Topic | None = None
    readings: list[Reading] = field(default_factory=list)
    refusals: list[Refusal] = field(default_factory=list)
    status: StatusChange | None = None
    ignored: bool = False


class _Pairs(list[tuple[str, Any]]):
    """A JSON object as the exact decoder saw it, keys in order and duplicates kept."""

    __slots__ = ()


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not a number JSON allows")


_UNSEEN: Any = object()
# Parsed topics are kept up to a budget in bytes (a sensor fleet reuses the same few thousand topics). Only topics
# short enough to be facmon's are kept: a 60 KB topic is a bad_topic every time, and caching such topics once cost
# ~61 KB an entry (issue 19). An entry costs its string plus ~250 bytes of dict slot and parsed Topic.
TOPIC_CACHE_BYTES = 8 * 1024 * 1024
_TOPIC_ENTRY_OVERHEAD = 250
_TS_CACHE_SIZE = 10_000  # RFC 3339 strings recur: sensors report on the same quarter-hours

_EXACT_DECODER = json.JSONDecoder(object_pairs_hook=_Pairs, parse_constant=_reject_constant)
# The standard decoder recurses per level, so whether ~1,000 levels decode depends on how deep the caller's own stack
# is (the ingester's MQTT thread, a test, a benchmark): without a limit of our own the same payload could be
# bad_json in one place and bad_shape in another. A reading needs 2 levels (an array of objects).
_MAX_NESTING = 64


class MessageParser:
    """Turns MQTT messages into readings or refusals for the facilities of a registry."""

    def __init__(
        self,
        grammar: TopicGrammar,
        capacities: Mapping[str, int],
        max_age_seconds: float,
        max_sensors: int | None = None,
    ) -> None:
        """`max_sensors`: distinct sensor ids accepted per facility (each makes InfluxDB series); None: no cap."""
        self.grammar = grammar
        self.capacities = capacities
        self.max_age_ns = int(max_age_seconds * _NS)
        self.max_sensors = max_sensors
        self._topics: dict[str, Topic | Refusal | None] = {}
        self._topic_bytes = 0
        self._cacheable = grammar.max_topic_length
        self._ts_cache: dict[str, int] = {}
        self._sensors: dict[str, set[str]] = {}

    @property
    def topic_cache_bytes(self) -> int:
        """What the topic cache holds, by the estimate its budget is kept with."""
        return self._topic_bytes

    def parse(self, topic: str, payload: bytes, received_ns: int, retained: bool = False) -> Parsed:
        where = self._topics.get(topic, _UNSEEN)
        if where is _UNSEEN:
            where = None if self.grammar.is_own_output(topic) else self.grammar.parse(topic)
            if len(topic) <= self._cacheable:
                cost = len(topic) + _TOPIC_ENTRY_OVERHEAD
                if self._topic_bytes + cost > TOPIC_CACHE_BYTES:
                    self._topics.clear()
                    self._topic_bytes = 0
                self._topics[topic] = where
                self._topic_bytes += cost
        if where is None:
            return Parsed(ignored=True)
        if isinstance(where, Refusal):
            return Parsed(refusals=[where])
        facility = where.facility
        if facility not in self.capacities:
            refusal = Refusal(
                RefusalReason.UNKNOWN_FACILITY,
                f"facility {facility!r} is not in the registry",
                path="topic",
                facility=facility,
                sensor=where.sensor,
            )
            return Parsed(topic=where, refusals=[refusal])
        if self.max_sensors is None:
            if where.kind is MessageKind.STATUS:
                return self._status(where, payload, received_ns, retained)
            return self._readings(where, payload, received_ns)
        sensors = self._sensors.get(facility)
        if sensors is None:
            sensors = self._sensors[facility] = set()
        new_sensor = where.sensor not in sensors
        if new_sensor and len(sensors) >= self.max_sensors:
            detail = (
                f"facility {facility!r} already has {self.max_sensors} sensor ids; a new one is refused "
                "(the operator can raise FACMON_MAX_SENSORS_PER_FACILITY)"
            )
            return Parsed(topic=where, refusals=[self._refusal(where, RefusalReason.TOO_MANY_SENSORS, detail, "topic")])
        if where.kind is MessageKind.STATUS:
            parsed = self._status(where, payload, received_ns, retained)
        else:
            parsed = self._readings(where, payload, received_ns)
        # Only what gets stored takes a place: refused messages from invented ids make no series.
        if new_sensor and (parsed.readings or parsed.status is not None):
            sensors.add(where.sensor)
        return parsed

    def _status(self, where: Topic, payload: bytes, received_ns: int, retained: bool) -> Parsed:
        if payload in (b"online", b"offline"):
            if retained:
                return Parsed(topic=where, ignored=True)
            change = StatusChange(where.facility, where.sensor, payload == b"online", received_ns)
            return Parsed(topic=where, status=change)
        refusal = self._refusal(where, RefusalReason.BAD_STATUS, "status payload must be 'online' or 'offline'")
        return Parsed(topic=where, refusals=[refusal])

    def _readings(self, where: Topic, payload: bytes, received_ns: int) -> Parsed:
        parsed = Parsed(topic=where)
        if len(payload) > MAX_PAYLOAD_BYTES:
            parsed.refusals.append(
                self._refusal(
                    where, RefusalReason.OVERSIZE, f"payload is {len(payload)} bytes; limit {MAX_PAYLOAD_BYTES}"
                )
            )
            return parsed
        items = self._fast_items(payload)
        if items is None:
            decoded = self._exact_items(where, payload)
            if isinstance(decoded, Refusal):
                parsed.refusals.append(decoded)
                return parsed
            items = decoded
        batch = len(items) > 1 or self._is_array(payload)
        for index, item in enumerate(items):
            path = f"[{index}]." if batch else ""
            result = self._check(where, item, path, received_ns)
            if isinstance(result, Refusal):
                parsed.refusals.append(result)
            else:
                parsed.readings.append(result)
        return parsed

    @staticmethod
    def _is_array(payload: bytes) -> bool:
        first = payload[:1]
        return first == b"[" or (first.isspace() and payload.lstrip()[:1] == b"[")

    def _fast_items(self, payload: bytes) -> list[Any] | None:
        """Decode with orjson when the payload is plain; None sends it to the exact decoder."""
        if b"\\" in payload:
            return None
        try:
            value = orjson.loads(payload)
        except orjson.JSONDecodeError:
            return None
        if type(value) is dict:
            items = [value]
        elif type(value) is list and 0 < len(value) <= MAX_BATCH_ITEMS:
            items = value
        else:
            return None
        strings = 0
        for item in items:
            if type(item) is not dict:
                return None
            strings += len(item)
            for key, v in item.items():
                kind = type(v)
                if kind is str:
                    strings += 1
                elif kind is dict or kind is list or (kind is float and key != "ts"):
                    # orjson reads integers beyond 64 bits as floats; the exact decoder keeps them integers.
                    return None
                elif kind is float and not _ORJSON_INT_LOW < v < _ORJSON_INT_HIGH:
                    return None  # orjson reads an integer beyond 64 bits as a float; it is out_of_range, not a float
        # Each key and string value shows as two quotes; more quotes than that means a key was repeated.
        if payload.count(b'"') != 2 * strings:
            return None
        return items

    def _exact_items(self, where: Topic, payload: bytes) -> list[Any] | Refusal:
        try:
            text = payload.decode("utf-8")
        except UnicodeDecodeError as exc:
            return self._refusal(where, RefusalReason.BAD_ENCODING, f"payload is not UTF-8 (byte {exc.start})")
        try:
            value = _EXACT_DECODER.decode(text)
        except json.JSONDecodeError as exc:
            return self._refusal(where, RefusalReason.BAD_JSON, f"invalid JSON: {exc.msg} at position {exc.pos}")
        except RecursionError:
            return self._refusal(where, RefusalReason.BAD_JSON, "invalid JSON: nested too deeply")
        except ValueError as exc:
            return self._refusal(where, RefusalReason.BAD_JSON, f"invalid JSON: {exc}")
        if _nested_deeper_than(value, _MAX_NESTING):
            return self._refusal(where, RefusalReason.BAD_JSON, "invalid JSON: nested too deeply")
        if _has_lone_surrogate(value):
            return self._refusal(where, RefusalReason.BAD_ENCODING, "payload has a lone UTF-16 surrogate escape")
        if isinstance(value, _Pairs):
            return [value]
        if type(value) is not list:
            return self._refusal(where, RefusalReason.BAD_SHAPE, "payload must be a JSON object or an array of them")
        if not value:
            return self._refusal(where, RefusalReason.BAD_SHAPE, "empty array")
        if len(value) > MAX_BATCH_ITEMS:
            return self._refusal(
                where, RefusalReason.BATCH_TOO_LARGE, f"array of {len(value)} readings; limit {MAX_BATCH_ITEMS}"
            )
        return value

    def _check(self, where: Topic, item: Any, path: str, received_ns: int) -> Reading | Refusal:
        """Accept a plain valid reading on a short path; anything doubtful gets the full check and its reason."""
        if type(item) is dict:
            get = item.get
            ts = get("ts")
            occupancy, entries, exits, uses, seq = (
                get("occupancy"),
                get("entries"),
                get("exits"),
                get("uses"),
                get("seq"),
            )
            present = 1
            for value in (occupancy, entries, exits, uses):
                if value is not None:
                    if type(value) is not int or not 0 <= value <= MAX_COUNT:
                        break
                    present += 1
            else:
                if seq is not None and type(seq) is int and 0 <= seq <= MAX_SEQ:
                    present += 1
                # Equal counts mean every key is known and non-null (null and unknown keys add to len(item)).
                if (
                    ts is not None
                    and present == len(item)
                    and (occupancy is not None or entries is not None or uses is not None)
                ):
                    ts_ns = self._ts_cache.get(ts) if type(ts) is str else None
                    if ts_ns is None:
                        converted = _ts_ns(ts)
                        if isinstance(converted, Refusal):
                            return self._refusal(where, converted.reason, converted.detail, path + "ts")
                        ts_ns = converted
                        if type(ts) is str:
                            if len(self._ts_cache) >= _TS_CACHE_SIZE:
                                self._ts_cache.clear()
                            self._ts_cache[ts] = ts_ns
                    if received_ns - self.max_age_ns <= ts_ns <= received_ns + MAX_FUTURE_SECONDS * _NS:
                        return Reading(
                            where.facility,
                            where.sensor,
                            ts_ns,
                            received_ns,
                            occupancy,
                            entries,
                            exits,
                            uses,
                            seq,
                            occupancy is not None and occupancy > self.capacities[where.facility],
                        )
        return self._check_fully(where, item, path, received_ns)

    def _check_fully(self, where: Topic, item: Any, path: str, received_ns: int) -> Reading | Refusal:
        """Check everything and name every problem (up to READING_ERRORS), the first being the refusal's reason.

        The order of the checks is the order of the reasons: a reading with a bad count and an old ts is refused
        as out_of_range, and its notice lists the ts too (issue 17: one round trip per mistake was too many).
        """
        problems: list[Refusal] = []

        def problem(reason: RefusalReason, detail: str, at: str | None, ts_ns: int | None = None) -> None:
            if len(problems) < READING_ERRORS:
                problems.append(Refusal(reason, detail, at or None, where.facility, where.sensor, ts_ns))

        if isinstance(item, _Pairs):
            seen: dict[str, Any] = {}
            for key, value in item:
                if key in seen:
                    problem(RefusalReason.DUPLICATE_FIELD, f"field {key!r} appears twice", path + key)
                seen[key] = value
            item = seen
        elif type(item) is not dict:
            return self._refusal(where, RefusalReason.BAD_SHAPE, "each reading must be a JSON object", path.rstrip("."))
        for key in sorted(item.keys() - ALLOWED_FIELDS):
            problem(
                RefusalReason.UNKNOWN_FIELD,
                f"unknown field {key!r}; allowed: {', '.join(sorted(ALLOWED_FIELDS))}",
                path + key,
            )
        if "ts" not in item:
            problem(RefusalReason.MISSING_FIELD, "ts is required", path + "ts")
        counts: dict[str, int | None] = dict.fromkeys(COUNT_FIELDS)
        for name in COUNT_FIELDS:
            if name in item:
                value = item[name]
                bad = _count_problem(value, MAX_COUNT)
                if bad is not None:
                    problem(bad[0], f"{name} {bad[1]}", path + name)
                else:
                    counts[name] = value
        if not any(name in item for name in ("occupancy", "entries", "uses")):
            problem(
                RefusalReason.MISSING_FIELD, "at least one of occupancy, entries, uses is required", path.rstrip(".")
            )
        seq = item.get("seq")
        if "seq" in item:
            bad = _count_problem(seq, MAX_SEQ)
            if bad is not None:
                problem(bad[0], f"seq {bad[1]}", path + "seq")
        ts_ns: int | None = None
        if "ts" in item:
            converted = _ts_ns(item["ts"])
            if isinstance(converted, Refusal):
                problem(converted.reason, converted.detail, path + "ts")
            else:
                ts_ns = converted
                if ts_ns > received_ns + MAX_FUTURE_SECONDS * _NS:
                    problem(
                        RefusalReason.TS_IN_FUTURE,
                        f"ts {instant(ts_ns)} is {duration((ts_ns - received_ns) / _NS)} ahead of the ingester's "
                        f"clock; at most {duration(MAX_FUTURE_SECONDS)} is allowed",
                        path + "ts",
                        ts_ns,
                    )
                elif ts_ns < received_ns - self.max_age_ns:
                    problem(
                        RefusalReason.TS_TOO_OLD,
                        f"ts {instant(ts_ns)} is {duration((received_ns - ts_ns) / _NS)} old; the maximum age is "
                        f"{duration(self.max_age_ns / _NS)} (FACMON_MAX_READING_AGE)",
                        path + "ts",
                        ts_ns,
                    )
        if problems:
            first = problems[0]
            return replace(first, ts_ns=ts_ns, more=tuple(replace(p, ts_ns=ts_ns) for p in problems[1:]))
        assert ts_ns is not None
        occupancy = counts["occupancy"]
        return Reading(
            facility=where.facility,
            sensor=where.sensor,
            ts_ns=ts_ns,
            received_ns=received_ns,
            occupancy=occupancy,
            entries=counts["entries"],
            exits=counts["exits"],
            uses=counts["uses"],
            seq=seq,
            over_capacity=occupancy is not None and occupancy > self.capacities[where.facility],
        )

    @staticmethod
    def _refusal(where: Topic, reason: RefusalReason, detail: str, path: str | None = None) -> Refusal:
        return Refusal(reason, detail, path or None, where.facility, where.sensor)


def _nested_deeper_than(value: object, limit: int) -> bool:
    """True if arrays and objects nest more than `limit` levels; iterative, so it cannot itself run out of stack."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, list):  # a JSON array, or an object as _Pairs of (key, value)
            if depth > limit:
                return True
            for element in item:
                child = element[1] if type(element) is tuple else element
                if isinstance(child, list):
                    stack.append((child, depth + 1))
    return False


def _has_lone_surrogate(value: object) -> bool:
    """True if a decoded string holds half a surrogate pair (valid JSON escape, but not encodable text)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if not item.isascii():
                try:
                    item.encode("utf-8")
                except UnicodeEncodeError:
                    return True
        elif isinstance(item, tuple | list):
            stack.extend(item)
    return False


def _count_problem(value: object, limit: int) -> tuple[RefusalReason, str] | None:
    if type(value) is not int:
        return RefusalReason.WRONG_TYPE, f"must be a JSON integer, not {_json_type(value)}"
    if value < 0 or value > limit:
        return RefusalReason.OUT_OF_RANGE, f"must be between 0 and {limit}"
    return None


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, dict | _Pairs):
        return "an object"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, float):
        return "a number with a fraction or exponent"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


@lru_cache(maxsize=4096)
def _day_start(day: str, offset: str) -> int | None:
    """Epoch seconds of 00:00 on `day` at `offset`, or None if there is no such day; days repeat, so cache."""
    try:
        return int(datetime.fromisoformat(f"{day}T00:00:00{offset}").timestamp())
    except ValueError:
        return None


def _ts_ns(value: object) -> int | Refusal:
    """RFC 3339 with an offset, or epoch seconds / milliseconds, as integer nanoseconds."""
    if type(value) is str:
        match = _RFC3339.fullmatch(value)
        if match is None:
            return Refusal(RefusalReason.BAD_TS, "ts must be RFC 3339 with an offset, e.g. 2025-11-27T10:15:00+08:00")
        day, hours, minutes, seconds, fraction, offset = match.groups()
        if offset in ("Z", "z"):
            offset = "+00:00"
        elif int(offset[4:6]) > 59:
            return Refusal(RefusalReason.BAD_TS, "ts has an impossible offset")
        start = _day_start(day, offset)
        if start is None or int(hours) > 23 or int(minutes) > 59 or int(seconds) > 59:
            return Refusal(RefusalReason.BAD_TS, "ts is not a real date and time")
        whole = (start + int(hours) * 3600 + int(minutes) * 60 + int(seconds)) * _NS
        return whole + int(fraction.ljust(9, "0")) if fraction else whole
    if type(value) is int:
        if abs(value) >= _EPOCH_LIMIT:
            return Refusal(RefusalReason.BAD_TS, "ts must be a finite epoch in seconds or milliseconds")
        return value * 1_000_000 if abs(value) >= _MS_THRESHOLD else value * _NS
    if type(value) is float:
        if not math.isfinite(value) or abs(value) >= _EPOCH_LIMIT:
            return Refusal(RefusalReason.BAD_TS, "ts must be a finite epoch in seconds or milliseconds")
        scale = 1_000_000 if abs(value) >= _MS_THRESHOLD else _NS
        # Scale the decimal the sensor wrote (the float's shortest repr), not its binary approximation:
        # 1795840410.123 * 1e9 in floats is ...122999808, a different point from the same ts in milliseconds.
        return round(Decimal(repr(value)) * scale)
    return Refusal(RefusalReason.WRONG_TYPE, f"ts must be a string or a number, not {_json_type(value)}")
