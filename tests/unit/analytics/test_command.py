"""`facmon analyze` arguments, facility selection and the periodic loop, without servers."""

from __future__ import annotations

import argparse
import threading

import pytest

from analytics.analysis.periodic import run_every
from facmon.cli.analyze import parse_as_of, parse_every, parse_window, select
from facmon.cli.common import parse_facility
from facmon.cli.main import main
from facmon.core.errors import ConfigError
from tests.unit.analytics.helpers import facility


@pytest.mark.parametrize(("text", "days"), [("28d", 28), ("4w", 28), ("7", 7), ("1d", 1), ("366d", 366)])
def test_windows_are_whole_days(text, days):
    assert parse_window(text) == days


@pytest.mark.parametrize("text", ["1.5d", "36h", "0d", "367d", "soon", "-3d"])
def test_other_windows_are_refused(text):
    with pytest.raises(argparse.ArgumentTypeError):
        parse_window(text)


def test_other_arguments_are_checked():
    assert str(parse_as_of("2025-10-29")) == "2025-10-29"
    assert parse_every("1h") == 3600.0
    assert parse_facility("wz-lc-lib-001") == "wz-lc-lib-001"
    for parse, text in [(parse_as_of, "29/10/2025"), (parse_every, "30s"), (parse_every, "often"),
                        (parse_facility, "Bad Id"), (parse_facility, "a'--")]:
        with pytest.raises(argparse.ArgumentTypeError):
            parse(text)


def test_a_malformed_facility_id_stops_the_command_before_any_connection(capsys):
    with pytest.raises(SystemExit) as exited:
        main(["analyze", "--influx-url", "http://127.0.0.1:9", "--facility", "x' OR 1=1", "--registry", "nope"])
    assert exited.value.code == 2
    assert "is not a facility id" in capsys.readouterr().err


def test_select_filters_by_id_and_region_and_names_what_is_missing():
    fleet = [facility("a", region="zhejiang/wenzhou/lucheng"), facility("b", region="zhejiang/wenzhou/ouhai"),
             facility("c", region="zhejiang/hangzhou/xihu")]
    assert [f.id for f in select(fleet, None, "zhejiang/wenzhou")] == ["a", "b"]
    assert [f.id for f in select(fleet, ["c", "a"], None)] == ["a", "c"]
    assert [f.id for f in select(fleet, ["a", "c"], "zhejiang/hangzhou")] == ["c"]
    assert select(fleet, None, None) == fleet
    with pytest.raises(ConfigError, match="not in the registry: zz"):  # analytics.analysis.scope.ScopeError: exit 2
        select(fleet, ["a", "zz"], None)
    with pytest.raises(ConfigError, match="no facility in region 'zhejiang/wen'"):
        select(fleet, None, "zhejiang/wen")


def test_run_every_retries_failures_and_stops_when_told():
    stop = threading.Event()
    calls = []

    def job():
        calls.append(len(calls))
        if len(calls) in (1, 2):
            raise RuntimeError("InfluxDB is down")
        if len(calls) == 4:
            stop.set()

    assert run_every(job, every=0.05, stop=stop, retry=0.01) == (2, 2)
    assert calls == [0, 1, 2, 3]


def test_run_every_stops_during_the_wait():
    stop = threading.Event()
    timer = threading.Timer(0.1, stop.set)
    timer.start()
    assert run_every(lambda: None, every=3600, stop=stop) == (1, 0)  # returns at once, not after an hour
    timer.join()
    with pytest.raises(ValueError, match="positive"):
        run_every(lambda: None, every=0, stop=stop)
