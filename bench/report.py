"""Report and alerts benchmark: `facmon report` (HTML and xlsx) and one alert run over F facilities' analysis.

Starts a private InfluxDB 1.x (facmon.demo.localstack) in a temporary directory and builds an analysis of the
sample county repeated (bench/province.py: its facilities, types and regions ``zhejiang/c<NNN>/<township>``), with
statuses in the shares a province shows (most ACTIVE, about a quarter flagged, a few data suspect), stored as
`facmon analyze` stores them, and a month of readings for the facilities the report draws (four a day, so the
charts have bars). Then:

- ``facmon report --format html`` (split as --split auto decides: one file up to 2,000 facilities, an index and a
  file per county above) and ``--format xlsx`` as child processes: wall time, bytes written, and the peak resident
  memory of the largest process (the command, or one of its chart workers; ru_maxrss from wait4);
- one alert run (analytics.alerts.run.process_run) for the run, every notice to one auditor of the province who
  takes digests, through a deliverer that counts the mails and their size instead of sending them.

    python bench/report.py                      # 710 facilities (ten counties)
    python bench/report.py --facilities 100     # a smoke run
    python bench/report.py --facilities 20000   # a province

The last line sums it up: REPORT facilities=… html_s=… html_mib=… xlsx_s=… xlsx_mib=… peak_mib=… alerts_s=…
mails=… largest_mail_mib=…
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import zlib
from datetime import date, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from zoneinfo import ZoneInfo

# This directory holds bench/ingest.py, which would shadow the ingest package: take it off the path.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from analytics.alerts.auditors import parse_auditors  # noqa: E402
from analytics.alerts.deliver import Deliverer, Sent  # noqa: E402
from analytics.alerts.run import process_run  # noqa: E402
from analytics.analysis import store  # noqa: E402
from analytics.analysis.evidence import prepare  # noqa: E402
from analytics.analysis.model import (  # noqa: E402
    AnalysisRun,
    Detector,
    FacilityResult,
    Figures,
    Finding,
    Integrity,
    Status,
    Window,
)
from bench.province import write_province_registry  # noqa: E402
from facmon.core.influx import InfluxClient  # noqa: E402
from facmon.core.settings import Settings  # noqa: E402
from facmon.demo.localstack import LocalInfluxDB  # noqa: E402
from sensors.registry import Registry, load_registry  # noqa: E402

AS_OF = date(2026, 12, 2)
NOW = "2026-12-02T04:00:00Z"
DAYS = 28
DATABASE = "bench"
LINES_PER_POST = 100_000
#: per 100 facilities: the status each share gets (the rest ACTIVE), and every SUSPECT_EVERY-th is data suspect
SHARES = ((Status.IDLE, 12), (Status.UNDERUSED, 10), (Status.NO_DATA, 4), (Status.EXEMPT, 3))
SUSPECT_EVERY = 37
REASONS = {
    Status.IDLE: ("no use on 21 of 24 open days (87.5% ≥ 80%)", "mean occupancy 3.1% of capacity (< 10%)"),
    Status.UNDERUSED: ("mean occupancy 8.0% of capacity (< 10%)",),
    Status.NO_DATA: ("sensor data for 12.0% of opening hours (< 50%)",),
    Status.EXEMPT: ("exempt in the registry: under renovation",),
    Status.ACTIVE: (),
}


def status_of(facility_id: str) -> Status:
    """A facility's status in the bench, the same every time: by a checksum of its id."""
    slot, start = zlib.crc32(facility_id.encode()) % 100, 0
    for status, share in SHARES:
        if start <= slot < start + share:
            return status
        start += share
    return Status.ACTIVE


def analysis(registry: Registry) -> AnalysisRun:
    results = []
    for index, site in enumerate(registry):
        status = status_of(site.id)
        window = Window(AS_OF - timedelta(days=DAYS), AS_OF - timedelta(days=1), site.timezone)
        figures = Figures(open_hours=224.0, covered_hours=27.0 if status is Status.NO_DATA else 201.0, open_days=24,
                          observed_days=24, idle_days=21 if status is Status.IDLE else 2,
                          coverage=0.12 if status is Status.NO_DATA else 0.9,
                          occupancy_rate={Status.IDLE: 0.031, Status.UNDERUSED: 0.08}.get(status, 0.35),
                          idle_day_share=0.875 if status is Status.IDLE else 0.08, closed_share=0.0,
                          peak_rate=0.6, reports_occupancy=True)
        findings = ()
        if index % SUSPECT_EVERY == 5:
            findings = (Finding(Detector.FLAT_LINE, "occupancy the same for 9 of 10 open hours on 12 days",
                                {"days": 12}),)
        results.append(FacilityResult(site.id, site.name, site.type, site.region, site.department, site.capacity,
                                      status, figures, window, REASONS[status], integrity=Integrity(findings)))
    return AnalysisRun(AS_OF, DAYS, tuple(results))


def load_readings(client: InfluxClient, run: AnalysisRun) -> int:
    """Four occupancy readings a day (10:00, 12:00, 15:00, 18:00 local) over the window, for every facility the
    report draws: the flagged and the data suspect."""
    drawn = [r for r in run.facilities
             if r.status in (Status.IDLE, Status.UNDERUSED, Status.NO_DATA) or r.integrity.suspect]
    lines: list[str] = []
    count = 0
    for result in drawn:
        zone = ZoneInfo(result.window.timezone)
        if result.status is Status.NO_DATA:
            continue  # nothing to draw but the grey "no data" days
        for offset in range(DAYS):
            day = result.window.first_day + timedelta(days=offset)
            for hour in (10, 12, 15, 18):
                ns = int(datetime(day.year, day.month, day.day, hour, tzinfo=zone).timestamp()) * 10**9
                people = (zlib.crc32(f"{result.facility_id}{offset}{hour}".encode()) % max(2, result.capacity // 8))
                lines.append(f"reading,facility={result.facility_id},sensor=door-1 occupancy={people}i {ns}")
        if len(lines) >= LINES_PER_POST:
            client.write("\n".join(lines).encode())
            count += len(lines)
            lines = []
    if lines:
        client.write("\n".join(lines).encode())
        count += len(lines)
    return count


def run_report(influx: LocalInfluxDB, registry: Path, out: Path, fmt: str) -> tuple[float, int, float, int]:
    """One `facmon report` child: (wall seconds, bytes written, peak RSS MiB, files written)."""
    command = [sys.executable, "-m", "facmon", "report", "--format", fmt, "--as-of", AS_OF.isoformat(),
               "--output", str(out), "--print", "json", "--no-progress"]
    env = {**os.environ, "FACMON_INFLUX_URL": influx.url, "FACMON_INFLUX_DB": DATABASE,
           "FACMON_REGISTRY": str(registry), "FACMON_NOW": NOW}
    log = out.with_suffix(f".{fmt}.log")
    with log.open("wb") as err:
        started = time.monotonic()
        child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=err, env=env)
        said = child.stdout.read() if child.stdout else b""
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.monotonic() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"facmon report --format {fmt} failed:\n{log.read_text()[-2000:]}")
    written = json.loads(said)["files"]
    return wall, sum(f["bytes"] for f in written), usage.ru_maxrss / 1024, len(written)


class CountingDeliverer(Deliverer):
    """Composes every mail as a run would and counts it, sending nothing."""

    def __init__(self, settings: Settings, directory: object) -> None:
        super().__init__(settings, directory)  # type: ignore[arg-type]
        self.sizes: list[int] = []

    def send_mail(self, target: str, message: EmailMessage) -> Sent:
        self.sizes.append(len(message.as_bytes()))
        return Sent(True, target)


def run_alerts(influx: LocalInfluxDB, run: AnalysisRun, registry: Registry) -> tuple[float, list[int]]:
    settings = Settings(influx_url=influx.url, influx_db=DATABASE, smtp_url="smtp://127.0.0.1:1",
                        smtp_from="facmon@example.org")
    directory = parse_auditors({"auditors": [
        {"id": "province", "name": "浙江省审计厅", "regions": ["zhejiang"], "email": "audit@zj.example.org",
         "digest": True},
    ]})
    deliverer = CountingDeliverer(settings, directory)
    client = InfluxClient(influx.url, f"{DATABASE}_evidence", timeout=300)
    started = time.monotonic()
    summary = process_run(run, registry, settings, client=client, directory=directory, deliverer=deliverer)
    wall = time.monotonic() - started
    if summary.error or summary.failed:
        raise SystemExit(f"the alert run failed: {summary.error or summary.failed}")
    return wall, deliverer.sizes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--facilities", type=int, default=710)
    parser.add_argument("--keep", type=Path, help="keep the server, registry and reports here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="facmon-bench-report-") as tmp:
        workdir = args.keep or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        registry_path = workdir / "registry.yaml"
        write_province_registry(registry_path, args.facilities)
        registry = load_registry(str(registry_path))
        run = analysis(registry)
        with LocalInfluxDB(workdir / "influxdb") as influx:
            readings = InfluxClient(influx.url, DATABASE, timeout=300)
            readings.query(f"DROP DATABASE {DATABASE}")
            readings.create_database()
            evidence = InfluxClient(influx.url, f"{DATABASE}_evidence", timeout=300)
            evidence.query(f"DROP DATABASE {DATABASE}_evidence")
            prepare(evidence)
            started = time.monotonic()
            store.store_run(evidence, run)
            lines = load_readings(readings, run)
            print(f"built the analysis of {len(run.facilities):,} facilities {run.counts()} and {lines:,} readings "
                  f"in {time.monotonic() - started:.1f} s", flush=True)
            html_dir, xlsx_dir = workdir / "html", workdir / "xlsx"
            html_dir.mkdir(exist_ok=True)
            xlsx_dir.mkdir(exist_ok=True)
            html_s, html_bytes, html_peak, files = run_report(influx, registry_path, html_dir / "report.html", "html")
            print(f"  html: {html_s:6.2f} s  {html_bytes / 2**20:7.1f} MiB in {files} files  "
                  f"{html_peak:7.1f} MiB peak", flush=True)
            xlsx_s, xlsx_bytes, xlsx_peak, _ = run_report(influx, registry_path, xlsx_dir / "report.xlsx", "xlsx")
            print(f"  xlsx: {xlsx_s:6.2f} s  {xlsx_bytes / 2**20:7.1f} MiB  {xlsx_peak:7.1f} MiB peak", flush=True)
            alerts_s, sizes = run_alerts(influx, run, registry)
            print(f"  alerts: {alerts_s:6.2f} s  {len(sizes)} mails", flush=True)
    largest = max(sizes, default=0)
    print(f"REPORT facilities={len(run.facilities)} html_s={html_s:.2f} html_mib={html_bytes / 2**20:.1f} "
          f"xlsx_s={xlsx_s:.2f} xlsx_mib={xlsx_bytes / 2**20:.2f} peak_mib={max(html_peak, xlsx_peak):.0f} "
          f"alerts_s={alerts_s:.2f} mails={len(sizes)} largest_mail_mib={largest / 2**20:.2f}", flush=True)


if __name__ == "__main__":
    main()
