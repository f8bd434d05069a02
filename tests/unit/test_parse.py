"""MessageParser: every accepted form of a reading, and every refusal with its reason and path.

The parser is pure, so every test passes the receive time explicitly: R is 2025-11-24T16:00:00Z.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from sensors.contract import (
    MAX_BATCH_ITEMS,
    MAX_COUNT,
    MAX_PAYLOAD_BYTES,
    MAX_SEQ,
    MessageKind,
    Reading,
    Refusal,
    RefusalReason,
    StatusChange,
    Topic,
    TopicGrammar,
)
from sensors.parse import MessageParser, Parsed

NS = 1_000_000_000
R_S = 1_764_000_000  # 2025-11-24T16:00:00Z
R = R_S * NS
MAX_AGE_S = 35 * 86400
CAPACITIES = {"lib": 10, "gym": 50}
GRAMMAR = TopicGrammar("facmon/v1")
TOPIC = "facmon/v1/lib/s1/reading"
STATUS = "facmon/v1/lib/s1/status"
WHERE = Topic("lib", "s1", MessageKind.READING)
TS = "2025-11-24T15:59:00Z"  # one minute before R
TS_NS = R - 60 * NS


@pytest.fixture
def parser() -> MessageParser:
    return MessageParser(GRAMMAR, CAPACITIES, MAX_AGE_S)


class ExactOnly(MessageParser):
    """The same parser with the fast decoder switched off, so every payload takes the exact path."""

    def _fast_items(self, payload: bytes) -> None:
        return None


def encode(payload: Any) -> bytes:
    if isinstance(payload, bytes):
        return payload
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


def parse(payload: Any, topic: str = TOPIC, received: int = R, retained: bool = False) -> Parsed:
    return MessageParser(GRAMMAR, CAPACITIES, MAX_AGE_S).parse(topic, encode(payload), received, retained)


def reading(ts_ns: int = TS_NS, facility: str = "lib", sensor: str = "s1", **fields: Any) -> Reading:
    return Reading(facility=facility, sensor=sensor, ts_ns=ts_ns, received_ns=R, **fields)


def only_refusal(payload: Any, topic: str = TOPIC, received: int = R, readings: int = 0) -> Refusal:
    result = parse(payload, topic, received)
    assert len(result.readings) == readings
    assert len(result.refusals) == 1, result.refusals
    return result.refusals[0]


def assert_refused(payload: Any, reason: RefusalReason, path: str | None, readings: int = 0) -> Refusal:
    refusal = only_refusal(payload, readings=readings)
    assert (refusal.reason, refusal.path) == (reason, path), refusal
    assert (refusal.facility, refusal.sensor) == ("lib", "s1")
    assert refusal.detail
    # The exact decoder alone gives the same answer.
    exact = ExactOnly(GRAMMAR, CAPACITIES, MAX_AGE_S).parse(TOPIC, encode(payload), R)
    assert exact.refusals == [refusal]
    assert len(exact.readings) == readings
    return refusal


# -- accepted readings ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ts", "ts_ns"),
    [
        ("2025-11-24T15:59:00Z", R - 60 * NS),
        ("2025-11-24t15:59:00z", R - 60 * NS),
        ("2025-11-24T15:59:00z", R - 60 * NS),
        ("2025-11-24 15:59:00Z", R - 60 * NS),
        ("2025-11-24T23:59:00+08:00", R - 60 * NS),
        ("2025-11-24T10:29:00-05:30", R - 60 * NS),
        ("2025-11-24T15:59:00+00:00", R - 60 * NS),
        ("2025-11-25T00:00:00+08:00", R),
        ("2025-11-24T15:59:00.5Z", R - 60 * NS + 500_000_000),
        ("2025-11-24T15:59:00.123Z", R - 60 * NS + 123_000_000),
        ("2025-11-24T15:59:00.123456Z", R - 60 * NS + 123_456_000),
        ("2025-11-24T15:59:00.1234567Z", R - 60 * NS + 123_456_700),
        ("2025-11-24T15:59:00.123456789Z", R - 60 * NS + 123_456_789),
        ("2025-11-24T15:59:00.000000001Z", R - 60 * NS + 1),
        ("2025-11-24T15:59:00.999999999Z", R - 60 * NS + 999_999_999),
        ("2025-11-24T23:59:00.987654321+08:00", R - 60 * NS + 987_654_321),
        ("2025-11-24T15:59:00.000Z", R - 60 * NS),
        (R_S - 60, R - 60 * NS),
        (R_S, R),
        (float(R_S - 60), R - 60 * NS),
        (R_S - 59.5, R - 59_500_000_000),
        (R_S - 59.75, R - 59_750_000_000),
        (R_S - 60 + 0.123, R - 60 * NS + 123_000_000),
        ((R_S - 60) * 1000 + 123.5, R - 60 * NS + 123_500_000),
        ((R_S - 60) * 1000, R - 60 * NS),
        ((R_S - 60) * 1000 + 123, R - 60 * NS + 123_000_000),
        (float((R_S - 60) * 1000), R - 60 * NS),
        (float((R_S - 60) * 1000 + 500), R - 60 * NS + 500_000_000),
    ],
)
def test_single_reading_each_ts_form(ts, ts_ns):
    result = parse({"ts": ts, "occupancy": 4})
    assert result.refusals == []
    assert result.readings == [reading(ts_ns=ts_ns, occupancy=4)]
    assert result.topic == WHERE
    assert result.status is None
    assert result.ignored is False


def test_epoch_float_is_the_decimal_the_sensor_wrote():
    """1763999940.123 s and 1763999940123 ms are the same instant, not 192 ns apart as float arithmetic gives."""
    in_seconds = parse(b'{"ts":1763999940.123,"occupancy":1}').readings[0].ts_ns
    in_ms = parse(b'{"ts":1763999940123,"occupancy":1}').readings[0].ts_ns
    assert in_seconds == in_ms == R - 60 * NS + 123_000_000
    assert parse(b'{"ts":1.763999940123e9,"occupancy":1}').readings[0].ts_ns == in_ms
    assert parse(b'{"ts":17639999401.23e-1,"occupancy":1}').readings[0].ts_ns == in_ms


def test_every_field():
    payload = {"ts": TS, "occupancy": 5, "entries": 3, "exits": 2, "uses": 1, "seq": 42}
    assert parse(payload).readings == [reading(occupancy=5, entries=3, exits=2, uses=1, seq=42)]


@pytest.mark.parametrize("field", ["occupancy", "entries", "uses"])
def test_one_activity_field_is_enough(field):
    assert parse({"ts": TS, field: 7}).readings == [reading(**{field: 7})]


def test_exits_with_an_activity_field():
    assert parse({"ts": TS, "exits": 2, "entries": 0}).readings == [reading(exits=2, entries=0)]


def test_range_limits_are_inclusive():
    payload = {"ts": TS, "occupancy": 0, "entries": MAX_COUNT, "exits": 0, "uses": MAX_COUNT, "seq": MAX_SEQ}
    assert parse(payload).readings == [
        reading(occupancy=0, entries=MAX_COUNT, exits=0, uses=MAX_COUNT, seq=MAX_SEQ, over_capacity=False)
    ]
    assert parse({"ts": TS, "uses": 1, "seq": 0}).readings == [reading(uses=1, seq=0)]


def test_key_order_and_whitespace_do_not_matter():
    payload = b' \n\t{ "seq" : 3 ,\r\n "occupancy":2, "ts":"2025-11-24T15:59:00Z" }\n '
    assert parse(payload).readings == [reading(occupancy=2, seq=3)]


def test_escaped_key_is_the_same_key():
    payload = b'{"ts":"2025-11-24T15:59:00Z","occ\\u0075pancy":6}'
    assert parse(payload).readings == [reading(occupancy=6)]


@pytest.mark.parametrize(
    ("facility", "occupancy", "over"),
    [("lib", 9, False), ("lib", 10, False), ("lib", 11, True), ("lib", MAX_COUNT, True), ("gym", 50, False)],
)
def test_over_capacity_only_above_capacity(facility, occupancy, over):
    result = parse({"ts": TS, "occupancy": occupancy}, topic=f"facmon/v1/{facility}/s1/reading")
    assert result.readings == [reading(facility=facility, occupancy=occupancy, over_capacity=over)]


def test_over_capacity_is_not_set_without_occupancy():
    result = parse({"ts": TS, "entries": 500, "uses": 500})
    assert result.readings[0].over_capacity is False


def test_batch_keeps_order():
    payload = [
        {"ts": R_S - 180, "occupancy": 1, "seq": 1},
        {"ts": R_S - 120, "occupancy": 2, "seq": 2},
        {"ts": R_S - 60, "occupancy": 3, "seq": 3},
    ]
    result = parse(payload)
    assert result.refusals == []
    assert result.readings == [
        reading(ts_ns=R - 180 * NS, occupancy=1, seq=1),
        reading(ts_ns=R - 120 * NS, occupancy=2, seq=2),
        reading(ts_ns=R - 60 * NS, occupancy=3, seq=3),
    ]


def test_batch_with_bad_readings_keeps_the_good_ones_in_order():
    payload = [
        {"ts": R_S - 240, "occupancy": 1},
        {"ts": R_S - 180, "uses": "2"},
        {"ts": R_S - 120, "entries": 3},
        {"ts": R_S - 100, "occupancy": 1, "temp": 20},
        "not an object",
        {"ts": R_S - 60, "uses": 4, "seq": 9},
        {"ts": R_S + 3600, "occupancy": 1},
    ]
    result = parse(payload)
    assert result.readings == [
        reading(ts_ns=R - 240 * NS, occupancy=1),
        reading(ts_ns=R - 120 * NS, entries=3),
        reading(ts_ns=R - 60 * NS, uses=4, seq=9),
    ]
    assert [(r.reason, r.path) for r in result.refusals] == [
        (RefusalReason.WRONG_TYPE, "[1].uses"),
        (RefusalReason.UNKNOWN_FIELD, "[3].temp"),
        (RefusalReason.BAD_SHAPE, "[4]"),
        (RefusalReason.TS_IN_FUTURE, "[6].ts"),
    ]
    assert all((r.facility, r.sensor) == ("lib", "s1") for r in result.refusals)


def test_single_item_batch_uses_indexed_paths():
    assert_refused([{"ts": TS, "occupancy": -1}], RefusalReason.OUT_OF_RANGE, "[0].occupancy")
    assert parse([{"ts": TS, "occupancy": 1}]).readings == [reading(occupancy=1)]


def test_batch_of_max_items_is_accepted():
    payload = [{"ts": R_S - 1000 + i % 600, "occupancy": i % 10, "seq": i} for i in range(MAX_BATCH_ITEMS)]
    result = parse(payload)
    assert result.refusals == []
    assert len(result.readings) == MAX_BATCH_ITEMS
    assert [r.seq for r in result.readings] == list(range(MAX_BATCH_ITEMS))
    assert result.readings[999] == reading(ts_ns=(R_S - 1000 + 999 % 600) * NS, occupancy=9, seq=999)


def test_batch_over_max_items_is_refused_whole():
    payload = [{"ts": R_S - 60, "occupancy": 1} for _ in range(MAX_BATCH_ITEMS + 1)]
    refusal = assert_refused(payload, RefusalReason.BATCH_TOO_LARGE, None)
    assert "1001" in refusal.detail


# -- refusals: size, encoding, JSON, shape ---------------------------------------------------------------------


def test_payload_at_size_limit_is_parsed():
    body = encode({"ts": TS, "occupancy": 1})
    payload = body + b" " * (MAX_PAYLOAD_BYTES - len(body))
    assert len(payload) == MAX_PAYLOAD_BYTES
    assert parse(payload).readings == [reading(occupancy=1)]


def test_oversize_payload_is_refused():
    body = encode({"ts": TS, "occupancy": 1})
    payload = body + b" " * (MAX_PAYLOAD_BYTES + 1 - len(body))
    refusal = assert_refused(payload, RefusalReason.OVERSIZE, None)
    assert str(MAX_PAYLOAD_BYTES + 1) in refusal.detail


def test_oversize_is_checked_before_decoding():
    assert_refused(b"\xff" * (MAX_PAYLOAD_BYTES + 1), RefusalReason.OVERSIZE, None)


@pytest.mark.parametrize(
    "payload",
    [
        b'{"ts":"2025-11-24T15:59:00Z","occupancy":1,"x":"\xff"}',
        b"\xff\xfe{}",
        b'{"ts":"2025-11-24T15:59:00Z","occupancy":1,"x":"\xed\xa0\x80"}',  # an encoded surrogate
        b'{"ts":"2025-11-24T15:59:00Z","occupancy":1,"x":"\xc0\xaf"}',  # overlong '/'
        b'{"ts":"2025-11-24T15:59:00Z","occupancy":1,"x":"\xe4\xb8"}',  # truncated multi-byte
        '{"ts":1,"x":"caf\xe9"}'.encode("latin-1"),
    ],
)
def test_invalid_utf8_is_bad_encoding(payload):
    assert_refused(payload, RefusalReason.BAD_ENCODING, None)


@pytest.mark.parametrize(
    "payload",
    [
        b"",
        b"   ",
        b'{"ts":"2025-11-24T15:59:00Z","occupancy":1',
        b'{"ts":"2025-11-24T15:59:00Z","occ',
        b'[{"ts":"2025-11-24T15:59:00Z","occupancy":1}',
        b'{"ts":"2025-11-24T15:59:00Z","occupancy":NaN}',
        b'{"ts":NaN,"occupancy":1}',
        b'{"ts":"2025-11-24T15:59:00Z","occupancy":Infinity}',
        b'{"ts":-Infinity,"occupancy":1}',
        b'{"ts":"2025-11-24T15:59:00Z","occupancy":1}x',
        b'{"ts":"2025-11-24T15:59:00Z","occupancy":1}{}',
        b'{"ts":"2025-11-24T15:59:00Z","occupancy":1,}',
        b"{'ts':1,'occupancy':1}",
        b"{ts:1,occupancy:1}",
        b'{"ts":1,"occupancy":01}',
        b'{"ts":1,"occupancy":0x1}',
        b'{"ts":1,"occupancy":1} // comment',
        b'{"ts":"a\tb","occupancy":1}',  # raw control character in a string
        b"\xef\xbb\xbf{}",  # byte order mark
        b"[" * 100_000,
        b"[" * 100_000 + b"]" * 100_000,
        b'{"a":' * 40_000 + b"1" + b"}" * 40_000,
        b'{"ts":1,"occupancy":[' + b"[" * 50_000 + b"]" * 50_000 + b"]}",
    ],
)
def test_invalid_json_is_bad_json(payload):
    assert_refused(payload, RefusalReason.BAD_JSON, None)


@pytest.mark.parametrize(
    "payload",
    [b'"reading"', b"42", b"4.5", b"null", b"true", b"false", b"[]", b" [ ] "],
)
def test_top_level_that_is_not_an_object_or_array_of_them_is_bad_shape(payload):
    assert_refused(payload, RefusalReason.BAD_SHAPE, None)


@pytest.mark.parametrize(
    ("payload", "path"),
    [
        (b"[1]", "[0]"),
        (b'["x"]', "[0]"),
        (b"[null]", "[0]"),
        (b"[[]]", "[0]"),
        (b'[[{"ts":1,"occupancy":1}]]', "[0]"),
    ],
)
def test_array_element_that_is_not_an_object_is_bad_shape(payload, path):
    assert_refused(payload, RefusalReason.BAD_SHAPE, path)


def test_bad_element_among_good_ones_is_bad_shape_at_its_index():
    result = parse(b'[{"ts":"2025-11-24T15:59:00Z","occupancy":1},[1],true]')
    assert result.readings == [reading(occupancy=1)]
    assert [(r.reason, r.path) for r in result.refusals] == [
        (RefusalReason.BAD_SHAPE, "[1]"),
        (RefusalReason.BAD_SHAPE, "[2]"),
    ]


# -- refusals: fields ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "path"),
    [
        (b'{"ts":"2025-11-24T15:59:00Z","occupancy":1,"occupancy":2}', "occupancy"),
        (b'{"ts":"2025-11-24T15:59:00Z","occupancy":1,"occupancy":1}', "occupancy"),
        (b'{"ts":"2025-11-24T15:59:00Z","ts":"2025-11-24T15:59:00Z","uses":1}', "ts"),
        (b'{"ts":1764000000,"uses":1,"seq":1,"seq":2}', "seq"),
        (b'{"ts":1764000000,"uses":1,"u\\u0073es":2}', "uses"),
        (b'{"ts":1764000000,"x":1,"x":2}', "x"),
        (
            b'[{"ts":1764000000,"uses":1},{"ts":1764000000,"entries":1,"entries":1}]',
            "[1].entries",
        ),
    ],
)
def test_duplicate_field(payload, path):
    assert_refused(payload, RefusalReason.DUPLICATE_FIELD, path, readings=int(payload.startswith(b"[")))


def test_duplicate_only_refuses_its_own_reading_in_a_batch():
    payload = b'[{"ts":1763999940,"uses":1},{"ts":1763999940,"uses":1,"uses":2},{"ts":1763999940,"uses":3}]'
    result = parse(payload)
    assert result.readings == [reading(uses=1), reading(uses=3)]
    assert [(r.reason, r.path) for r in result.refusals] == [(RefusalReason.DUPLICATE_FIELD, "[1].uses")]


@pytest.mark.parametrize(
    ("payload", "path"),
    [
        ({"ts": TS, "occupancy": 1, "temp": 20}, "temp"),
        ({"ts": TS, "occupancy": 1, "Occupancy": 1}, "Occupancy"),
        ({"ts": TS, "occupancy": 1, "zeta": 1, "alpha": 1}, "alpha"),
        ({"ts": TS, "occupancy": 1, "": 1}, None),
        ({"ts": TS, "occupancy": 1, "人数": 1}, "人数"),
        ({"occupancy": 1, "time": TS}, "time"),
        ([{"ts": TS, "uses": 1}, {"ts": TS, "uses": 1, "battery": 90}], "[1].battery"),
    ],
)
def test_unknown_field(payload, path):
    refusal = assert_refused(payload, RefusalReason.UNKNOWN_FIELD, path, readings=int(path == "[1].battery"))
    assert "allowed: entries, exits, occupancy, seq, ts, uses" in refusal.detail


@pytest.mark.parametrize(
    ("payload", "path"),
    [
        ({"occupancy": 1}, "ts"),
        ({}, "ts"),
        ([{"ts": TS, "uses": 1}, {"uses": 1}], "[1].ts"),
        ({"ts": TS}, None),
        ({"ts": TS, "exits": 3}, None),
        ({"ts": TS, "exits": 3, "seq": 1}, None),
        ([{"ts": TS, "exits": 3}], "[0]"),
        ([{"ts": TS, "uses": 1}, {"ts": TS, "exits": 3}], "[1]"),
    ],
)
def test_missing_field(payload, path):
    assert_refused(
        payload, RefusalReason.MISSING_FIELD, path, readings=int(path is not None and path.startswith("[1]"))
    )


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("occupancy", "3"),
        ("occupancy", True),
        ("occupancy", False),
        ("occupancy", 3.0),
        ("occupancy", 3.5),
        ("occupancy", 1e2),
        ("occupancy", None),
        ("occupancy", [3]),
        ("occupancy", {"n": 3}),
        ("entries", "1"),
        ("exits", 2.0),
        ("uses", None),
        ("seq", "1"),
        ("seq", 1.0),
        ("seq", True),
        ("seq", None),
    ],
)
def test_count_of_wrong_type(field, value):
    payload = {"ts": TS, "occupancy": 1, field: value}
    refusal = assert_refused(payload, RefusalReason.WRONG_TYPE, field)
    assert refusal.detail.startswith(f"{field} must be a JSON integer")


def test_wrong_type_in_a_batch_has_indexed_path():
    assert_refused([{"ts": TS, "uses": 1}, {"ts": TS, "uses": "1"}], RefusalReason.WRONG_TYPE, "[1].uses", readings=1)


@pytest.mark.parametrize("value", [True, False, None, {}, {"s": 1}, [], [R_S]])
def test_ts_of_wrong_type(value):
    assert_refused({"ts": value, "occupancy": 1}, RefusalReason.WRONG_TYPE, "ts")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("3", "a string"),
        (True, "a boolean"),
        (3.0, "a number with a fraction or exponent"),
        (None, "null"),
        ([1], "an array"),
    ],
)
def test_wrong_type_detail_names_the_json_type(value, expected):
    refusal = only_refusal({"ts": TS, "occupancy": value})
    assert refusal.detail == f"occupancy must be a JSON integer, not {expected}"


@pytest.mark.parametrize(
    ("field", "prefix"), [("occupancy", "occupancy must be a JSON integer"), ("ts", "ts must be a string or a number")]
)
def test_wrong_type_detail_calls_an_object_an_object(field, prefix):
    payload = {"ts": TS, "occupancy": 1, field: {"n": 1}}
    refusal = only_refusal(payload)
    assert refusal.reason is RefusalReason.WRONG_TYPE
    assert refusal.detail == f"{prefix}, not an object"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("occupancy", -1),
        ("occupancy", MAX_COUNT + 1),
        ("entries", -1),
        ("exits", MAX_COUNT + 1),
        ("uses", -5),
        ("uses", 10**9),
        ("seq", -1),
        ("seq", MAX_SEQ + 1),
    ],
)
def test_out_of_range(field, value):
    refusal = assert_refused({"ts": TS, "occupancy": 1, field: value}, RefusalReason.OUT_OF_RANGE, field)
    assert refusal.detail.startswith(f"{field} must be between 0 and ")


@pytest.mark.parametrize(
    ("payload", "reason", "path"),
    [
        (b'{"ts":1763999940,"occupancy":18446744073709551615}', RefusalReason.OUT_OF_RANGE, "occupancy"),
        (b'{"ts":1763999940,"occupancy":18446744073709551616}', RefusalReason.OUT_OF_RANGE, "occupancy"),
        (b'{"ts":1763999940,"occupancy":-9223372036854775808}', RefusalReason.OUT_OF_RANGE, "occupancy"),
        (b'{"ts":1763999940,"occupancy":-9223372036854775809}', RefusalReason.OUT_OF_RANGE, "occupancy"),
        (b'{"ts":1763999940,"occupancy":1,"seq":100000000000000000000}', RefusalReason.OUT_OF_RANGE, "seq"),
        (b'{"ts":1763999940,"occupancy":1,"seq":9223372036854775808}', RefusalReason.OUT_OF_RANGE, "seq"),
        (b'{"ts":18446744073709551616,"occupancy":1}', RefusalReason.BAD_TS, "ts"),
        (b'{"ts":-18446744073709551616,"occupancy":1}', RefusalReason.BAD_TS, "ts"),
        (b'{"ts":1e19,"occupancy":1}', RefusalReason.BAD_TS, "ts"),
    ],
)
def test_huge_integers_get_the_same_answer_from_both_decoders(payload, reason, path):
    """orjson reads integers beyond 64 bits as floats; the parser must still call them integers."""
    assert_refused(payload, reason, path)


@pytest.mark.parametrize(
    "value",
    [
        "2025-11-24",
        "2025-11-24T15:59:00",
        "2025-11-24T15:59:00.5",
        "2025-11-24T15:59Z",
        "2025-11-24T15:59:00+0800",
        "2025-11-24T15:59:00+08",
        "2025-11-24T15:59:00 Z",
        "2025-11-24T15:59:00.Z",
        "2025-11-24T15:59:00.1234567890Z",
        "2025-11-24T15:59:00,5Z",
        "2025-11-24T15:59:00UTC",
        " 2025-11-24T15:59:00Z",
        "2025-11-24T15:59:00Z ",
        "2025-11-24T15:59:00Z\n",
        "20251124T155900Z",
        "2025-13-01T00:00:00Z",
        "2025-02-30T00:00:00Z",
        "2025-11-24T24:00:00Z",
        "2025-11-24T15:60:00Z",
        "2025-11-24T23:59:60Z",
        "2025-11-24T15:59:00+25:00",
        "٢٠٢٥-11-24T15:59:00Z",
        "2025-11-24T15:59:00+٠٨:00",
        "2025-11-24T15:59:00+08:60",
        "2025-11-24T15:59:00+24:00",
        "yesterday",
        "",
        "1763999940",
        1e16,
        -1e16,
        1e15,
        10**15,
        -(10**15),
        10**16,
        10**30,
    ],
)
def test_bad_ts(value):
    refusal = assert_refused({"ts": value, "occupancy": 1}, RefusalReason.BAD_TS, "ts")
    assert refusal.detail.startswith("ts ")


@pytest.mark.parametrize(
    "value",
    [
        "2025-11-24T١٥:59:00Z",  # Arabic-Indic hour
        "2025-11-24T15:٥٩:00Z",
        "2025-11-24T15:59:٠٠Z",
        "2025-11-24T15:59:00.٥Z",  # Arabic-Indic fraction
        "2025-11-24T１５:59:00Z",  # fullwidth digits
    ],
)
def test_non_ascii_digits_are_bad_ts(value):
    assert_refused({"ts": value, "occupancy": 1}, RefusalReason.BAD_TS, "ts")


def test_bad_ts_literal_1e400():
    assert_refused(b'{"ts":1e400,"occupancy":1}', RefusalReason.BAD_TS, "ts")
    assert_refused(b'[{"ts":1e400,"occupancy":1}]', RefusalReason.BAD_TS, "[0].ts")


@pytest.mark.parametrize(
    ("ts", "ok"),
    [
        (R_S + 299, True),
        (R_S + 300, True),
        (R_S + 301, False),
        ("2025-11-24T16:05:00Z", True),
        ("2025-11-24T16:05:00.000000001Z", False),
        ((R_S + 300) * 1000, True),
        ((R_S + 300) * 1000 + 1, False),
        (R_S + 86400 * 365, False),
    ],
)
def test_ts_in_future(ts, ok):
    result = parse({"ts": ts, "occupancy": 1})
    if ok:
        assert result.refusals == []
        assert len(result.readings) == 1
    else:
        assert_refused({"ts": ts, "occupancy": 1}, RefusalReason.TS_IN_FUTURE, "ts")


@pytest.mark.parametrize(
    ("ts", "ok"),
    [
        (R_S - MAX_AGE_S + 1, True),
        (R_S - MAX_AGE_S, True),
        (R_S - MAX_AGE_S - 1, False),
        ("2025-10-20T16:00:00Z", True),  # exactly 35 days
        ("2025-10-20T15:59:59.999999999Z", False),
        (0, False),
        (-1, False),
        ("1970-01-01T00:00:00Z", False),
        ("0001-01-01T00:00:00Z", False),
    ],
)
def test_ts_too_old(ts, ok):
    result = parse({"ts": ts, "occupancy": 1})
    if ok:
        assert result.refusals == []
        assert len(result.readings) == 1
    else:
        refusal = assert_refused({"ts": ts, "occupancy": 1}, RefusalReason.TS_TOO_OLD, "ts")
        assert "the maximum age is 35 days" in refusal.detail  # in days, not 3024000 s (issue 17)


def test_max_age_follows_the_setting():
    parser = MessageParser(GRAMMAR, CAPACITIES, 3600)
    assert parser.parse(TOPIC, encode({"ts": R_S - 3600, "uses": 1}), R).readings != []
    refused = parser.parse(TOPIC, encode({"ts": R_S - 3601, "uses": 1}), R)
    assert [r.reason for r in refused.refusals] == [RefusalReason.TS_TOO_OLD]


def test_check_order_unknown_field_before_missing_and_type():
    assert_refused({"occupancy": "x", "extra": 1}, RefusalReason.UNKNOWN_FIELD, "extra")
    assert_refused({"occupancy": "x"}, RefusalReason.MISSING_FIELD, "ts")


# -- topics, facilities, statuses ----------------------------------------------------------------------------


def test_unknown_facility():
    refusal = only_refusal({"ts": TS, "occupancy": 1}, topic="facmon/v1/nope/s1/reading")
    assert refusal.reason is RefusalReason.UNKNOWN_FACILITY
    assert (refusal.path, refusal.facility, refusal.sensor) == ("topic", "nope", "s1")
    result = parse(b"online", topic="facmon/v1/nope/s1/status")
    assert [r.reason for r in result.refusals] == [RefusalReason.UNKNOWN_FACILITY]
    assert result.status is None
    assert result.topic == Topic("nope", "s1", MessageKind.STATUS)


def test_bad_topic_refusal_has_no_topic():
    result = parse({"ts": TS, "occupancy": 1}, topic="facmon/v1/lib/S1/reading")
    assert result.topic is None
    assert result.readings == []
    assert [(r.reason, r.path, r.facility) for r in result.refusals] == [(RefusalReason.BAD_TOPIC, "topic", None)]


@pytest.mark.parametrize(("payload", "online"), [(b"online", True), (b"offline", False)])
def test_status(payload, online):
    result = parse(payload, topic=STATUS)
    assert result == Parsed(topic=Topic("lib", "s1", MessageKind.STATUS), status=StatusChange("lib", "s1", online, R))


@pytest.mark.parametrize("payload", [b"online", b"offline"])
def test_retained_status_is_ignored(payload):
    result = parse(payload, topic=STATUS, retained=True)
    assert result.ignored is True
    assert result.status is None
    assert result.refusals == []
    assert result.readings == []


@pytest.mark.parametrize(
    "payload", [b"ONLINE", b"Online", b"online\n", b" online", b'"online"', b"", b"1", b"true", b'{"status":"online"}']
)
def test_bad_status(payload):
    result = parse(payload, topic=STATUS)
    assert result.status is None
    assert result.refusals == [
        Refusal(RefusalReason.BAD_STATUS, "status payload must be 'online' or 'offline'", None, "lib", "s1")
    ]


@pytest.mark.parametrize(
    "topic",
    ["facmon/v1/_rejected", "facmon/v1/alerts/lib", "facmon/v1/lib/s1/rejected", "facmon/v1/nope/x/rejected"],
)
@pytest.mark.parametrize("payload", [b"", b"garbage", b'{"reason":"bad_json"}', b"\xff"])
def test_own_notice_topics_are_ignored(topic, payload):
    assert parse(payload, topic=topic) == Parsed(ignored=True)


def test_reading_topic_status_payload_is_bad_json():
    assert_refused(b"online", RefusalReason.BAD_JSON, None)


def test_status_topic_with_reading_payload_is_bad_status():
    result = parse({"ts": TS, "occupancy": 1}, topic=STATUS)
    assert [r.reason for r in result.refusals] == [RefusalReason.BAD_STATUS]
    assert result.readings == []


def test_fast_path_is_used_for_plain_payloads(parser):
    """Guards the property tests: a plain payload really does go through orjson, not the exact decoder."""
    assert parser._fast_items(encode({"ts": TS, "occupancy": 1})) == [{"ts": TS, "occupancy": 1}]
    assert parser._fast_items(encode([{"ts": 1, "uses": 1}, {"ts": 2, "uses": 2}])) is not None
    assert parser._fast_items(b'{"ts":1,"uses":1,"uses":2}') is None
    assert parser._fast_items(b'{"ts":"\\u0031","uses":1}') is None
    assert parser._fast_items(b'{"ts":1,"uses":{"a":1}}') is None


# -- bounds under hostile input (issue 19) ----------------------------------------------------------------------------
def test_long_topics_are_never_cached_and_the_cache_stays_within_its_byte_budget() -> None:
    from sensors.parse import TOPIC_CACHE_BYTES

    parser = MessageParser(GRAMMAR, CAPACITIES, MAX_AGE_S)
    for i in range(5000):
        parsed = parser.parse(f"facmon/v1/lib/{i}{'x' * 60_000}/reading", b"{}", R)
        assert [r.reason for r in parsed.refusals] == [RefusalReason.BAD_TOPIC]
    assert parser.topic_cache_bytes == 0
    for i in range(100_000):
        parser.parse(f"facmon/v1/lib/{'s' * 50}{i}/reading", b"{}", R)
    assert 0 < parser.topic_cache_bytes <= TOPIC_CACHE_BYTES


def test_new_sensor_ids_beyond_the_cap_are_refused_and_only_stored_ones_take_a_place() -> None:
    parser = MessageParser(GRAMMAR, CAPACITIES, MAX_AGE_S, max_sensors=2)
    good = json.dumps({"ts": TS, "occupancy": 1}).encode()
    assert parser.parse("facmon/v1/lib/a/reading", b"garbage", R).refusals  # refused: takes no place
    assert parser.parse("facmon/v1/lib/a/reading", good, R).readings
    assert parser.parse("facmon/v1/lib/b/status", b"online", R).status is not None
    refused = parser.parse("facmon/v1/lib/c/reading", good, R)
    assert [(r.reason, r.path, r.sensor) for r in refused.refusals] == [(RefusalReason.TOO_MANY_SENSORS, "topic", "c")]
    assert not refused.readings
    assert parser.parse("facmon/v1/lib/a/reading", good, R).readings  # known ones still pass
    assert parser.parse("facmon/v1/gym/c/reading", good, R).readings  # the cap is per facility
