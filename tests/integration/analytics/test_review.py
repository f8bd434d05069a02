"""`facmon review` as auditors run it, against the real InfluxDB, and what a review does to the next alerts."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
import yaml

from analytics.alerts import reviews
from analytics.alerts.decide import Disposition
from analytics.alerts.run import process_run
from analytics.analysis.model import Status
from facmon.core.clock import clock_at
from tests.conftest import TEST_NOW, pinned_env
from tests.integration.analytics.auditing import (
    COMM,
    GYM,
    LIB,
    directory,
    registry,
    registry_data,
    run_of,
    settings_for,
    wait_for,
)

pytestmark = pytest.mark.servers
REPO = Path(__file__).resolve().parents[3]
TODAY = clock_at(TEST_NOW).today()  # as `facmon review` reads it, with FACMON_NOW pinned at TEST_NOW


def facmon(*args: str, env: dict[str, str], cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    """The command as the installed `facmon` script runs it (``python -m facmon`` would load facmon.cli.main
    twice, as __main__ and as itself, and not catch the CommandError of the second)."""
    base = {key: value for key, value in os.environ.items() if not key.upper().startswith("FACMON_")}
    main = "import sys; from facmon.cli.main import main; sys.exit(main(sys.argv[1:]))"
    return subprocess.run([sys.executable, "-c", main, *args], env={**base, **env}, cwd=cwd,
                          capture_output=True, text=True, timeout=60, check=False)


@pytest.fixture
def env(db, evidence, tmp_path) -> dict[str, str]:
    path = tmp_path / "registry.yaml"
    path.write_text(yaml.safe_dump(registry_data(), allow_unicode=True), encoding="utf-8")
    return {"FACMON_INFLUX_URL": db.url, "FACMON_INFLUX_DB": db.database, "FACMON_REGISTRY": str(path),
            **pinned_env()}


def stored(db) -> list[dict]:
    result = db.query('SELECT * FROM "review"', epoch="ns", database=f"{db.database}_evidence")
    series = result[0].get("series", [])
    return [dict(zip(series[0]["columns"], v, strict=True)) for v in series[0]["values"]] if series else []


def test_review_is_recorded_with_its_fields(db, evidence, env):
    until = TODAY + timedelta(days=30)
    done = facmon("review", LIB, "--disposition", "seasonal", "--note", "暑期闭馆, reopens\nin September",
                  "--until", until.isoformat(), "--reviewer", "张伟", env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"recorded seasonal review of {LIB} by 张伟; no new alert until {until}\n"
    (point,) = stored(db)
    assert (point["facility"], point["disposition"], point["until"], point["reviewer"]) == (
        LIB, "seasonal", until.isoformat(), "张伟")
    assert point["note"] == "暑期闭馆, reopens in September"
    # The facility's region and type, so the dashboards' Region and Type choices narrow the reviews too.
    assert (point["region"], point["type"]) == ("zhejiang/wenzhou/lucheng", "library")
    assert [r.disposition for r in reviews.read(evidence, [LIB])] == [Disposition.SEASONAL]
    assert reviews.read(db, [GYM]) == []


def test_review_without_until_and_default_reviewer(db, env):
    done = facmon("review", GYM, "--disposition", "confirmed", "--note", "no bookings since May", env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.endswith("; reminders of its open alerts stop\n")
    (point,) = stored(db)
    assert point["until"] == ""
    assert point["reviewer"]


@pytest.mark.parametrize(("args", "message"), [
    (["nope-999", "--disposition", "other", "--note", "x"], "not in the registry: nope-999"),
    ([LIB, "--disposition", "other", "--note", "  "], "the note must not be empty"),
    ([LIB, "--disposition", "other", "--note", "x", "--until", "2001-01-01"], "--until 2001-01-01 is in the past"),
    ([LIB, "--disposition", "dunno", "--note", "x"], "invalid choice: 'dunno'"),
    ([LIB, "--disposition", "other", "--note", "x", "--until", "soon"], "is not a date"),
    (["BAD ID", "--disposition", "other", "--note", "x"], "is not a facility id"),
])
def test_review_usage_errors_record_nothing(db, env, args, message):
    done = facmon("review", *args, env=env)
    assert done.returncode == 2
    assert message in done.stderr
    assert stored(db) == []


def test_review_holds_back_alerts_until_its_date(db, evidence, env, smtp_server, webhook, mosquitto):
    until = TODAY + timedelta(days=10)
    done = facmon("review", LIB, "--disposition", "repurposed", "--note", "now a polling station", "--until",
                  until.isoformat(), env=env)
    assert done.returncode == 0, done.stderr
    settings = settings_for(db, smtp_server.url, mosquitto.url, "facmon/v1")
    found = directory(webhook.url(), mqtt=False)
    statuses = {LIB: Status.IDLE, GYM: Status.ACTIVE, COMM: Status.ACTIVE}
    held = process_run(run_of(TODAY, statuses), registry(), settings, client=evidence, directory=found)
    at_end = process_run(run_of(until, statuses), registry(), settings, client=evidence, directory=found)
    assert (sum(held.notices.values()), sum(at_end.notices.values())) == (0, 0)
    after = process_run(run_of(until + timedelta(days=1), statuses), registry(), settings, client=evidence,
                        directory=found)
    assert dict(after.notices) == {"raised": 1}
    ((_, mail),) = wait_for(smtp_server.mailbox.messages, 1)
    assert mail["Subject"] == f"[facmon] IDLE: 鹿城区图书馆五马分馆 ({LIB})"
