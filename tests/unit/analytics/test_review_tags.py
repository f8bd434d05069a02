"""A review's point carries its facility's region and type (the dashboards narrow reviews by them)."""

from __future__ import annotations

from datetime import date

import pytest

from analytics.alerts.decide import Disposition, Review
from analytics.alerts.review_history import Undo
from analytics.alerts.reviews import ReviewError, review_line, undo_line
from tests.unit.analytics.helpers import facility

REVIEW = Review("lib-1", Disposition.CONFIRMED, "empty, 三月以来", date(2026, 12, 31), "张伟",
                1_700_000_000_000_000_000)


def test_the_registry_entry_adds_region_and_type_tags() -> None:
    where = facility("lib-1", region="浙江省/丽水市/缙云县", type="library")
    assert review_line(REVIEW, where).startswith(
        "review,disposition=confirmed,facility=lib-1,region=浙江省/丽水市/缙云县,type=library note=")
    undo = Undo("lib-1", "abc123", "wrong facility", "张伟", 1_700_000_000_000_000_001)
    assert undo_line(undo, where).startswith(
        "review,disposition=undo,facility=lib-1,region=浙江省/丽水市/缙云县,type=library note=")


def test_without_an_entry_the_point_is_as_before() -> None:
    assert review_line(REVIEW).startswith("review,disposition=confirmed,facility=lib-1 note=")


def test_another_facilitys_entry_is_refused() -> None:
    with pytest.raises(ReviewError, match="'gym-1', not 'lib-1'"):
        review_line(REVIEW, facility("gym-1"))
