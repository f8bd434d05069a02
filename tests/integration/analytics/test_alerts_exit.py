"""Loud failures: `facmon analyze` exits EXIT_ALERTS (3) with one line on standard error when its alerts could not
be delivered or the auditors file is unusable, so a scheduled job notices; statuses are stored all the same."""

from __future__ import annotations

import pytest
import yaml

from facmon.core.errors import EXIT_ALERTS
from facmon.demo.localstack import free_port
from tests.integration.analytics.auditing import D
from tests.integration.analytics.test_alerts_analyze import seed_readings
from tests.integration.analytics.test_review import env, facmon

__all__ = ["env"]  # fixtures used by name
pytestmark = pytest.mark.servers
ARGS = ("analyze", "--as-of", D.isoformat(), "--window", "7d", "--format", "json")


def last_line(stderr: str) -> str:
    return stderr.strip().splitlines()[-1]


def test_a_typo_in_the_auditors_file_exits_3(db, env, tmp_path):
    seed_readings(db)
    auditors = tmp_path / "auditors.yaml"
    auditors.write_text(yaml.safe_dump({"auditors": [{"id": "city", "name": "City", "regions": ["zhejiang"],
                                                      "emial": "city@example.org"}]}), encoding="utf-8")
    done = facmon(*ARGS, env={**env, "FACMON_AUDITORS": str(auditors)})
    assert done.returncode == EXIT_ALERTS == 3, done.stderr
    assert done.stdout.startswith("{")  # the analysis itself was printed
    line = last_line(done.stderr)
    assert line.startswith("facmon: alerts not sent, the auditors file is unusable: ")
    assert "emial" in done.stderr


def test_an_smtp_server_nobody_listens_on_exits_3(db, env, tmp_path):
    seed_readings(db)
    auditors = tmp_path / "auditors.yaml"
    auditors.write_text(yaml.safe_dump({"auditors": [{"id": "city", "name": "City", "regions": ["zhejiang"],
                                                      "email": "city@example.org"}]}), encoding="utf-8")
    smtp = f"smtp://127.0.0.1:{free_port()}"
    done = facmon(*ARGS, env={**env, "FACMON_AUDITORS": str(auditors), "FACMON_SMTP_URL": smtp})
    assert done.returncode == EXIT_ALERTS, done.stderr
    assert last_line(done.stderr).startswith("facmon: alerts not delivered: ")
    assert "deliveries failed" in last_line(done.stderr)
