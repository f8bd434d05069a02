"""Revisions (issue 17): a changed resend is recorded with old and new values; a redelivery is not."""

from __future__ import annotations

from ingest.revisions import RevisionWatch
from sensors.contract import Reading

T = 1_795_840_200 * 10**9


def reading(ts: int, occupancy: int, received: int) -> Reading:
    return Reading("lib", "s1", ts, received, occupancy)


def test_a_changed_resend_is_a_revision_and_an_identical_one_is_not() -> None:
    watch, out = RevisionWatch(), []
    watch.check([reading(T, 3, T + 10**9)], out)
    watch.check([reading(T, 3, T + 5 * 10**9)], out)  # redelivery
    assert out == []
    watch.check([reading(T, 500, T + 86_400 * 10**9)], out)
    assert out == [f"revision,facility=lib,sensor=s1 old_occupancy=3i,new_occupancy=500i,old_received_ms="
                   f"{(T + 10**9) // 10**6}i,new_received_ms={(T + 86_400 * 10**9) // 10**6}i {T}"]
    assert (watch.revisions, watch.redeliveries) == (1, 1)
    watch.check([reading(T, 500, T + 86_401 * 10**9)], out)  # the revised value again: a redelivery of it
    assert len(out) == 1


def test_memory_is_bounded_and_older_resends_are_counted_not_judged() -> None:
    watch, out = RevisionWatch(per_sensor=4, sensors=2), []
    watch.check([reading(T + i * 900 * 10**9, i, T + i * 900 * 10**9) for i in range(6)], out)
    watch.check([reading(T, 99, T + 10**12)], out)  # forgotten: cannot compare
    assert (out, watch.unchecked) == ([], 1)
    for sensor in ("a", "b", "c"):
        watch.check([Reading("lib", sensor, T, T, 1)], out)
    assert len(watch._recent) <= 2
