"""The revisions query (analytics.integrity.revisions.statement): ids named up to MAX_NAMED, none above."""

from __future__ import annotations

from analytics.integrity import revisions
from facmon.core.influxql import MAX_NAMED


def test_up_to_max_named_facilities_are_named_and_quoted():
    ids = [f"f-{i:03d}" for i in range(MAX_NAMED)]
    text = revisions.statement(ids, 10, 20)
    assert text.startswith("SELECT * FROM \"revision\" WHERE (facility = 'f-000' OR facility = 'f-001' OR ")
    assert text.count(" OR ") == MAX_NAMED - 1
    assert text.endswith(") AND time >= 10 AND time < 20")
    assert revisions.statement([], 10, 20) == 'SELECT * FROM "revision" WHERE (false) AND time >= 10 AND time < 20'


def test_above_max_named_the_window_is_read_without_an_id_filter():
    ids = [f"f-{i:03d}" for i in range(MAX_NAMED + 1)]
    assert revisions.statement(ids, 10, 20) == 'SELECT * FROM "revision" WHERE time >= 10 AND time < 20'
