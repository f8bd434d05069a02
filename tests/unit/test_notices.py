"""Notices that explain in one round (issue 17): durations and dates in human terms, every problem of a reading."""

from __future__ import annotations

import json
from zoneinfo import ZoneInfo

import pytest

from ingest.notices import RetainedNotices, notice_body
from sensors.contract import READING_ERRORS, RefusalReason, TopicGrammar
from sensors.parse import MessageParser
from sensors.wording import duration, instant

NOW_NS = 1_795_840_410 * 10**9  # 2026-11-28


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(3_024_000, "35 days"), (300, "5 minutes"), (1, "1 second"), (0, "0 seconds"), (7_500, "2 hours 5 minutes"),
     (3_024_001, "35 days 1 second"), (86_400 * 20_000, "20,000 days")],
)
def test_durations_are_said_in_the_largest_units(seconds: int, text: str) -> None:
    assert duration(seconds) == text


def test_instants_in_utc_and_in_a_zone_and_beyond_the_calendar() -> None:
    assert instant(100_000_000_000 * 10**6) == "1973-03-03T09:46:40Z"
    assert instant(100_000_000_000 * 10**6, ZoneInfo("Asia/Shanghai")) == "1973-03-03T17:46:40+08:00"
    assert instant(10**15 * 10**9) == "1000000000000000 s since 1970"


def parse(payload: dict[str, object]) -> list:
    parser = MessageParser(TopicGrammar("facmon/v1"), {"lib": 100}, 35 * 86_400)
    return parser.parse("facmon/v1/lib/s1/reading", json.dumps(payload).encode(), NOW_NS).refusals


def test_every_problem_of_a_reading_is_named_at_once() -> None:
    [refusal] = parse({"ts": 1, "occupancy": -3})
    assert refusal.reason is RefusalReason.OUT_OF_RANGE
    assert [(r.reason, r.path) for r in refusal.more] == [(RefusalReason.TS_TOO_OLD, "ts")]
    assert refusal.ts_ns == 10**9
    [many] = parse({"ts": 1, **{f"x{i}": 1 for i in range(20)}})
    assert 1 + len(many.more) == READING_ERRORS  # bounded


def test_the_notice_shows_every_problem_and_the_ts_in_utc_and_local_time() -> None:
    [refusal] = parse({"ts": 100_000_000_000, "occupancy": -3})
    body = json.loads(notice_body("facmon/v1/lib/s1/reading", b"{}", refusal, NOW_NS, ZoneInfo("Asia/Shanghai")))
    assert [e["reason"] for e in body["errors"]] == ["out_of_range", "ts_too_old"]
    assert body["ts"] == {"utc": "1973-03-03T09:46:40Z", "local": "1973-03-03T17:46:40+08:00", "zone": "Asia/Shanghai"}
    assert "the maximum age is 35 days" in body["errors"][1]["detail"]
    assert "3024000" not in json.dumps(body)


def test_retained_notices_are_tracked_up_to_a_bound() -> None:
    retained = RetainedNotices(limit=2)
    assert not retained
    retained.retained("lib", "a")
    retained.retained("lib", "b")
    assert ("lib", "a") in retained
    assert not retained.may_retain("lib", "c")  # full: c's notice goes out, not retained
    assert retained.may_retain("lib", "a")  # a's replaces its own
    retained.cleared("lib", "a")
    assert retained.may_retain("lib", "c")
