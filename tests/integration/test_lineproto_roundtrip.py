"""Line protocol written by facmon comes back from a real InfluxDB 1.x exactly, with nothing extra created.

InfluxDB 1.x unescapes only \\" and \\\\ inside string field values. facmon writes a newline in a string field as
the two characters backslash and n (so one point stays one line), and that is what InfluxDB stores and returns:
a real newline comes back as "\\n" (two characters) and cannot be told apart from a literal backslash-n.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from facmon.core.influx import InfluxClient
from facmon.core.influxql import ident, literal, regex_literal
from facmon.core.lineproto import line
from facmon.demo.localstack import LocalInfluxDB
from ingest.points import ReadingEncoder, refusal_line, status_line
from sensors.contract import Reading, Refusal, RefusalReason, StatusChange

pytestmark = pytest.mark.servers

T = 1_764_000_000_000_000_000

HOSTILE_TAGS = {
    "facility": "wz lib,north=1",
    "quote": 'say "hi"',
    "apostrophe": "it's",
    "name": "鹿城区图书馆 五马分馆",
    "eq": "a=b=c",
    "mixed": " ,=\"'中",
}
STRINGS = {
    "plain": "hello",
    "spaces": "a b, c=d",
    "quotes": 'he said "hi"',
    "backslashes": "C:\\temp\\new",
    "trailing_backslash": "ends with \\",
    "newline": "line one\nline two",
    "cr": "a\rb",
    "chinese": "五马街 人数",
    "escape_lookalike": '\\"',
    "empty": "",
}
STORED_STRINGS = {**STRINGS, "newline": "line one\\nline two", "cr": "a\\rb"}  # two characters each


@pytest.fixture
def client(influxdb: LocalInfluxDB, influx_db_name: str) -> Iterator[InfluxClient]:
    client = InfluxClient(influxdb.url, influx_db_name)
    client.create_database()
    yield client
    client.query(f"DROP DATABASE {ident(influx_db_name)}", database="")
    client.close()


def values(client: InfluxClient, query: str) -> list[dict]:
    """Rows of a one-series answer as dicts."""
    results = client.query(query, epoch="ns")
    found = [s for r in results for s in r.get("series", [])]
    assert len(found) == 1, found
    return [dict(zip(found[0]["columns"], row, strict=True)) for row in found[0]["values"]]


def column(client: InfluxClient, query: str) -> list[list]:
    results = client.query(query)
    return [row for r in results for s in r.get("series", []) for row in s["values"]]


def test_tags_and_strings_round_trip(client):
    fields = {"count": 1, **{f"s_{k}": v for k, v in STRINGS.items()}}
    client.write(line("hostile", HOSTILE_TAGS, fields, T).encode())
    [row] = values(client, "SELECT * FROM hostile")
    assert row["time"] == T
    assert row["count"] == 1
    for key, value in HOSTILE_TAGS.items():
        assert row[key] == value, key
    for key, value in STORED_STRINGS.items():
        assert row[f"s_{key}"] == value, key
    assert column(client, "SHOW MEASUREMENTS") == [["hostile"]]
    assert sorted(k for [k] in column(client, "SHOW TAG KEYS")) == sorted(HOSTILE_TAGS)
    field_keys = sorted(column(client, "SHOW FIELD KEYS"))
    assert field_keys == sorted([["count", "integer"], *[[f"s_{k}", "string"] for k in STRINGS]])


def test_newline_is_stored_as_backslash_n(client):
    client.write(line("m", {}, {"s": "a\nb"}, T).encode())
    [row] = values(client, "SELECT s FROM m")
    assert row["s"] == "a\\nb"
    assert len(row["s"]) == 4


def test_odd_measurement_and_field_keys(client):
    measurement = 'my m,x="y"'
    fields = {"f k": 1, "g=h": 2.5, "i,j": True, 'k"l': "v"}
    client.write(line(measurement, {"t k": "v 1"}, fields, T).encode())
    assert column(client, "SHOW MEASUREMENTS") == [[measurement]]
    [row] = values(client, f"SELECT * FROM {ident(measurement)}")
    assert row == {"time": T, "f k": 1, "g=h": 2.5, "i,j": True, 'k"l': "v", "t k": "v 1"}
    assert sorted(column(client, "SHOW FIELD KEYS")) == [
        ["f k", "integer"], ["g=h", "float"], ["i,j", "boolean"], ['k"l', "string"]
    ]  # fmt: skip
    assert column(client, "SHOW TAG KEYS") == [["t k"]]


def test_numbers_round_trip(client):
    floats = [0.1, 1e20, 1e-7, -0.25, 123456.789, 1.7976931348623157e308, 5e-324]
    ints = [0, -1, 2**63 - 1, -(2**63) + 1]
    lines = [line("n", {"k": str(i)}, {"f": f, "i": ints[i % len(ints)], "b": i % 2 == 0}, T + i)
             for i, f in enumerate(floats)]  # fmt: skip
    client.write("\n".join(lines).encode())
    rows = values(client, "SELECT f, i, b FROM n ORDER BY time")
    assert [r["f"] for r in rows] == floats
    assert [r["i"] for r in rows] == [ints[i % len(ints)] for i in range(len(floats))]
    assert [r["b"] for r in rows] == [i % 2 == 0 for i in range(len(floats))]


def test_readings_status_and_refusals_round_trip(client):
    encoder = ReadingEncoder({"wz-lib": {"region": "zhejiang/wenzhou/lucheng", "type": "library hall"}})
    lines = [
        encoder.reading(Reading("wz-lib", "door-1", T - 2_500_000_000, T, 12, 3, 2, 1, 7, True)),
        encoder.reading(Reading("wz-lib", "door-1", T + 1, T + 1, uses=4)),
        status_line(StatusChange("wz-lib", "door-1", False, T + 2)),
        refusal_line(Refusal(RefusalReason.UNKNOWN_FIELD, "d", 'a "b"\\\nc', "wz-lib", "door-1"), True, T + 3),
        refusal_line(Refusal(RefusalReason.BAD_TOPIC, "d", "topic"), False, T + 4),
    ]
    client.write("\n".join(lines).encode())
    rows = values(client, "SELECT * FROM reading ORDER BY time")
    common = {"facility": "wz-lib", "region": "zhejiang/wenzhou/lucheng", "sensor": "door-1", "type": "library hall"}
    assert rows == [
        {"time": T - 2_500_000_000, "occupancy": 12, "entries": 3, "exits": 2, "uses": 1, "seq": 7,
         "over_capacity": True, "arrival_delay_ms": 2500, "received_ms": T // 1_000_000, **common},
        {"time": T + 1, "occupancy": None, "entries": None, "exits": None, "uses": 4, "seq": None,
         "over_capacity": None, "arrival_delay_ms": 0, "received_ms": T // 1_000_000, **common},
    ]  # fmt: skip
    assert values(client, "SELECT * FROM sensor_status") == [
        {"time": T + 2, "facility": "wz-lib", "sensor": "door-1", "online": False}
    ]
    assert values(client, "SELECT * FROM refusal ORDER BY time") == [
        {"time": T + 3, "count": 1, "facility": "wz-lib", "path": 'a "b"\\\\nc', "reason": "unknown_field",
         "sensor": "door-1"},
        {"time": T + 4, "count": 1, "facility": None, "path": "topic", "reason": "bad_topic", "sensor": None},
    ]  # fmt: skip
    assert sorted(column(client, "SHOW MEASUREMENTS")) == [["reading"], ["refusal"], ["sensor_status"]]
    assert sorted(k for [k] in column(client, "SHOW TAG KEYS FROM reading")) == ["facility", "region", "sensor", "type"]
    assert sorted(k for [k] in column(client, "SHOW TAG KEYS FROM refusal")) == ["facility", "reason"]


def test_literal_selects_exactly_the_written_tag(client):
    client.write("\n".join(line("m", {"t": v}, {"i": n}, T + n) for n, v in enumerate(HOSTILE_TAGS.values())).encode())
    for n, value in enumerate(HOSTILE_TAGS.values()):
        rows = values(client, f"SELECT i, t FROM m WHERE t = {literal(value)}")
        assert rows == [{"time": T + n, "i": n, "t": value}]


def test_regex_literal_matches_exactly(client):
    tags = ["a.b", "axb", "a/b", "x|y", "x", "(g)", "g", "^$*+?", "zhejiang/wenzhou", "zhejiang/wenzhou/lucheng"]
    client.write("\n".join(line("r", {"v": v}, {"i": 1}, T) for v in tags).encode())
    for value in tags:
        rows = column(client, f"SHOW TAG VALUES FROM r WITH KEY = v WHERE v =~ {regex_literal(value)}")
        assert rows == [["v", value]], value
    rows = column(client, f"SHOW TAG VALUES FROM r WITH KEY = v WHERE v =~ {regex_literal('zhejiang/wenzhou', True)}")
    assert rows == [["v", "zhejiang/wenzhou"], ["v", "zhejiang/wenzhou/lucheng"]]
