"""The integrity flag in every output: JSON, CSV, table, the facility_status point and the evidence report."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import replace

import pytest

from analytics.analysis.engine import assemble
from analytics.analysis.model import Detector, Figures, Finding, Integrity, Status
from analytics.analysis.output import render_csv, render_json, render_table
from analytics.analysis.rules import Rules
from analytics.analysis.store import status_line
from analytics.report.html import render_html
from analytics.report.table import table
from tests.unit.analytics.helpers import facility
from tests.unit.analytics.test_report import AS_OF, GENERATED, parse, row

BUSY = Figures(open_hours=224.0, covered_hours=224.0, open_days=28, observed_days=28, coverage=1.0,
               closed_share=0.0, occupancy_rate=0.3, peak_rate=0.6, idle_day_share=0.0, reports_occupancy=True)
FLAT = Finding(Detector.FLAT_LINE, "occupancy constant at 37 for up to 6 h 15 min on 12 open days (≥ 3 h on ≥ 3 days)",
               {"days": 12, "longest_hours": 6.25, "value": 37.0})
ROUND = Finding(Detector.TOO_REGULAR, "80% of occupancy values of 10 or more are multiples of 5 (80 of 100; ≥ 60%)",
                {"round_values": 80, "whole_values": 100})


@pytest.fixture(scope="module")
def run():
    facilities = [facility("a-forged"), facility("b-honest")]
    checked = [Integrity((FLAT, ROUND)), Integrity()]
    return assemble(facilities, [(BUSY, BUSY), (BUSY, BUSY)], Rules(), AS_OF, 28, checked)


def test_json_carries_the_flag_beside_the_status(run):
    data = {f["facility_id"]: f for f in json.loads(render_json(run))["facilities"]}
    forged = data["a-forged"]
    assert forged["status"] == "ACTIVE"
    assert forged["integrity"]["suspect"] is True
    assert forged["integrity"]["detectors"] == ["flat_line", "too_regular"]
    assert forged["integrity"]["findings"][0] == {"detector": "flat_line", "reason": FLAT.reason,
                                                  "evidence": {"days": 12, "longest_hours": 6.25, "value": 37.0}}
    assert data["b-honest"]["integrity"] == {"suspect": False, "detectors": [], "findings": []}
    assert "integrity" not in forged["thresholds"]  # the status thresholds only


def test_csv_and_table_mark_suspect_facilities(run):
    rows = {r["facility_id"]: r for r in csv.DictReader(io.StringIO(render_csv(run)))}
    assert rows["a-forged"]["suspect"] == "True"
    assert rows["a-forged"]["integrity_detectors"] == "flat_line,too_regular"
    assert rows["a-forged"]["integrity"] == f"{FLAT.reason} | {ROUND.reason}"
    assert rows["b-honest"]["suspect"] == "False"
    lines = render_table(run).splitlines()
    assert lines[0].endswith("; 1 DATA_SUSPECT")
    at = next(i for i, text in enumerate(lines) if " a-forged " in text)
    assert lines[at + 1].strip() == f"DATA_SUSPECT flat_line: {FLAT.reason}"
    assert lines[at + 2].strip() == f"DATA_SUSPECT too_regular: {ROUND.reason}"
    assert "DATA_SUSPECT" not in lines[at + 3]


def test_facility_status_always_has_the_flag(run):
    forged, honest = sorted(run.facilities, key=lambda r: r.facility_id)
    point = status_line(forged, AS_OF, 28)
    assert "suspect=true" in point
    assert 'integrity_detectors="flat_line,too_regular"' in point
    assert f'integrity="{FLAT.reason}; {ROUND.reason}"' in point
    clean = status_line(honest, AS_OF, 28)
    assert "suspect=false" in clean
    assert 'integrity=""' in clean


def test_report_lists_suspect_facilities_with_their_findings():
    suspect = replace(row("d-active", Status.ACTIVE), suspect=True, integrity=f"{FLAT.reason}; {ROUND.reason}",
                      integrity_detectors="flat_line,too_regular")
    page = parse(render_html([suspect, row("e-idle", Status.IDLE)], {}, AS_OF, None, GENERATED))
    article = page.articles["s-d-active"]
    assert "DATA_SUSPECT" in article
    assert FLAT.reason in article
    assert ROUND.reason in article
    assert "Data suspect facilities (1)" in "".join(page.text)
    lines = table([suspect, row("e-idle", Status.IDLE)])
    header = lines[0]
    by_id = {line[0]: dict(zip(header, line, strict=True)) for line in lines[1:]}
    assert by_id["d-active"]["Data integrity"] == "DATA_SUSPECT"
    assert by_id["d-active"]["Integrity checks fired"] == "flat_line,too_regular"
    assert by_id["e-idle"]["Data integrity"] is None
