"""How refusal notices say times and durations, so an integrator reads them without a calculator. Pure.

A notice once said `ts is older than the maximum age (3024000 s)` about a ts of 100000000000 (issue 17): nobody
could tell what date the device had sent, nor that the limit is 35 days. Durations are said in the largest unit
that fits (with the next one when it matters), instants as RFC 3339 in UTC and, where the facility is known, in
its own time zone.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, tzinfo

_UNITS = (("day", 86_400), ("hour", 3_600), ("minute", 60), ("second", 1))
_NS = 1_000_000_000
#: datetime cannot show years outside 1..9999; a ts beyond them is shown as its epoch number.
_MIN_NS, _MAX_NS = -62_135_596_800 * _NS, 253_402_300_799 * _NS


def duration(seconds: float) -> str:
    """`35 days`, `2 hours 5 minutes`, `35 days 1 second`: the two largest units that are not zero."""
    whole = int(abs(seconds))
    if whole == 0:
        return "0 seconds"
    parts = []
    for name, size in _UNITS:
        count, whole = divmod(whole, size)
        if count:
            parts.append(f"{count:,} {name}{'' if count == 1 else 's'}")
    return " ".join(parts[:2])


def instant(ts_ns: int, zone: tzinfo | None = None) -> str:
    """RFC 3339 to the second, in UTC or in `zone`; an epoch beyond year 1..9999 as its number of seconds."""
    if not _MIN_NS <= ts_ns <= _MAX_NS:
        return f"{ts_ns // _NS} s since 1970"
    moment = datetime.fromtimestamp(ts_ns // _NS, UTC)
    if zone is not None:
        with contextlib.suppress(OverflowError):  # the year 1 in a zone east of UTC... is still year 1 in UTC
            moment = moment.astimezone(zone)
    return moment.isoformat().replace("+00:00", "Z") if zone is None else moment.isoformat()
