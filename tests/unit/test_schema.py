"""The published JSON Schema is valid draft 2020-12 and agrees with the parser on typical payloads.

A schema cannot check that ts lies within the accepted age or future window, that keys are not repeated
(JSON Schema sees a decoded object), or that the facility is in the registry; the table leaves those out and
uses timestamps inside the window.
"""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest

from sensors.contract import MAX_BATCH_ITEMS, MAX_COUNT, MAX_SEQ, RefusalReason, TopicGrammar
from sensors.parse import MessageParser
from sensors.schema import reading_schema

NS = 1_000_000_000
R_S = 1_764_000_000  # 2025-11-24T16:00:00Z
TS = "2025-11-24T15:59:00Z"
PARSER = MessageParser(TopicGrammar("facmon/v1"), {"lib": 10}, 35 * 86400)
VALIDATOR = jsonschema.Draft202012Validator(reading_schema())


def ok(**fields: Any) -> dict[str, Any]:
    return {"ts": TS, **fields}


CASES: list[tuple[str, Any, bool]] = [
    ("occupancy", ok(occupancy=3), True),
    ("entries", ok(entries=0), True),
    ("uses", ok(uses=MAX_COUNT), True),
    ("all fields", ok(occupancy=1, entries=2, exits=3, uses=4, seq=MAX_SEQ), True),
    ("ts with offset and fraction", {"ts": "2025-11-24T23:59:00.123456789+08:00", "uses": 1}, True),
    ("ts lowercase", {"ts": "2025-11-24t15:59:00z", "uses": 1}, True),
    ("ts epoch seconds", {"ts": R_S - 60, "uses": 1}, True),
    ("ts epoch float", {"ts": R_S - 59.5, "uses": 1}, True),
    ("ts epoch ms", {"ts": (R_S - 60) * 1000, "uses": 1}, True),
    ("batch of one", [ok(occupancy=1)], True),
    ("batch", [ok(occupancy=1), ok(entries=2, seq=1), {"ts": R_S - 30, "uses": 3}], True),
    ("batch of max", [ok(uses=1)] * MAX_BATCH_ITEMS, True),
    ("over capacity still valid", ok(occupancy=MAX_COUNT), True),
    ("string top level", "reading", False),
    ("number top level", 42, False),
    ("null top level", None, False),
    ("empty array", [], False),
    ("array of number", [1], False),
    ("nested array", [[ok(uses=1)]], False),
    ("batch too large", [ok(uses=1)] * (MAX_BATCH_ITEMS + 1), False),
    ("batch with a bad reading", [ok(uses=1), ok(uses="1")], False),
    ("unknown field", ok(occupancy=1, temp=20), False),
    ("no ts", {"occupancy": 1}, False),
    ("no activity", ok(), False),
    ("exits only", ok(exits=3), False),
    ("string count", ok(occupancy="3"), False),
    ("bool count", ok(occupancy=True), False),
    ("float count", ok(occupancy=3.5), False),
    ("null count", ok(occupancy=None), False),
    ("object count", ok(occupancy={"n": 1}), False),
    ("negative count", ok(occupancy=-1), False),
    ("count too large", ok(uses=MAX_COUNT + 1), False),
    ("negative seq", ok(uses=1, seq=-1), False),
    ("seq too large", ok(uses=1, seq=MAX_SEQ + 1), False),
    ("string seq", ok(uses=1, seq="1"), False),
    ("ts bool", {"ts": True, "uses": 1}, False),
    ("ts object", {"ts": {}, "uses": 1}, False),
    ("ts null", {"ts": None, "uses": 1}, False),
    ("ts naive", {"ts": "2025-11-24T15:59:00", "uses": 1}, False),
    ("ts date only", {"ts": "2025-11-24", "uses": 1}, False),
    ("ts ten fraction digits", {"ts": "2025-11-24T15:59:00.1234567890Z", "uses": 1}, False),
]


def parser_accepts(payload: Any) -> bool:
    result = PARSER.parse("facmon/v1/lib/s1/reading", json.dumps(payload).encode(), R_S * NS)
    return not result.refusals and bool(result.readings)


def test_schema_is_valid_draft_2020_12():
    schema = reading_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_schema_limits_match_the_contract():
    schema = reading_schema()
    reading = schema["$defs"]["reading"]
    batch = schema["oneOf"][1]
    assert (batch["minItems"], batch["maxItems"]) == (1, MAX_BATCH_ITEMS)
    for name in ("occupancy", "entries", "exits", "uses"):
        assert (reading["properties"][name]["minimum"], reading["properties"][name]["maximum"]) == (0, MAX_COUNT)
    assert reading["properties"]["seq"]["maximum"] == MAX_SEQ
    assert set(reading["properties"]) == {"ts", "seq", "occupancy", "entries", "exits", "uses"}
    assert reading["additionalProperties"] is False


def test_schema_is_json_serialisable():
    assert json.loads(json.dumps(reading_schema())) == reading_schema()


@pytest.mark.parametrize(("name", "payload", "valid"), CASES, ids=[case[0] for case in CASES])
def test_schema_and_parser_agree(name, payload, valid):
    assert parser_accepts(payload) is valid, name
    assert VALIDATOR.is_valid(payload) is valid, name


@pytest.mark.parametrize("payload", [b'{"ts":1763999940,"occupancy":3.0}', b'{"ts":1763999940,"uses":1e2}'])
def test_integral_floats_are_the_documented_difference(payload):
    """JSON Schema's integer includes 3.0; the parser refuses it, and the schema's description says so."""
    result = PARSER.parse("facmon/v1/lib/s1/reading", payload, R_S * NS)
    assert [r.reason for r in result.refusals] == [RefusalReason.WRONG_TYPE]
    assert VALIDATOR.is_valid(json.loads(payload))
    assert "3.0" in reading_schema()["description"]
