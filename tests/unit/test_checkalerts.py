"""check-config's auditors and rules checks (facmon.access.checkalerts): a typo fails the check and is named."""

from __future__ import annotations

from pathlib import Path

import yaml

from facmon.access.checkalerts import check_auditors, check_rules
from facmon.access.checkconfig import render
from facmon.core.settings import load_settings


def settings_with(auditors: Path | None):
    return load_settings().model_copy(update={"auditors": auditors})


def test_a_typo_in_the_auditors_file_fails_check_config(tmp_path):
    path = tmp_path / "auditors.yaml"
    path.write_text(yaml.safe_dump({"auditors": [{"id": "city", "name": "City", "regions": ["zhejiang"],
                                                  "emial": "city@example.org"}]}), encoding="utf-8")
    check = check_auditors(settings_with(path))
    assert not check.ok
    assert "emial" in check.detail
    assert render([check]).splitlines()[-1] == "1 of 1 checks failed: auditors"


def test_a_good_auditors_file_and_none_at_all(tmp_path):
    path = tmp_path / "auditors.yaml"
    path.write_text(yaml.safe_dump({"auditors": [{"id": "city", "name": "City", "regions": ["zhejiang"],
                                                  "email": "city@example.org"}]}), encoding="utf-8")
    assert check_auditors(settings_with(path)).ok
    off = check_auditors(settings_with(None))
    assert off.ok
    assert "alerts are off" in off.detail


def test_rules_file(tmp_path):
    assert check_rules(None) is None
    bad = tmp_path / "rules.yaml"
    bad.write_text("types:\n  library:\n    min_occupancy_rte: 0.2\n", encoding="utf-8")
    check = check_rules(str(bad))
    assert check is not None
    assert not check.ok
    assert "min_occupancy_rte" in check.detail
    good = tmp_path / "good.yaml"
    good.write_text("types:\n  library:\n    min_occupancy_rate: 0.2\n", encoding="utf-8")
    assert check_rules(str(good)).ok
