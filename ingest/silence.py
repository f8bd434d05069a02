"""The silence watch: tell the operator when the facilities that are open deliver (nearly) nothing.

Whatever stops the readings — a session emptied by someone holding the ingester's client id, a broker that lost
its subscriptions, an ACL that drops everything, a network cut in front of the devices — looks the same from
here: the facilities that are open send nothing. Acknowledged publishes and a quiet log would hide it for days
(issue 19), so the ingester raises an operator alert instead. Pure: the clock is passed in (`now`, epoch
seconds), so a test can pin it.

A facility is *expected* when it was open throughout the window (checked at its start, middle and end, in its
own time zone, minus closure days), by its hours as China's calendar changes them: a facility closed on statutory
holidays (``holidays: closed``) is not expected on National Day, and one that opens with a weekday's hours on an
adjusted working day (调休, ``adjusted_workdays: weekday_hours``) is expected on that Saturday or Sunday
(analytics.analysis.calendar, the rules the analysis counts open hours by). The watch is *silent* when fewer
than `share` of the expected facilities (and at least one) delivered a reading or a status within the window. It
judges only after it has watched for a whole window, and says so once when silence begins and once when it ends.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from analytics.analysis.calendar import NO_CALENDAR, Calendar, facility_hours
from sensors.registry import Facility

_DAY = 24 * 60


def is_open(facility: Facility, at: float, calendar: Calendar = NO_CALENDAR) -> bool:
    """True when `facility` is open at epoch second `at` by its hours that day (its week, as `calendar` and its
    holiday policies change it), and the day is no closure day."""
    local = datetime.fromtimestamp(at, facility.zone)
    minute = local.hour * 60 + local.minute
    today = local.date()
    for start, length in facility_hours(facility, today, calendar):
        if start <= minute < start + length:
            return facility.is_closure_day(today) is None
    yesterday = today - timedelta(days=1)
    for start, length in facility_hours(facility, yesterday, calendar):  # a period of yesterday's past midnight
        if minute < start + length - _DAY:
            return facility.is_closure_day(yesterday) is None
    return False


@dataclass(frozen=True)
class SilenceChange:
    """Silence began (`silent`) or ended; the figures of the window that decided it."""

    silent: bool
    expected: int  # facilities open throughout the window
    heard: int  # of those, how many delivered anything in it
    window_s: float

    def message(self) -> str:
        minutes = self.window_s / 60
        if self.silent:
            return (
                f"only {self.heard} of the {self.expected} facilities open throughout the last {minutes:g} min "
                "delivered anything: readings are not arriving (is the ingester's subscription gone, the broker's ACL "
                "wrong, or the devices cut off?)"
            )
        return f"readings arrive again: {self.heard} of the {self.expected} open facilities in the last {minutes:g} min"


class SilenceWatch:
    """Remembers when each facility was last heard from and judges the window on `check()`."""

    def __init__(
        self, facilities: Sequence[Facility], window_s: float, share: float, now: Callable[[], float],
        calendar: Calendar = NO_CALENDAR,
    ) -> None:
        self.facilities = facilities
        self.calendar = calendar
        self.window_s = window_s
        self.share = share
        self._now = now
        self._started = now()
        self._last_heard: dict[str, float] = {}
        self.silent = False
        self.alerts = 0  # silences begun since start

    def heard(self, facility_ids: Iterable[str]) -> None:
        """These facilities delivered something (since the last call)."""
        t = self._now()
        for facility in facility_ids:
            self._last_heard[facility] = t

    def check(self) -> SilenceChange | None:
        """A change of state (silence began or ended), or None; nothing before a whole window was watched."""
        t = self._now()
        window = self.window_s
        if t - self._started < window:
            return None
        instants = (t - window, t - window / 2, t)
        expected = [f.id for f in self.facilities if all(is_open(f, at, self.calendar) for at in instants)]
        if not expected:
            return None  # nobody has to send now: no evidence either way, keep the state
        since = t - window
        heard = sum(1 for fid in expected if self._last_heard.get(fid, -math.inf) >= since)
        silent = heard < max(1, math.ceil(self.share * len(expected)))
        if silent == self.silent:
            return None
        self.silent = silent
        self.alerts += silent
        return SilenceChange(silent, len(expected), heard, window)
