"""The topic grammar: which topics are readings and statuses, which are refused, which are facmon's own."""

from __future__ import annotations

import pytest

from sensors.contract import (
    ID_PATTERN,
    MessageKind,
    Refusal,
    RefusalReason,
    Topic,
    TopicGrammar,
    is_valid_id,
)

G = TopicGrammar("facmon/v1")
ID_63 = "a" * 63
ID_64 = "a" * 64


def test_parse_reading_topic():
    assert G.parse("facmon/v1/wz-lib_01/door-1/reading") == Topic("wz-lib_01", "door-1", MessageKind.READING)


def test_parse_status_topic():
    assert G.parse("facmon/v1/lib/s1/status") == Topic("lib", "s1", MessageKind.STATUS)


def test_ids_may_be_digits_only_and_63_chars_long():
    assert G.parse(f"facmon/v1/0/{ID_63}/reading") == Topic("0", ID_63, MessageKind.READING)


@pytest.mark.parametrize(("facility", "sensor"), [("lib", "s1"), ("0", "9"), (ID_63, "a_b-c"), ("x-", "y_")])
def test_build_then_parse_round_trips(facility, sensor):
    assert G.reading(facility, sensor) == f"facmon/v1/{facility}/{sensor}/reading"
    assert G.status(facility, sensor) == f"facmon/v1/{facility}/{sensor}/status"
    assert G.parse(G.reading(facility, sensor)) == Topic(facility, sensor, MessageKind.READING)
    assert G.parse(G.status(facility, sensor)) == Topic(facility, sensor, MessageKind.STATUS)


def test_fixed_topics():
    assert G.subscription == "facmon/v1/#"
    assert G.unparseable_notice_topic == "facmon/v1/_rejected"
    assert G.notice("lib", "s1") == "facmon/v1/lib/s1/rejected"
    assert G.alert("lib") == "facmon/v1/alerts/lib"


def test_trailing_slash_of_prefix_is_ignored():
    grammar = TopicGrammar("facmon/v1/")
    assert grammar.prefix == "facmon/v1"
    assert grammar.reading("lib", "s1") == "facmon/v1/lib/s1/reading"
    assert grammar.parse("facmon/v1/lib/s1/reading") == Topic("lib", "s1", MessageKind.READING)


def test_deeper_prefix():
    grammar = TopicGrammar("city/wz/facmon/v2")
    assert grammar.parse("city/wz/facmon/v2/lib/s1/status") == Topic("lib", "s1", MessageKind.STATUS)
    assert isinstance(grammar.parse("facmon/v1/lib/s1/status"), Refusal)


LEVEL_ERRORS = [
    "facmon/v1/lib/s1",  # too few levels
    "facmon/v1/lib",
    "facmon/v1/",
    "facmon/v1/lib/s1/reading/extra",  # too many levels
    "facmon/v1/lib/s1/reading/",
    "facmon/v1/lib/s1/x/reading",
    "facmon/v1//lib/s1/reading",
    "facmon/v1/lib/s1/reading/x/y",
]

ID_ERRORS = [
    ("facmon/v1/li b/s1/reading", "space in facility"),
    ("facmon/v1/lib/s 1/reading", "space in sensor"),
    ("facmon/v1/li,b/s1/reading", "comma"),
    ("facmon/v1/lib/s1,x=1/reading", "comma and equals"),
    ('facmon/v1/"lib"/s1/reading', "double quote"),
    ("facmon/v1/lib/s'1/reading", "single quote"),
    ("facmon/v1/li\nb/s1/reading", "newline"),
    ("facmon/v1/lib/s1\n/reading", "trailing newline"),
    ("facmon/v1/#/s1/reading", "hash"),
    ("facmon/v1/lib/+/reading", "plus"),
    ("facmon/v1/Lib/s1/reading", "uppercase facility"),
    ("facmon/v1/lib/S1/reading", "uppercase sensor"),
    ("facmon/v1/图书馆/s1/reading", "chinese"),
    ("facmon/v1/café/s1/reading", "latin accent"),
    ("facmon/v1/lib/ｓ1/reading", "fullwidth letter"),
    ("facmon/v1/lib/s١/reading", "arabic-indic digit"),
    (f"facmon/v1/{ID_64}/s1/reading", "64-char facility"),
    (f"facmon/v1/lib/{ID_64}/reading", "64-char sensor"),
    ("facmon/v1//s1/reading", "empty facility"),
    ("facmon/v1/lib//reading", "empty sensor"),
    ("facmon/v1/-lib/s1/reading", "leading dash"),
    ("facmon/v1/lib/_s1/reading", "leading underscore"),
    ("facmon/v1/lib/s.1/reading", "dot"),
    ("facmon/v1/lib/s1\x00/reading", "NUL"),
    ("facmon/v1/lib\t/s1/reading", "tab"),
]

KIND_ERRORS = [
    "facmon/v1/lib/s1/readings",
    "facmon/v1/lib/s1/Reading",
    "facmon/v1/lib/s1/STATUS",
    "facmon/v1/lib/s1/",
    "facmon/v1/lib/s1/data",
    "facmon/v1/lib/s1/reading ",
]

OUTSIDE_PREFIX = [
    "other/v1/lib/s1/reading",
    "facmon/v2/lib/s1/reading",
    "facmon/v1x/lib/s1/reading",
    "/facmon/v1/lib/s1/reading",
    "facmon/v1",
    "",
    "lib/s1/reading",
]


@pytest.mark.parametrize("topic", LEVEL_ERRORS)
def test_wrong_level_count_is_bad_topic(topic):
    result = G.parse(topic)
    assert isinstance(result, Refusal)
    assert result.reason is RefusalReason.BAD_TOPIC
    assert result.path is None
    assert result.detail == "expected facmon/v1/<facility_id>/<sensor_id>/reading or /status"


@pytest.mark.parametrize(("topic", "why"), ID_ERRORS, ids=[why for _, why in ID_ERRORS])
def test_invalid_id_is_bad_topic(topic, why):
    result = G.parse(topic)
    assert isinstance(result, Refusal), why
    assert result.reason is RefusalReason.BAD_TOPIC
    assert result.path == "topic"
    assert ID_PATTERN in result.detail
    assert result.facility is None
    assert result.sensor is None


@pytest.mark.parametrize("topic", KIND_ERRORS)
def test_unknown_kind_is_bad_topic(topic):
    result = G.parse(topic)
    assert result == Refusal(RefusalReason.BAD_TOPIC, "last topic level must be 'reading' or 'status'", "topic")


@pytest.mark.parametrize("topic", OUTSIDE_PREFIX)
def test_topic_outside_prefix_is_bad_topic(topic):
    result = G.parse(topic)
    assert result == Refusal(RefusalReason.BAD_TOPIC, "topic is not under facmon/v1/")


@pytest.mark.parametrize(
    ("topic", "own"),
    [
        ("facmon/v1/_rejected", True),
        ("facmon/v1/alerts/x", True),
        ("facmon/v1/alerts/lib", True),
        ("facmon/v1/a/b/rejected", True),
        ("facmon/v1/lib/s1/rejected", True),
        ("facmon/v1/lib/s1/reading", False),
        ("facmon/v1/lib/s1/status", False),
        ("facmon/v1/_rejected/x", False),
        ("facmon/v1/alerts", False),
        ("facmon/v1/a/b/c/rejected", False),
        ("facmon/v1/a/rejected", False),
        ("other/_rejected", False),
        ("facmon/v2/alerts/x", False),
        ("facmon/v1x/_rejected", False),
    ],
)
def test_is_own_output(topic, own):
    assert G.is_own_output(topic) is own


BAD_IDS = ["", "Lib", "li b", "li,b", 'li"b', "li\nb", "li/b", "#", "+", "图书馆", ID_64, "-a", "a.b"]


@pytest.mark.parametrize("bad", BAD_IDS)
def test_building_with_invalid_id_raises(bad):
    with pytest.raises(ValueError, match="invalid facility or sensor id"):
        G.reading(bad, "s1")
    with pytest.raises(ValueError, match="invalid facility or sensor id"):
        G.reading("lib", bad)
    with pytest.raises(ValueError, match="invalid facility or sensor id"):
        G.status(bad, "s1")
    with pytest.raises(ValueError, match="invalid facility or sensor id"):
        G.notice("lib", bad)
    with pytest.raises(ValueError, match="invalid facility id"):
        G.alert(bad)


@pytest.mark.parametrize("value", [None, 1, b"lib", ["lib"], "lib\n", " lib"])
def test_is_valid_id_rejects_non_ids(value):
    assert is_valid_id(value) is False


@pytest.mark.parametrize("value", ["lib", "0", "a-b_c", ID_63])
def test_is_valid_id_accepts_ids(value):
    assert is_valid_id(value) is True


def test_a_facilitys_notice_topic_is_facmons_own_output() -> None:
    assert G.facility_notice("lib") == "facmon/v1/lib/_rejected"
    assert G.is_own_output("facmon/v1/lib/_rejected")
    assert not G.is_own_output("facmon/v1/lib/_rejected/x")
    with pytest.raises(ValueError, match="invalid facility"):
        G.facility_notice("Lib/#")
