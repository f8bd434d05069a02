"""Line protocol text: escaping, field formatting, and the exact lines facmon writes."""

from __future__ import annotations

import math

import pytest

from facmon.core.lineproto import (
    LineProtocolError,
    column_lines,
    escape_key,
    escape_measurement,
    format_field,
    line,
    quote_string,
    series_key,
)
from ingest.points import ReadingEncoder, refusal_line, status_line
from sensors.contract import Reading, Refusal, RefusalReason, StatusChange, TopicGrammar
from sensors.parse import MessageParser

NS = 1_000_000_000
T = 1_764_000_000 * NS
TAGS = {"wz-lib": {"region": "zhejiang/wenzhou/lucheng", "type": "library"}}


# -- escaping ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "escaped"),
    [
        ("reading", "reading"),
        ("a b", r"a\ b"),
        ("a,b", r"a\,b"),
        ("a=b", "a=b"),  # '=' needs no escape in a measurement
        ("a b,c=d", r"a\ b\,c=d"),
        ('say "hi"', r'say\ "hi"'),
        ("图书馆", "图书馆"),
    ],
)
def test_escape_measurement(text, escaped):
    assert escape_measurement(text) == escaped


@pytest.mark.parametrize(
    ("text", "escaped"),
    [
        ("facility", "facility"),
        ("a b", r"a\ b"),
        ("a,b", r"a\,b"),
        ("a=b", r"a\=b"),
        (" ,=", r"\ \,\="),
        ("a b,c=d", r"a\ b\,c\=d"),
        ('say "hi"', r'say\ "hi"'),
        ("it's", "it's"),
        ("鹿城区 图书馆", r"鹿城区\ 图书馆"),
        ("zhejiang/wenzhou", "zhejiang/wenzhou"),
    ],
)
def test_escape_key(text, escaped):
    assert escape_key(text) == escaped


@pytest.mark.parametrize("text", ["", "a\nb", "a\rb", "\n", "a\\b", "a\\", "\\ ", "ends\r\n"])
@pytest.mark.parametrize("escape", [escape_key, escape_measurement])
def test_tag_and_key_text_that_line_protocol_cannot_carry_is_refused(escape, text):
    with pytest.raises(LineProtocolError):
        escape(text)


@pytest.mark.parametrize(
    ("text", "quoted"),
    [
        ("plain", '"plain"'),
        ("", '""'),
        ('a"b', '"a\\"b"'),
        ("a\\b", '"a\\\\b"'),
        ("a\\", '"a\\\\"'),
        ("a\nb", '"a\\nb"'),
        ("a\rb", '"a\\rb"'),
        ("a b,c=d", '"a b,c=d"'),
        ("中文", '"中文"'),
        ('\\"', '"\\\\\\""'),
    ],
)
def test_quote_string(text, quoted):
    assert quote_string(text) == quoted


def test_newline_becomes_two_characters():
    quoted = quote_string("x\ny")
    assert "\n" not in quoted
    assert quoted[2:4] == "\\n"
    assert len(quoted) == len("x\ny") + 3


# -- fields ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (True, "true"),
        (False, "false"),
        (0, "0i"),
        (42, "42i"),
        (-5, "-5i"),
        (2**63 - 1, "9223372036854775807i"),
        (1.5, "1.5"),
        (0.1, "0.1"),
        (-0.25, "-0.25"),
        (3.0, "3.0"),
        (1e20, "1e+20"),
        ("x", '"x"'),
        ('q"', '"q\\""'),
    ],
)
def test_format_field(value, text):
    assert format_field(value) == text


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_format_field_refuses_nan_and_infinity(value):
    with pytest.raises(LineProtocolError):
        format_field(value)


def test_series_key_sorts_tags_and_drops_empty_values():
    assert series_key("m", {"b": "2", "a": "1", "c": ""}) == "m,a=1,b=2"
    assert series_key("m x", {"t k": "v,1"}) == r"m\ x,t\ k=v\,1"
    assert series_key("m", {}) == "m"


def test_series_key_refuses_empty_tag_key():
    with pytest.raises(LineProtocolError):
        series_key("m", {"": "v"})


def test_line():
    text = line("m", {"z": "1", "a": "x y"}, {"i": 3, "f": 0.5, "b": True, "s": 'he said "hi"\n'}, 123)
    assert text == r'm,a=x\ y,z=1 i=3i,f=0.5,b=true,s="he said \"hi\"\n" 123'


def test_line_leaves_out_none_fields():
    assert line("m", {}, {"a": None, "b": 1, "c": None}, 5) == "m b=1i 5"


def test_line_needs_a_field():
    with pytest.raises(LineProtocolError, match="at least one field"):
        line("m", {"t": "v"}, {"a": None}, 5)
    with pytest.raises(LineProtocolError):
        line("m", {}, {}, 5)


def test_line_escapes_field_keys():
    assert line("m", {}, {"a b": 1, "c=d": 2, "e,f": 3}, 0) == r"m a\ b=1i,c\=d=2i,e\,f=3i 0"


def _rows(tags, fields, count):
    return [({k: v[i] for k, v in tags.items()}, {k: v[i] for k, v in fields.items()}) for i in range(count)]


def test_column_lines_are_the_lines_of_each_row():
    """Awkward values: escapes in every part, empty tag values, None fields, ints, bools, floats (repr), strings
    with quotes, backslashes, newlines, non-ASCII and a lone surrogate, columns of mixed types."""
    tags = {"z k": ["a b", "", "c,d=e", "图书馆", "x"], "a": ["1", "2", "", "", "v"], "": ["", "", "", "", ""]}
    fields = {
        "i": [0, -5, 2**63 - 1, 7, 12],
        "f": [0.1, -0.0, 1e20, 3.0, 1e-05],
        "b=c": [True, False, None, True, False],
        "s,t": ['say "hi"\n', "", "back\\slash", "图\ud800", None],
        "mixed": [1, 2.5, True, "x", None],
        "sometimes": [None, None, 4, None, None],
    }
    ts = [0, 1, 2**62, 5, 6]
    expected = [line("m x,y", row_tags, row_fields, t) for (row_tags, row_fields), t in
                zip(_rows(tags, fields, 5), ts, strict=True)]
    assert column_lines("m x,y", tags, fields, ts) == expected
    assert column_lines("m", {"t": ["v"] * 2}, {"a": [1, 2]}, [3, 4]) == ["m,t=v a=1i 3", "m,t=v a=2i 4"]
    assert column_lines("m", {}, {"a": []}, []) == []


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_column_lines_refuse_what_line_refuses(bad):
    with pytest.raises(LineProtocolError, match="NaN"):
        column_lines("m", {}, {"a": [1.0, bad]}, [1, 2])
    with pytest.raises(LineProtocolError, match="NaN"):
        column_lines("m", {}, {"a": [1, bad]}, [1, 2])
    with pytest.raises(LineProtocolError, match="at least one field"):
        column_lines("m", {}, {"a": [1, None], "b": [None, None]}, [1, 2])
    with pytest.raises(LineProtocolError, match="at least one field"):
        column_lines("m", {}, {}, [1])
    with pytest.raises(LineProtocolError, match="line break"):
        column_lines("m", {"t": ["ok", "a\nb"]}, {"a": [1, 2]}, [1, 2])
    with pytest.raises(LineProtocolError, match="other length"):
        column_lines("m", {"t": ["ok"]}, {"a": [1, 2], "b": [1]}, [1, 2])


# -- facmon's lines ----------------------------------------------------------------------------------------------


def test_reading_with_all_fields():
    encoder = ReadingEncoder(TAGS)
    reading = Reading("wz-lib", "door-1", T - 1_500_000_000, T, 12, 3, 2, 1, 7, True)
    assert encoder.reading(reading) == (
        "reading,facility=wz-lib,region=zhejiang/wenzhou/lucheng,sensor=door-1,type=library "
        "occupancy=12i,entries=3i,exits=2i,uses=1i,seq=7i,over_capacity=true,arrival_delay_ms=1500i,"
        "received_ms=1764000000000i "
        f"{T - 1_500_000_000}"
    )


def test_reading_with_some_fields_none():
    encoder = ReadingEncoder(TAGS)
    reading = Reading("wz-lib", "door-1", T - 2_000_000, T, occupancy=None, entries=None, exits=None, uses=4)
    assert encoder.reading(reading) == (
        "reading,facility=wz-lib,region=zhejiang/wenzhou/lucheng,sensor=door-1,type=library "
        f"uses=4i,arrival_delay_ms=2i,received_ms=1764000000000i {T - 2_000_000}"
    )


def test_reading_zero_counts_are_written():
    encoder = ReadingEncoder(TAGS)
    reading = Reading("wz-lib", "s", T, T, occupancy=0, entries=0, exits=0, uses=0, seq=0)
    assert encoder.reading(reading).split(" ")[1] == (
        "occupancy=0i,entries=0i,exits=0i,uses=0i,seq=0i,arrival_delay_ms=0i,received_ms=1764000000000i"
    )


def test_reading_of_facility_without_tags():
    encoder = ReadingEncoder({})
    reading = Reading("gym", "s1", T, T + 999_999, occupancy=1)
    assert encoder.reading(reading) == (
        f"reading,facility=gym,sensor=s1 occupancy=1i,arrival_delay_ms=0i,received_ms=1764000000000i {T}")


def test_reading_arrival_delay_floors_to_milliseconds():
    encoder = ReadingEncoder({})
    ahead = Reading("gym", "s1", T + 1, T, uses=1)  # the sensor's clock 1 ns ahead
    assert "arrival_delay_ms=-1i" in encoder.reading(ahead)


def test_reading_stores_its_receive_time_in_milliseconds():
    """late_arrival needs each reading's exact arrival, which the per-slot mean of the delay cannot give."""
    encoder = ReadingEncoder({})
    text = encoder.reading(Reading("gym", "s1", T - 3 * NS, T + 1_999_999, uses=1))
    assert text.split(" ")[1].split(",")[-1] == f"received_ms={(T + 1_999_999) // 1_000_000}i"
    assert text.split(" ")[1].split(",")[-1] == "received_ms=1764000000001i"


def test_reading_tags_are_escaped_and_sorted():
    encoder = ReadingEncoder({"lib": {"region": "a b,c=d", "type": "library", "zone": "north"}})
    text = encoder.reading(Reading("lib", "s1", T, T, occupancy=1))
    assert text.startswith(r"reading,facility=lib,region=a\ b\,c\=d,sensor=s1,type=library,zone=north occupancy=1i")


def test_reading_encoder_reuses_series_key_per_sensor():
    encoder = ReadingEncoder(TAGS)
    first = encoder.reading(Reading("wz-lib", "a", T, T, occupancy=1))
    second = encoder.reading(Reading("wz-lib", "a", T + NS, T + NS, occupancy=2))
    other = encoder.reading(Reading("wz-lib", "b", T, T, occupancy=3))
    assert first.split(" ")[0] == second.split(" ")[0]
    assert "sensor=b" in other.split(" ")[0]
    assert second.endswith(f"occupancy=2i,arrival_delay_ms=0i,received_ms=1764000001000i {T + NS}")


def test_status_line():
    assert status_line(StatusChange("lib", "s1", True, T)) == f"sensor_status,facility=lib,sensor=s1 online=true {T}"
    assert status_line(StatusChange("lib", "s1", False, T)) == f"sensor_status,facility=lib,sensor=s1 online=false {T}"


def test_refusal_line_known_facility():
    refusal = Refusal(RefusalReason.WRONG_TYPE, "occupancy must be ...", "[1].occupancy", "lib", "s1")
    assert refusal_line(refusal, True, T) == (
        f'refusal,facility=lib,reason=wrong_type count=1i,sensor="s1",path="[1].occupancy" {T}'
    )


def test_refusal_line_unknown_facility_has_no_facility_tag():
    refusal = Refusal(RefusalReason.UNKNOWN_FACILITY, "facility 'x' ...", "topic", "x", "s1")
    # the id is kept as a field (facmon devices lists the sensors that tried), never a tag: no series per guess
    assert refusal_line(refusal, False, T) == (
        f'refusal,reason=unknown_facility count=1i,unknown_facility="x",sensor="s1",path="topic" {T}'
    )


def test_refusal_line_known_flag_without_facility():
    refusal = Refusal(RefusalReason.BAD_TOPIC, "topic is not under facmon/v1/")
    assert refusal_line(refusal, True, T) == f"refusal,reason=bad_topic count=1i {T}"


def test_refusal_line_quotes_and_truncates_the_path():
    refusal = Refusal(RefusalReason.UNKNOWN_FIELD, "unknown field", 'a "b"\\\n' + "x" * 300, "lib", "s1")
    text = refusal_line(refusal, True, T)
    assert text.startswith('refusal,facility=lib,reason=unknown_field count=1i,sensor="s1",path="a \\"b\\"\\\\\\nxx')
    assert text.endswith(f'\\n{"x" * 193}" {T}')  # path[:200]: 7 characters, then 193 x
    assert "\n" not in text


def test_parser_refusals_make_writable_lines():
    """Every refusal the parser makes from ordinary junk becomes one UTF-8 line."""
    parser = MessageParser(TopicGrammar("facmon/v1"), {"lib": 10}, 86400)
    payloads = [b"{", b"[]", b'{"ts":1,"x y,z=1":1}', b'{"ts":"2025","occupancy":1,"\\"\\n":2}', b'"s"']
    for payload in payloads:
        for refusal in parser.parse("facmon/v1/lib/s1/reading", payload, T).refusals:
            text = refusal_line(refusal, True, T)
            assert text.count("\n") == 0
            text.encode("utf-8")


def test_a_lone_surrogate_key_is_refused_as_bad_encoding():
    parser = MessageParser(TopicGrammar("facmon/v1"), {"lib": 10}, 86400)
    result = parser.parse("facmon/v1/lib/s1/reading", b'{"ts":1,"occupancy":1,"\\ud800":1}', T)
    [refusal] = result.refusals
    assert refusal.reason is RefusalReason.BAD_ENCODING
    refusal_line(refusal, True, T).encode("utf-8")


def test_string_fields_with_lone_surrogates_still_encode():
    assert quote_string("a\ud800b").encode("utf-8") == b'"a\\\\ud800b"'
