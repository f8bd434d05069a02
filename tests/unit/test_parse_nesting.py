"""Deeply nested JSON gets the same answer wherever the parser runs (found by tests/faults/test_hostile_input.py).

The standard library decoder recurses once per level, so around Python's recursion limit (~1,000 levels) whether a
payload decodes depended on how deep the caller's stack already was: the ingester's MQTT thread refused a
999-level array as bad_json while a test predicting it got bad_shape. The parser now refuses anything nested more
than 64 levels itself.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from sensors.contract import TopicGrammar
from sensors.parse import MessageParser

PARSER = MessageParser(TopicGrammar("facmon/v1"), {"lib": 10}, 35 * 86_400)
TOPIC = "facmon/v1/lib/s1/reading"
NOW_NS = 1_764_000_000 * 1_000_000_000


def reasons(payload: bytes) -> list[str]:
    return [refusal.reason.value for refusal in PARSER.parse(TOPIC, payload, NOW_NS).refusals]


def at_stack_depth(depth: int, call: Callable[[], list[str]]) -> list[str]:
    """Run `call` with `depth` more Python frames on the stack."""
    return call() if depth == 0 else at_stack_depth(depth - 1, call)


def nested_array(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def nested_value(depth: int) -> bytes:
    return b'{"ts": 1764000000, "occupancy": ' + nested_array(depth) + b"}"


@pytest.mark.parametrize("depth", [65, 500, 900, 950, 990, 999, 1000, 1001, 5000])
@pytest.mark.parametrize("stack", [0, 300, 800])
def test_deep_nesting_is_bad_json_whatever_the_callers_stack(depth: int, stack: int) -> None:
    assert at_stack_depth(stack, lambda: reasons(nested_array(depth))) == ["bad_json"]
    assert at_stack_depth(stack, lambda: reasons(nested_value(depth))) == ["bad_json"]


def test_nesting_up_to_the_limit_gets_its_ordinary_reason() -> None:
    assert reasons(nested_array(64)) == ["bad_shape"]  # an array whose one item is not an object
    assert reasons(nested_value(63)) == ["wrong_type"]  # the object is the 64th level
    assert reasons(nested_value(64)) == ["bad_json"]
