"""Hostile MQTT messages for the end-to-end property test, generated from one seeded `random.Random`.

Each generator returns a `Case`: topic, payload, and what the generator itself knows about the outcome
(`expect`): "valid", "refused", or the one refusal reason it must get. That knowledge is checked against the
parser's prediction, so a parser that accepted everything (or refused everything) would fail the test even
though the ingester agrees with it. Topics only use characters the broker accepts (Mosquitto drops a publisher
that sends a control character, a non-character or a wildcard in a topic), and never end in `rejected`, which
is where facmon's own notices go.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone

from sensors.contract import MAX_BATCH_ITEMS, MAX_PAYLOAD_BYTES, is_valid_id

KNOWN = ("wz-lc-lib-001", "wz-oh-comm-003")  # tests.integration.ingester.REGISTRY_YAML
UNKNOWN = ("wz-nowhere-404", "a", "0" * 63)
ID_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789_-"
# Line-protocol and InfluxQL metacharacters, look-alikes, invisible and right-to-left characters, SQL-ish text.
HOSTILE_TEXT = [
    ",", " ", "=", '"', "'", "\\", ";", "\\n", "`", "*", "%", "$", "{", "}", "(", ")", "|", "&", "!", "?", "<", ">",
    "é", "中", "😀", "\u200b", "\u202e", "\ufeff", "\u2028", "\u00a0", "\ufffd", "Ａ", "ⅰ", "A", "..", "",
    "x DROP DATABASE facmon", "'; DROP MEASUREMENT reading; --", '" OR 1=1', "reading,facility=evil v=1i 1",
    "a\\,b=c", "x\\ y", "/*", "*/", "$share", "--",
]  # fmt: skip
OFFSETS = [timedelta(0), timedelta(hours=8), timedelta(hours=-5, minutes=-30), timedelta(hours=23, minutes=59)]


@dataclass(frozen=True)
class Case:
    kind: str
    topic: str
    payload: bytes
    expect: str  # "valid", "refused", "any", or a RefusalReason value


class Generator:
    """Makes cases under one topic prefix, with readings' ts spread over the last days (never near a limit)."""

    def __init__(self, rng: random.Random, prefix: str, now_ms: int) -> None:
        self.rng = rng
        self.prefix = prefix
        self.now_ms = now_ms
        self._serial = 0
        self.kinds: list[tuple[Callable[[], Case], int]] = [
            (self.valid_reading, 18),
            (self.valid_batch, 6),
            (self.mixed_batch, 5),
            (self.mutated, 12),
            (self.invalid_utf8, 5),
            (self.deep_nesting, 4),
            (self.huge_number, 7),
            (self.not_a_number, 4),
            (self.float_for_int, 6),
            (self.duplicate_key, 5),
            (self.hostile_key, 5),
            (self.hostile_topic, 9),
            (self.unknown_facility, 2),
            (self.status, 5),
            (self.bad_shape, 4),
            (self.bad_ts, 5),
            (self.batch_too_large, 1),
        ]
        self._weights = [w for _, w in self.kinds]

    def cases(self, count: int) -> list[Case]:
        made = [self.oversize() for _ in range(12)]  # a few large ones, whatever the draw
        while len(made) < count:
            make = self.rng.choices([k for k, _ in self.kinds], self._weights)[0]
            made.append(make())
        self.rng.shuffle(made)
        return made

    # -- pieces ------------------------------------------------------------------------------------------------
    def sensor(self) -> str:
        rng = self.rng
        return rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") + "".join(
            rng.choice(ID_CHARS) for _ in range(rng.choice([0, 1, 3, 8, 62]))
        )

    def reading_topic(self, facility: str | None = None, sensor: str | None = None) -> str:
        return f"{self.prefix}/{facility or self.rng.choice(KNOWN)}/{sensor or self.sensor()}/reading"

    def ts(self) -> object:
        """A unique, valid ts (an hour to 20 days old), in one of the forms devices use."""
        self._serial += 1
        ts_ms = self.now_ms - 3_600_000 - self._serial * 1_013 - self.rng.randrange(20 * 86_400_000)
        form = self.rng.randrange(5)
        if form == 0:
            return ts_ms
        if form == 1:
            return round(ts_ms / 1000, 3)
        if form == 2:
            return ts_ms // 1000
        moment = datetime.fromtimestamp(ts_ms / 1000, UTC).astimezone(timezone(self.rng.choice(OFFSETS)))
        text = moment.isoformat(timespec=self.rng.choice(["seconds", "milliseconds", "microseconds"]))
        return text.replace("+00:00", "Z") if self.rng.random() < 0.5 else text

    def counts(self) -> dict[str, int]:
        rng = self.rng
        fields: dict[str, int] = {}
        for name in ("occupancy", "entries", "exits", "uses"):
            if rng.random() < 0.5:
                fields[name] = rng.choice([0, 1, 7, 59, 60, 61, 119, 120, 121, 99_999, 100_000, rng.randrange(500)])
        if not any(name in fields for name in ("occupancy", "entries", "uses")):
            fields["occupancy"] = rng.randrange(200)
        return fields

    def reading(self) -> dict[str, object]:
        item: dict[str, object] = {"ts": self.ts(), **self.counts()}
        if self.rng.random() < 0.4:
            item["seq"] = self.rng.choice([0, 1, self.rng.randrange(10**6), 2**63 - 1])
        keys = list(item)
        self.rng.shuffle(keys)
        return {key: item[key] for key in keys}

    def encode(self, value: object) -> bytes:
        rng = self.rng
        text = json.dumps(value, ensure_ascii=rng.random() < 0.5, separators=rng.choice([(",", ":"), (", ", ": ")]))
        return text.encode()

    # -- case kinds --------------------------------------------------------------------------------------------
    def valid_reading(self) -> Case:
        return Case("valid_reading", self.reading_topic(), self.encode(self.reading()), "valid")

    def valid_batch(self) -> Case:
        size = self.rng.choice([1, 2, 5, 30, 100, MAX_BATCH_ITEMS if self.rng.random() < 0.05 else 3])
        return Case("valid_batch", self.reading_topic(), self.encode([self.reading() for _ in range(size)]), "valid")

    def mixed_batch(self) -> Case:
        items: list[object] = [self.reading() for _ in range(self.rng.randint(2, 8))]
        bad = self.rng.choice([{"ts": self.ts(), "occupancy": -1}, {"ts": self.ts()}, {"occupancy": 1}, 3, None,
                               {"ts": self.ts(), "occupancy": 1, "colour": 2}, [], {"ts": self.ts(), "uses": 1.5}])
        items.insert(self.rng.randrange(len(items) + 1), bad)
        return Case("mixed_batch", self.reading_topic(), self.encode(items), "any")

    def mutated(self) -> Case:
        rng = self.rng
        data = bytearray(self.encode(rng.choice([self.reading(), [self.reading(), self.reading()]])))
        for _ in range(rng.randint(1, 4)):
            op = rng.randrange(4)
            pos = rng.randrange(len(data))
            if op == 0:
                data[pos] = rng.randrange(256)
            elif op == 1:
                data[pos:pos] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 4)))
            elif op == 2:
                del data[pos : pos + rng.randint(1, 6)]
            else:
                data[pos:pos] = rng.choice([b'"', b"\\", b"{", b"]", b",", b":", b"\\u0000", b"\\ud800", b"-", b"e9"])
        return Case("mutated", self.reading_topic(), bytes(data), "any")

    def invalid_utf8(self) -> Case:
        rng = self.rng
        bad = rng.choice([b"\xff", b"\xc0\xaf", b"\xed\xa0\x80", b"\xe4\xb8", b"\xf8\x88\x80\x80\x80", b"\x80"])
        text = self.encode(self.reading())
        if rng.random() < 0.5:  # inside a string, where only the encoding is wrong
            payload = text.replace(b'"ts"', b'"ts' + bad + b'"', 1) if rng.random() < 0.5 else (
                b'{"ts": "' + bad + b'", "occupancy": 1}')
        else:
            pos = rng.randrange(len(text) + 1)
            payload = text[:pos] + bad + text[pos:]
        return Case("invalid_utf8", self.reading_topic(), payload, "bad_encoding")

    def deep_nesting(self) -> Case:
        depth = self.rng.choice([2, 10, 500, 999, 1000, 1001, 5000, 20_000])
        if self.rng.random() < 0.02:
            depth = 100_000
        if self.rng.random() < 0.5:
            payload = b"[" * depth + b"]" * depth
        else:
            payload = b'{"ts": %d, "occupancy": ' % (self.now_ms - 7_200_000) + b"[" * depth + b"]" * depth + b"}"
        return Case("deep_nesting", self.reading_topic(), payload, "refused")

    def huge_number(self) -> Case:
        rng = self.rng
        number = rng.choice(["1e400", "-1e400", "1e308", "100001", "-1", str(2**63), str(2**64), "-" + str(2**63),
                             "1" + "0" * 30, "9" * 5000, "-" + "9" * 400, "123456789012345678901234567890"])
        field = rng.choice(["occupancy", "entries", "exits", "uses", "seq", "ts"])
        if field == "seq" and number == "100001":
            number = str(2**63)  # 100001 is a fine sequence number
        other = "entries" if field == "occupancy" else "occupancy"
        ts = b"" if field == "ts" else b'"ts": %d, ' % (self.now_ms - 7_200_000)
        payload = b"{" + ts + b'"%s": %s, "%s": 1}' % (field.encode(), number.encode(), other.encode())
        return Case("huge_number", self.reading_topic(), payload, "refused")

    def not_a_number(self) -> Case:
        rng = self.rng
        literal = rng.choice([b"NaN", b"Infinity", b"-Infinity", b"nan", b"inf", b"-inf", b"+1", b"0x10", b".5"])
        field = rng.choice([b"ts", b"occupancy", b"seq"])
        payload = b'{"ts": %d, "occupancy": 1, "%s": %s}' % (self.now_ms - 7_200_000, field, literal)
        if field == b"ts":
            payload = b'{"ts": %s, "occupancy": 1}' % literal
        return Case("not_a_number", self.reading_topic(), payload, "bad_json")

    def float_for_int(self) -> Case:
        rng = self.rng
        number = rng.choice([b"3.0", b"1e2", b"1E2", b"1.5", b"-0.0", b"0.0", b"1.0e+2", b"100000.0", b"2.5e-3"])
        field = rng.choice([b"occupancy", b"entries", b"exits", b"uses", b"seq"])
        other = b"entries" if field == b"occupancy" else b"occupancy"
        payload = b'{"ts": %d, "%s": %s, "%s": 2}' % (self.now_ms - 7_200_000, field, number, other)
        return Case("float_for_int", self.reading_topic(), payload, "wrong_type")

    def duplicate_key(self) -> Case:
        rng = self.rng
        item = self.reading()
        key = rng.choice(list(item))
        body = self.encode(item)[:-1]
        value = json.dumps(item[key]).encode()
        payload = body + b', "%s": %s}' % (key.encode(), value if rng.random() < 0.5 else b"0")
        if rng.random() < 0.3:
            payload = b"[" + self.encode(self.reading()) + b"," + payload + b"]"
            return Case("duplicate_key", self.reading_topic(), payload, "any")
        return Case("duplicate_key", self.reading_topic(), payload, "duplicate_field")

    def hostile_key(self) -> Case:
        rng = self.rng
        key = "".join(rng.choice([*HOSTILE_TEXT, "\n", "\r", "\t", "\x00", "type", "region"])
                      for _ in range(rng.randint(1, 4)))
        if key in ("ts", "seq", "occupancy", "entries", "exits", "uses"):
            key += "_x"
        item = {**self.reading(), key: rng.choice([1, "x", None, [1], {"a": 1}])}
        return Case("hostile_key", self.reading_topic(), self.encode(item), "unknown_field")

    def hostile_topic(self) -> Case:
        rng = self.rng
        bad = "".join(rng.choice([*HOSTILE_TEXT, "A", "Z", "-", "_", "x"]) for _ in range(rng.randint(1, 3)))
        if rng.random() < 0.2:
            bad = rng.choice(["", "-lead", "_lead", "x" * 64, "UPPER", "wz-lc-lib-001 ", " wz-lc-lib-001"])
        shape = rng.randrange(6)
        good_facility, good_sensor = rng.choice(KNOWN), self.sensor()
        if shape == 0:
            topic = f"{self.prefix}/{bad}/{good_sensor}/reading"
        elif shape == 1:
            topic = f"{self.prefix}/{good_facility}/{bad}/{rng.choice(['reading', 'status'])}"
        elif shape == 2:
            topic = f"{self.prefix}/{good_facility}/{good_sensor}/{rng.choice(['readings', 'READING', '', bad])}"
        elif shape == 3:
            topic = f"{self.prefix}/{good_facility}/{good_sensor}/reading/{bad or 'x'}"
        elif shape == 4:
            topic = f"{self.prefix}/{good_facility}/reading"
        else:
            topic = f"{self.prefix}//{good_sensor}/reading"
        if topic.endswith("rejected"):
            topic += "x"
        payload = self.encode(self.reading()) if rng.random() < 0.7 else b"online"
        expect = "bad_topic"
        if (shape in (0, 1) and is_valid_id(bad)) or (shape == 2 and topic.endswith(("/reading", "/status"))):
            expect = "any"  # the draw made a well-formed topic after all
        return Case("hostile_topic", topic, payload, expect)

    def unknown_facility(self) -> Case:
        topic = f"{self.prefix}/{self.rng.choice(UNKNOWN)}/{self.sensor()}/{self.rng.choice(['reading', 'status'])}"
        return Case("unknown_facility", topic, self.encode(self.reading()), "unknown_facility")

    def status(self) -> Case:
        rng = self.rng
        topic = f"{self.prefix}/{rng.choice(KNOWN)}/{self.sensor()}/status"
        good = rng.random() < 0.5
        payload = rng.choice([b"online", b"offline"]) if good else rng.choice(
            [b"ONLINE", b"on", b"", b"online\n", b'"online"', b"offline ", b"1", b"\xff", b"online\x00"])
        return Case("status", topic, payload, "valid" if good else "bad_status")

    def bad_shape(self) -> Case:
        payload = self.rng.choice([b"null", b"true", b"123", b'"text"', b"[]", b"[1, 2]", b"{}", b"[{}]", b"",
                                   b"   ", b"\xef\xbb\xbf{}", b"[null]", b'{"ts": 1} trailing', b"{'ts': 1}"])
        return Case("bad_shape", self.reading_topic(), payload, "refused")

    def bad_ts(self) -> Case:
        rng = self.rng
        ts_ms = self.now_ms
        value, reason = rng.choice([
            (ts_ms + 86_400_000, "ts_in_future"),
            (ts_ms - 40 * 86_400_000, "ts_too_old"),
            ("2025-02-30T00:00:00Z", "bad_ts"),
            ("2025-11-27T10:15:00+24:00", "bad_ts"),
            ("2025-11-27T10:15:00", "bad_ts"),
            ("２０２５-11-27T10:15:00Z", "bad_ts"),
            ("2025-11-27T10:15:00Z\nreading,facility=evil occupancy=1i 1", "bad_ts"),
            (True, "wrong_type"),
            (None, "wrong_type"),
            ({"s": 1}, "wrong_type"),
            (10**16, "bad_ts"),
            (-(10**16), "bad_ts"),
            (ts_ms * 1000, "bad_ts"),
        ])
        payload = json.dumps({"ts": value, "occupancy": 1}, ensure_ascii=False).encode()
        return Case("bad_ts", self.reading_topic(), payload, reason)

    def batch_too_large(self) -> Case:
        size = self.rng.choice([MAX_BATCH_ITEMS + 1, MAX_BATCH_ITEMS + 1, MAX_BATCH_ITEMS + 50, 5000])
        one = self.reading()  # refused whole, so the items need not differ
        payload = self.encode([one if self.rng.random() < 0.5 else {} for _ in range(size)])
        return Case("batch_too_large", self.reading_topic(), payload, "refused")

    def oversize(self) -> Case:
        rng = self.rng
        size = rng.choice([MAX_PAYLOAD_BYTES + 1, MAX_PAYLOAD_BYTES + 1000, 600_000])
        padding = rng.choice(["x", "中"])
        filler = padding * max(0, (size - 40) // len(padding.encode()))
        payload = json.dumps({"ts": self.now_ms - 7_200_000, "occupancy": 1, "note": filler}, ensure_ascii=False)
        data = payload.encode()
        while len(data) <= MAX_PAYLOAD_BYTES:
            data += b" "
        return Case("oversize", self.reading_topic(), data, "oversize")
