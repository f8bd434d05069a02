"""facmon.core.clock: the one clock, pinned by FACMON_NOW for tests and reproducible runs, never the machine's zone."""

from __future__ import annotations

import argparse
from datetime import UTC, date, datetime, timedelta

import pytest

from facmon.cli.common import instant
from facmon.core.clock import SYSTEM, PinnedClock, clock_at, parse_instant
from facmon.core.settings import SettingsError, load_settings

MIDNIGHT_SHANGHAI = datetime(2026, 12, 1, 16, 30, tzinfo=UTC)  # 00:30 on 2 December in Shanghai


def test_a_pinned_clock_starts_at_its_instant_and_runs_on() -> None:
    clock = PinnedClock(MIDNIGHT_SHANGHAI)
    first = clock.time_ns()
    assert first == int(MIDNIGHT_SHANGHAI.timestamp()) * 10**9
    assert clock.time_ns() >= first
    assert clock.now() - MIDNIGHT_SHANGHAI < timedelta(seconds=60)
    frozen = PinnedClock(MIDNIGHT_SHANGHAI, frozen=True)
    assert frozen.time() == frozen.time() == MIDNIGHT_SHANGHAI.timestamp()


def test_today_is_asked_in_a_zone_and_the_machines_zone_only_when_none_is_given() -> None:
    clock = PinnedClock(MIDNIGHT_SHANGHAI, frozen=True)
    assert clock.today("Asia/Shanghai") == date(2026, 12, 2)
    assert clock.today("America/Los_Angeles") == date(2026, 12, 1)
    assert clock.today(UTC) == date(2026, 12, 1)
    assert clock.today() == MIDNIGHT_SHANGHAI.astimezone().date()


@pytest.mark.parametrize("text", ["2026-12-01T16:30:00", "yesterday", "2026-13-01T00:00:00Z", ""])
def test_an_instant_needs_a_valid_iso_form_and_its_offset(text: str) -> None:
    with pytest.raises(ValueError, match=r"offset|ISO 8601"):
        parse_instant(text)
    with pytest.raises(argparse.ArgumentTypeError):
        instant(text)


def test_facmon_now_pins_every_settings_of_the_process_to_one_running_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FACMON_NOW", "2026-12-02T00:30:00+08:00")
    first, second = load_settings(), load_settings()
    assert first.now == MIDNIGHT_SHANGHAI
    assert first.clock is second.clock is clock_at(MIDNIGHT_SHANGHAI)
    assert first.clock.today("Asia/Shanghai") == date(2026, 12, 2)
    monkeypatch.setenv("FACMON_NOW", "2026-12-02 00:30")
    with pytest.raises(SettingsError, match="FACMON_NOW: must give its UTC offset"):
        load_settings()
    monkeypatch.delenv("FACMON_NOW")
    assert load_settings().clock is SYSTEM

