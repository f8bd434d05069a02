"""The digest in parts (analytics.alerts.digest): at most MAX_NOTICES a mail, parts of about equal size in order,
subjects saying which part, numbers going on across the parts, in English and Chinese."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from analytics.alerts.decide import Kind, Notice
from analytics.alerts.digest import MAX_NOTICES, digest_subject, digest_text, split_notices
from analytics.alerts.message import payload
from facmon.core.i18n import using
from tests.unit.analytics.test_alerts_auditors import AS_OF, result


def notices(count: int) -> list[dict]:
    base = result()
    return [payload(Notice(Kind.RAISED, replace(base, facility_id=f"lib-{i}"), AS_OF), None, [], None,
                    datetime(2025, 11, 3, tzinfo=UTC)) for i in range(1, count + 1)]


@pytest.mark.parametrize(("count", "sizes"), [
    (0, [0]), (1, [1]), (200, [200]), (201, [101, 100]), (400, [200, 200]), (401, [134, 134, 133]),
    (1000, [200] * 5),
])
def test_a_digest_carries_at_most_200_notices_in_parts_of_about_equal_size(count, sizes):
    items = list(range(count))
    parts = split_notices(items)
    assert [len(p) for p in parts] == sizes
    assert [i for p in parts for i in p] == items
    assert MAX_NOTICES == 200


def test_at_least_one_notice_a_mail():
    with pytest.raises(ValueError, match="at least one notice"):
        split_notices([1, 2], 0)


def test_the_subjects_say_which_part_in_each_language():
    found = notices(5)
    parts = split_notices(found, 2)
    assert [digest_subject(p, n, len(parts)) for n, p in enumerate(parts, 1)] == [
        "[facmon] 2 notices as of 2025-11-03 (part 1 of 3)",
        "[facmon] 2 notices as of 2025-11-03 (part 2 of 3)",
        "[facmon] 1 notices as of 2025-11-03 (part 3 of 3)",
    ]
    assert digest_subject(found) == "[facmon] 5 notices as of 2025-11-03"  # one mail: as before
    with using("zh_CN"):
        chinese = digest_subject(parts[1], 2, 3)
    assert chinese == "[facmon] 截至 2025-11-03 共 2 条提示（第 2 部分，共 3 部分）"


def test_the_numbers_go_on_across_the_parts():
    found = notices(5)
    text = digest_text(found[2:4], 3, 5)
    assert text.startswith("facmon: notices 3 to 4 of the 5 in this run\n")
    assert "\n3. " in text
    assert "\n4. " in text
    assert "\n1. " not in text
    assert "(lib-3)" in text
    assert digest_text(found).startswith("facmon: 5 notices in this run\n")
    with using("zh_CN"):
        assert digest_text(found[2:4], 3, 5).startswith("facmon：本次分析共 5 条提示，此处为第 3 至 4 条\n")
