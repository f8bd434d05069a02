"""Property tests of MessageParser: two decoders, one answer; never an exception; accepted values are exact.

How the fast path is compared with the exact path
-------------------------------------------------
`MessageParser._readings` first asks `_fast_items` (orjson, for plain payloads) and falls back to
`_exact_items` (the standard library with a pairs hook) when that returns None. `ExactOnly` below is the same
class with `_fast_items` overridden to always return None, so every payload takes the exact decoder while all
the rest (topic handling, size limit, batch detection, field checks, paths, details) is the very same code.
Comparing `FAST.parse(...)` with `EXACT.parse(...)` for the same topic, payload and receive time therefore
isolates the decoders: any difference in the resulting `Parsed` (readings, and refusals with reason, path and
detail) is a disagreement between them. Re-encoding the payload with an escape would also force the exact
path, but only for payloads that decode at all, and it changes the bytes under test; overriding the one method
works for arbitrary bytes. So that the comparison is not vacuous, the test of valid readings also asserts that
the fast decoder really took the payload.

Numbers include integers beyond 64 bits (orjson reads those as floats, the exact decoder as integers), JSON
number forms json.dumps never writes (1e400, 1E2, -0, 1.0e+2), NaN and Infinity.

Speed: Hypothesis spends about 0.3 ms per draw here, so the high-volume tests draw one seeded `random.Random`
(`st.randoms(use_true_random=True)`) and build the payload from it in plain Python; a failure still replays
from Hypothesis's database and the payload is in the assertion message. Smaller tests use fine-grained
strategies, which shrink well. Together they run more than 10,000 cases.
"""

from __future__ import annotations

import json
import random
from datetime import datetime, timedelta
from fractions import Fraction
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sensors.contract import (
    ACTIVITY_FIELDS,
    COUNT_FIELDS,
    MAX_COUNT,
    MAX_SEQ,
    Reading,
    Refusal,
    RefusalReason,
    StatusChange,
    TopicGrammar,
)
from sensors.parse import MessageParser, Parsed

NS = 1_000_000_000
R_S = 1_764_000_000  # 2025-11-24T16:00:00Z
R = R_S * NS
MAX_AGE_S = 35 * 86400
LOW_S = R_S - MAX_AGE_S
HIGH_S = R_S + 300
CAPACITIES = {"lib": 10, "gym": 50}
GRAMMAR = TopicGrammar("facmon/v1")
TOPIC = "facmon/v1/lib/s1/reading"
TOPICS = [
    TOPIC,
    "facmon/v1/gym/door-2/reading",
    "facmon/v1/lib/s1/status",
    "facmon/v1/nope/s1/reading",
    "facmon/v1/_rejected",
    "facmon/v1/lib/s1/rejected",
    "facmon/v1/alerts/lib",
    "facmon/v1/lib/S1/reading",
    "facmon/v1/lib/s1",
]
EPOCH = datetime(1970, 1, 1)  # naive on purpose: the expected text is built without the parser's own code


class ExactOnly(MessageParser):
    """MessageParser with the fast decoder switched off: every payload goes to `_exact_items`."""

    def _fast_items(self, payload: bytes) -> None:
        return None


FAST = MessageParser(GRAMMAR, CAPACITIES, MAX_AGE_S)
EXACT = ExactOnly(GRAMMAR, CAPACITIES, MAX_AGE_S)


def examples(count: int) -> settings:
    return settings(
        max_examples=count, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
    )


seeded = st.randoms(use_true_random=True)


# -- plain-Python generators driven by one Random -----------------------------------------------------------------


class Raw(str):
    """JSON number text written as is, for forms json.dumps never produces (1e400, 1E2, -0, 1.0e+2)."""

    __slots__ = ()


RAW_NUMBERS = [
    "1e400", "-1e400", "1E2", "1.0e+2", "-0", "0.0", "-0.0", "1e-400", "3.0", "100000", "100001", "-1",
    "18446744073709551615", "9223372036854775807", "9223372036854775808", "-9223372036854775808",
    "18446744073709551616", "-9223372036854775809", "1" + "0" * 30, "9" * 5000, "1764000000.123", "1.764e9",
    "1764000000", "1764000000.0", "1764000000000", "1e15", "1e16", "0.5e10",
]  # fmt: skip
CHARS = 'abcxyzTZ09:.-+ "\\\n\t\x00\x1f\x7fé中文\u2028\ufeff\U0001f600\ud800'
KEYS = ["ts", "seq", "occupancy", "entries", "exits", "uses", "Ts", "temp", "", "ts ", '"', "\\", "occ\u0075pancy"]
SPACES = ["", " ", "\n", "\t", "\r\n  "]


def gen_rfc3339(rng: random.Random) -> tuple[str, int]:
    """An RFC 3339 ts in the accepted window, with 0-9 fraction digits and any offset; and its exact ns."""
    ts_ns = rng.randint(LOW_S * NS, HIGH_S * NS)
    digits = rng.randint(0, 9)
    ts_ns -= ts_ns % 10 ** (9 - digits)
    offset = rng.choice([0, 0, 480, -330, 59, -(23 * 60 + 59), 23 * 60 + 59, rng.randint(-1439, 1439)])
    seconds, fraction = divmod(ts_ns, NS)
    local = EPOCH + timedelta(seconds=seconds + offset * 60)
    text = local.strftime("%Y-%m-%d") + rng.choice("Tt ") + local.strftime("%H:%M:%S")
    if digits:
        text += "." + str(fraction).zfill(9)[:digits]
    if offset == 0 and rng.random() < 0.5:
        text += rng.choice("Zz")
    else:
        hours, minutes = divmod(abs(offset), 60)
        text += f"{'-' if offset < 0 else '+'}{hours:02d}:{minutes:02d}"
    return text, ts_ns


def float_ns(value: float, scale: int) -> int:
    """The decimal the sensor wrote (json.dumps writes a float's shortest repr), scaled exactly."""
    return round(Fraction(repr(value)) * scale)


def gen_ts(rng: random.Random) -> tuple[Any, int]:
    kind = rng.randrange(6)
    if kind == 0:
        return gen_rfc3339(rng)
    if kind == 1:
        seconds = rng.randint(LOW_S, HIGH_S)
        return seconds, seconds * NS
    if kind == 2:
        ms = rng.randint(LOW_S * 1000, HIGH_S * 1000)
        return ms, ms * 1_000_000
    if kind == 3:
        seconds_f = rng.uniform(LOW_S + 0.001, HIGH_S - 0.001)
        return seconds_f, float_ns(seconds_f, NS)
    if kind == 4:
        ms_f = rng.uniform(LOW_S * 1000 + 1.0, HIGH_S * 1000 - 1.0)
        return ms_f, float_ns(ms_f, 1_000_000)
    seconds = rng.choice([LOW_S, HIGH_S, R_S])
    return seconds, seconds * NS


def gen_count(rng: random.Random) -> int:
    return rng.choice([rng.randint(0, MAX_COUNT), rng.randint(0, 20), 0, 10, 11, MAX_COUNT])


def gen_valid(rng: random.Random) -> tuple[dict[str, Any], int]:
    """A reading the parser must accept, keys in random order, and the ts in ns it stands for."""
    ts, ts_ns = gen_ts(rng)
    activity = rng.sample(ACTIVITY_FIELDS, rng.randint(1, 3))
    item: dict[str, Any] = {"ts": ts}
    for name in COUNT_FIELDS:
        if name in activity or (name == "exits" and rng.random() < 0.5):
            item[name] = gen_count(rng)
    if rng.random() < 0.5:
        item["seq"] = rng.choice([rng.randint(0, MAX_SEQ), rng.randint(0, 1000), 0, MAX_SEQ])
    keys = list(item)
    rng.shuffle(keys)
    return {key: item[key] for key in keys}, ts_ns


def gen_text(rng: random.Random, max_size: int = 8) -> str:
    return "".join(rng.choice(CHARS) for _ in range(rng.randint(0, max_size)))


def gen_number(rng: random.Random) -> Any:
    kind = rng.randrange(5)
    if kind == 0:
        return rng.choice([rng.randint(-(2**63), 2**64 - 1), rng.randint(-(2**70), 2**70)])
    if kind == 1:
        return rng.choice(
            [-1, 0, 1, 10, 11, MAX_COUNT, MAX_COUNT + 1, MAX_SEQ, MAX_SEQ + 1, -(2**63), -(2**63) - 1, 2**64 - 1,
             2**64, 2**64 + 1, 10**30, R_S, R_S * 1000, 10**15, 10**15 - 1]
        )  # fmt: skip
    if kind == 2:
        return rng.choice([rng.uniform(-1e6, 1e6), rng.uniform(LOW_S, HIGH_S), float("nan"), float("inf"), -0.0])
    return Raw(rng.choice(RAW_NUMBERS))


def gen_scalar(rng: random.Random) -> Any:
    kind = rng.randrange(8)
    if kind == 0:
        return None
    if kind == 1:
        return rng.random() < 0.5
    if kind in (2, 3, 4):
        return gen_number(rng)
    if kind in (5, 6):
        return gen_text(rng)
    return rng.choice(["2025-11-24T15:59:00Z", "2025-11-24T15:59:00", "2025-11-24", "online", "", "3"])


def gen_value(rng: random.Random, depth: int = 0) -> Any:
    roll = rng.random()
    if depth >= 3 or roll < 0.75:
        return gen_scalar(rng)
    if roll < 0.88:
        return [gen_value(rng, depth + 1) for _ in range(rng.randint(0, 3))]
    return [(gen_key(rng), gen_value(rng, depth + 1)) for _ in range(rng.randint(0, 3))]  # an object as pairs


def gen_key(rng: random.Random) -> str:
    return rng.choice(KEYS) if rng.random() < 0.7 else gen_text(rng, 6)


def gen_mutated(rng: random.Random) -> list[tuple[str, Any]]:
    """A reading as key/value pairs with fields dropped, retyped, added or repeated."""
    item, _ = gen_valid(rng)
    pairs = list(item.items())
    for _ in range(rng.randint(1, 3)):
        action = rng.choice(["drop", "retype", "renumber", "renumber", "add", "duplicate", "duplicate_same"])
        if action == "drop" and pairs:
            pairs.pop(rng.randrange(len(pairs)))
        elif action in ("retype", "renumber") and pairs:
            index = rng.randrange(len(pairs))
            pairs[index] = (pairs[index][0], gen_value(rng) if action == "retype" else gen_number(rng))
        elif action == "add":
            pairs.insert(rng.randint(0, len(pairs)), (gen_key(rng), gen_value(rng)))
        elif action.startswith("duplicate") and pairs:
            key, value = rng.choice(pairs)
            pairs.insert(rng.randint(0, len(pairs)), (key, value if action == "duplicate_same" else gen_value(rng)))
    return pairs


def dump(value: Any, ascii_only: bool, space: str) -> str:
    """JSON text; a list of (key, value) tuples is an object, which may repeat keys (a dict cannot)."""
    if isinstance(value, Raw):
        return str(value)
    if isinstance(value, list) and value and all(isinstance(p, tuple) for p in value):
        inner = f",{space}".join(
            f"{json.dumps(k, ensure_ascii=ascii_only)}{space}:{space}{dump(v, ascii_only, space)}" for k, v in value
        )
        return "{" + space + inner + space + "}"
    if isinstance(value, list):
        return "[" + f",{space}".join(dump(v, ascii_only, space) for v in value) + "]"
    if isinstance(value, dict):
        return dump(list(value.items()), ascii_only, space) if value else "{}"
    return json.dumps(value, ensure_ascii=ascii_only)


def to_bytes(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")  # a lone surrogate becomes invalid UTF-8, as on the wire


def gen_payload(rng: random.Random) -> bytes:
    """One reading or a batch, of valid and mutated readings and stray values, or any JSON value."""
    ascii_only = rng.random() < 0.3
    space = rng.choice(SPACES)

    def reading_object() -> Any:
        return list(gen_valid(rng)[0].items()) if rng.random() < 0.4 else gen_mutated(rng)

    shape = rng.choice(["single", "single", "batch", "batch", "other"])
    if shape == "single":
        text = dump(reading_object(), ascii_only, space)
    elif shape == "batch":
        items = [reading_object() if rng.random() < 0.85 else gen_value(rng) for _ in range(rng.randint(0, 5))]
        text = "[" + space + f",{space}".join(dump(i, ascii_only, space) for i in items) + space + "]"
    else:
        text = dump(gen_value(rng), ascii_only, space)
    if rng.random() < 0.1:
        text = rng.choice(SPACES) + text + rng.choice(SPACES)
    return to_bytes(text)


def gen_damaged(rng: random.Random) -> bytes:
    """A payload with one or two bytes replaced, inserted or removed: near misses for both decoders."""
    payload = bytearray(gen_payload(rng))
    for _ in range(rng.randint(1, 2)):
        position = rng.randint(0, len(payload))
        byte = rng.choice([*b'"\\{}[],:0 e.-\x00\xff\xc3\xe4', rng.randrange(256)])
        action = rng.choice(["replace", "insert", "delete"])
        if action == "insert" or position == len(payload):
            payload.insert(position, byte)
        elif action == "replace":
            payload[position] = byte
        else:
            del payload[position]
    return bytes(payload)


def agree(topic: str, payload: bytes, received: int = R) -> Parsed:
    fast = FAST.parse(topic, payload, received)
    exact = EXACT.parse(topic, payload, received)
    assert fast == exact, f"payload={payload!r}\nfast={fast}\nexact={exact}"
    return fast


# -- (a) the fast and exact decoders agree ----------------------------------------------------------------------


@examples(2000)
@given(rng=seeded)
def test_decoders_agree_on_valid_readings(rng):
    items = [gen_valid(rng)[0] for _ in range(rng.choice([1, 1, 2, 5]))]
    space = rng.choice(SPACES)
    texts = [dump(item, False, space) for item in items]
    batch = len(items) > 1 or rng.random() < 0.3
    payload = to_bytes("[" + ",".join(texts) + "]" if batch else texts[0])
    assert FAST._fast_items(payload) is not None, f"the fast decoder should take {payload!r}"
    result = agree(TOPIC, payload)
    assert result.refusals == []
    assert len(result.readings) == len(items)


@examples(3000)
@given(rng=seeded)
def test_decoders_agree_on_json_payloads(rng):
    agree(rng.choice(TOPICS[:2]), gen_payload(rng))


@examples(1500)
@given(rng=seeded)
def test_decoders_agree_on_damaged_payloads(rng):
    agree(TOPIC, gen_damaged(rng))


@examples(800)
@given(payload=st.binary(max_size=64))
def test_decoders_agree_on_random_bytes(payload):
    agree(TOPIC, payload)


json_values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(2**64), 2**65),
        st.floats(),
        st.text(max_size=6),
    ),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=4), inner, max_size=3)),
    max_leaves=5,
)


@examples(400)
@given(
    base=st.fixed_dictionaries(
        {"ts": st.integers(LOW_S, HIGH_S)},
        optional={name: st.integers(-2, MAX_COUNT + 2) for name in (*COUNT_FIELDS, "seq")},
    ),
    extra=st.lists(st.tuples(st.sampled_from([*KEYS[:8], "x"]), json_values), max_size=2),
    batch=st.booleans(),
)
def test_decoders_agree_on_shrinkable_readings(base, extra, batch):
    """Fine-grained strategies, so a failure shrinks to a minimal reading (e.g. one extra key)."""
    text = dump([*base.items(), *extra], False, "")
    agree(TOPIC, to_bytes(f"[{text}]" if batch else text))


# -- (b) never raises -----------------------------------------------------------------------------------------------


def check_invariants(topic: str, result: Parsed, received: int) -> None:
    assert isinstance(result, Parsed)
    assert all(isinstance(r, Reading) and r.received_ns == received for r in result.readings)
    assert all(isinstance(r, Refusal) and isinstance(r.reason, RefusalReason) and r.detail for r in result.refusals)
    assert all(r.path is None or (isinstance(r.path, str) and r.path) for r in result.refusals)
    if result.ignored:
        assert (result.readings, result.refusals, result.status) == ([], [], None)
    if result.status is not None:
        assert isinstance(result.status, StatusChange)
        assert (result.readings, result.refusals) == ([], [])
    if result.readings:
        assert result.status is None
        assert topic.endswith("/reading")
    for r in result.readings:
        assert r.over_capacity == (r.occupancy is not None and r.occupancy > CAPACITIES[r.facility])


@examples(2000)
@given(
    rng=seeded,
    topic=st.one_of(st.sampled_from(TOPICS), st.text(max_size=30)),
    received=st.one_of(st.just(R), st.integers(0, 2**62)),
    retained=st.booleans(),
)
def test_parser_never_raises(rng, topic, received, retained):
    kind = rng.randrange(4)
    if kind == 0:
        payload = rng.randbytes(rng.randint(0, 100))
    elif kind == 1:
        payload = gen_payload(rng)
    elif kind == 2:
        payload = gen_damaged(rng)
    else:
        payload = rng.choice([b"online", b"offline", b"", b"[" * rng.randint(1, 5000)])
    result = FAST.parse(topic, payload, received, retained)
    check_invariants(topic, result, received)


@examples(500)
@given(topic=st.text(max_size=40), payload=st.binary(max_size=200), retained=st.booleans())
def test_parser_never_raises_on_anything(topic, payload, retained):
    check_invariants(topic, FAST.parse(topic, payload, R, retained), R)


# -- (c) accepted readings carry the input's values exactly ---------------------------------------------------------


def assert_exact(got: Reading, item: dict[str, Any], ts_ns: int, facility: str = "lib") -> None:
    assert (got.facility, got.sensor, got.received_ns) == (facility, "s1", R)
    for name in (*COUNT_FIELDS, "seq"):
        assert getattr(got, name) == item.get(name)
        assert type(getattr(got, name)) is type(item.get(name))
    assert got.over_capacity == (item.get("occupancy", -1) > CAPACITIES[facility])
    assert got.ts_ns == ts_ns, item


@examples(2000)
@given(rng=seeded)
def test_accepted_readings_equal_the_input(rng):
    items = [gen_valid(rng) for _ in range(rng.choice([1, 1, 2, 3, 8]))]
    ascii_only = rng.random() < 0.5
    texts = [dump(item, ascii_only, rng.choice(SPACES)) for item, _ in items]
    batch = len(items) > 1 or rng.random() < 0.3
    payload = to_bytes("[" + ",".join(texts) + "]" if batch else texts[0])
    result = FAST.parse(TOPIC, payload, R)
    assert result.refusals == [], payload
    assert len(result.readings) == len(items)
    for got, (item, ts_ns) in zip(result.readings, items, strict=True):
        assert_exact(got, item, ts_ns)


@st.composite
def rfc3339(draw: st.DrawFn) -> tuple[str, int]:
    """The same RFC 3339 form as gen_rfc3339, as a shrinkable strategy."""
    return gen_rfc3339(random.Random(draw(st.integers(0, 2**32))))


@examples(400)
@given(
    ts=st.one_of(
        rfc3339(),
        st.integers(LOW_S, HIGH_S).map(lambda s: (s, s * NS)),
        st.integers(LOW_S * 1000, HIGH_S * 1000).map(lambda ms: (ms, ms * 1_000_000)),
    ),
    occupancy=st.integers(0, MAX_COUNT),
    seq=st.integers(0, MAX_SEQ),
)
def test_accepted_ts_and_counts_are_exact(ts, occupancy, seq):
    item = {"ts": ts[0], "occupancy": occupancy, "seq": seq}
    result = FAST.parse("facmon/v1/gym/s1/reading", dump(item, False, "").encode(), R)
    assert result.refusals == []
    assert_exact(result.readings[0], item, ts[1], facility="gym")
