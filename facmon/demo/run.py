"""`facmon demo` (`make demo`): the sample county's last 28 days through the whole system, in one command.

Starts Mosquitto and InfluxDB in a temporary directory (or uses those of FACMON_MQTT_URL / FACMON_INFLUX_URL),
runs the ingester, backfills the sample county with the simulator, waits until InfluxDB holds every reading,
runs `facmon analyze`, prints the flagged facilities and those whose data look forged, writes the evidence
report, and stops all it started, on Ctrl-C too. Each step is glue over the module that does the work:
facmon.demo.stack (servers, ingester), sensors.simulator.publisher (backfill), analytics (analyze, report),
facmon.demo.view (what is printed) and facmon.demo.console (step lines, Ctrl-C).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from facmon import resources
from facmon.core.binaries import INSTALL_HINT, ServerUnavailable
from facmon.core.clock import Clock
from facmon.core.i18n import _, current, format_number
from facmon.core.settings import SettingsError
from facmon.demo import view
from facmon.demo.console import Steps, compose_available, interrupts
from facmon.demo.localstack import ServerStartError
from facmon.demo.stack import DemoError, Servers, forget_session, ingester, log_tail, servers, wait_for_readings
from sensors.registry import Registry, load_registry

COUNTY = resources.sample_county()
WINDOW_DAYS = 28
SEED = 1
WAIT_TIMEOUT = 120.0  # for the last readings to reach InfluxDB once the backfill is done
ANALYZE_TIMEOUT = 300.0
STEPS = 7


@dataclass(frozen=True)
class Run:
    """What the steps share: the county, the servers, the work directory and the analysis date."""

    registry: Registry
    servers: Servers
    work: Path
    as_of: date


def window_start(registry: Registry, as_of: date, days: int = WINDOW_DAYS) -> int:
    """Epoch second at which the analysis window (the `days` whole local days before `as_of`) begins for the
    facility whose day begins first, so the backfill covers every window day from its midnight."""
    first = as_of - timedelta(days=days)
    return min(int(datetime.combine(first, datetime.min.time(), ZoneInfo(f.timezone)).timestamp())
               for f in registry)


def as_of(registry: Registry, clock: Clock) -> date:
    """Today where it is earliest among the county's zones: every day of the window before it is over everywhere,
    whatever the machine's own zone."""
    return min(clock.today(zone) for zone in {f.timezone for f in registry})


def _local(moment: int, registry: Registry) -> str:
    zone = next(iter(registry)).timezone
    return f"{datetime.fromtimestamp(moment, ZoneInfo(zone)):%Y-%m-%d %H:%M} {zone}"


# -- the steps ----------------------------------------------------------------------------------------------------
def backfill_county(run: Run, steps: Steps) -> tuple[int, int, int]:
    """Publish the county's readings from the window's start until now; (readings, start, end)."""
    from sensors.simulator.plan import plan
    from sensors.simulator.publisher import Fleet, Progress, PublishError, backfill

    sensors, warnings = plan(run.registry)
    for warning in warnings:
        print("  " + _("note: {county}: {warning}").format(county=COUNTY.name, warning=warning), file=sys.stderr)
    start, end = window_start(run.registry, run.as_of), int(run.servers.settings.clock.time())
    steps.status(_("backfilling {days} days of {county}: {sensors} sensors …").format(
        days=format_number((end - start) / 86400, 1), county=COUNTY.name, sensors=len(sensors)))
    fleet = Fleet(run.servers.settings, sensors, client_prefix=f"{run.work.name}-sim-")
    try:
        fleet.connect()
        summary = backfill(fleet, sensors, SEED, start, end, progress=Progress(0, enabled=sys.stderr.isatty()))
    except PublishError as exc:
        fleet.drop()
        raise DemoError(_("simulator: {problem}").format(problem=exc)) from None
    except BaseException:
        fleet.drop()
        raise
    fleet.close()
    steps.done(_("backfilled {readings} readings of {facilities} facilities in {messages} messages ({rate}/s), "
                 "from {start} until now").format(
        readings=format_number(summary.readings), facilities=len(run.registry),
        messages=format_number(summary.messages), rate=format_number(summary.messages / max(summary.seconds, 1e-9)),
        start=_local(start, run.registry)))
    return summary.readings, start, end


def wait_until_written(run: Run, steps: Steps, readings: int, start: int, end: int, log: Path) -> None:
    client = run.servers.influx()
    ids = [f.id for f in run.registry]
    try:
        held = wait_for_readings(client, ids, start, end, readings, WAIT_TIMEOUT,
                                 lambda n: steps.status(_("InfluxDB holds {held} of {readings} readings …").format(
                                     held=format_number(n), readings=format_number(readings))))
    except DemoError as exc:
        raise DemoError(_("{problem}; the ingester's log ends:\n{log}").format(problem=exc,
                                                                               log=log_tail(log))) from None
    finally:
        client.close()
    more = (_(" ({more} more from an earlier run)").format(more=format_number(held - readings))
            if held > readings else "")
    steps.done(_("InfluxDB holds all {readings} readings{more}").format(readings=format_number(readings), more=more))


def facmon_json(run: Run, command: str, *args: str) -> dict[str, Any]:
    """`facmon COMMAND ... --format json` as its own process, with the demo's settings; its parsed output."""
    from facmon.demo.stack import child_env

    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("FACMON_")}
    argv = [sys.executable, "-m", "facmon", command, *args, "--format", "json"]
    done = subprocess.run(argv, env={**env, **child_env(run.servers.settings)}, cwd=run.work,
                          capture_output=True, text=True, timeout=ANALYZE_TIMEOUT, check=False)
    if done.returncode != 0:
        raise DemoError(_("facmon {command} exited with {code}:\n{stderr}").format(
            command=command, code=done.returncode, stderr=done.stderr.strip()[-2000:]))
    data: dict[str, Any] = json.loads(done.stdout)
    return data


def analyze_county(run: Run, steps: Steps) -> dict[str, Any]:
    """`facmon analyze` over the demo's window."""
    data = facmon_json(run, "analyze", "--as-of", run.as_of.isoformat(), "--window", f"{WINDOW_DAYS}d")
    steps.done(_("facmon analyze, the {days} days before {day}: {counts}").format(
        days=WINDOW_DAYS, day=run.as_of, counts=view.counts_line(data["counts"])))
    return data


def show_devices(run: Run, out: TextIO) -> None:
    """`facmon devices`, summed up in a few lines (the integrators' view)."""
    from analytics.devices import summary_lines

    lines = summary_lines(facmon_json(run, "devices")["devices"])
    view.write_lines(out, [_("Devices (facmon devices):"), *(f"  {line}" for line in lines), ""])


def show_analysis(data: dict[str, Any], out: TextIO, registry: Registry) -> None:
    width = shutil.get_terminal_size().columns if out.isatty() else None
    facilities = data["facilities"]
    flagged = [f for f in facilities if view.is_flagged(f)]
    suspect = [f for f in facilities if view.is_suspect(f)]
    lines = ["", _("Flagged facilities ({count}): someone has to look at these").format(count=len(flagged)),
             *view.flagged_table(flagged, width, lambda code: registry.display_type(code, current())), "",
             _("Counts: {counts}").format(counts=view.counts_line(data["counts"])), ""]
    if suspect:
        lines += [_("Data that look forged ({count}): the integrity checks fired").format(count=len(suspect)),
                  *view.suspect_table(suspect, width)]
    else:
        lines += [_("Data that look forged (0): no integrity check fired")]
    view.write_lines(out, [*lines, ""])


def write_reports(run: Run, steps: Steps, data: dict[str, Any], output: Path) -> list[Path]:
    """The evidence report (HTML and xlsx, as `facmon report` writes them) and analyze's JSON, in `output`."""
    from analytics.report.build import build_report
    from analytics.report.data import ReportError

    output.mkdir(parents=True, exist_ok=True)
    client, readings = run.servers.influx(timeout=120.0, evidence=True), run.servers.influx(timeout=120.0)
    paths = []
    try:
        for fmt in ("html", "xlsx"):
            body, _media_type = build_report(client, run.registry, fmt, run.as_of, readings=readings,
                                   generated=run.servers.settings.clock.now())
            paths.append(output / f"facmon-report-{run.as_of.isoformat()}.{fmt}")
            paths[-1].write_bytes(body)
    except ReportError as exc:
        raise DemoError(_("report: {problem}").format(problem=exc)) from None
    finally:
        client.close()
        readings.close()
    paths.append(output / f"analysis-{run.as_of.isoformat()}.json")
    paths[-1].write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    steps.done(_("wrote the evidence report to {directory}/").format(directory=output))
    return paths


def wait_for_ctrl_c(run: Run, out: TextIO) -> None:
    settings = run.servers.settings
    mqtt, influx = settings.mqtt, urlsplit(settings.influx_url)
    prefix, db = settings.topic_prefix, settings.influx_db
    view.write_lines(out, [
        _("The stack stays up until Ctrl-C:"),
        "  MQTT      " + _("{url}  (topics {prefix}/...)").format(url=mqtt.redacted(), prefix=prefix),
        "  InfluxDB  " + _("{url}  database {db}").format(url=settings.influx_url, db=db),
        _("Try:"),
        f"  mosquitto_sub -h {mqtt.host} -p {mqtt.port} -t '{prefix}/+/+/rejected' -v",
        f"  mosquitto_pub -h {mqtt.host} -p {mqtt.port} -q 1 -t {prefix}/jy-wy-lib-01/door-1/reading "
        "-m '{\"ts\": 1, \"occupancy\": -3}'",
        f"  influx -host {influx.hostname} -port {influx.port} -database {db} -execute "  # noqa: S608 (a shell hint)
        "'SELECT count(*) FROM reading'",
        f"  FACMON_INFLUX_URL={settings.influx_url} FACMON_INFLUX_DB={db} FACMON_REGISTRY={COUNTY} facmon analyze",
        _("Press Ctrl-C to stop."),
    ])
    while True:
        time.sleep(1)


# -- the whole run ------------------------------------------------------------------------------------------------
def _forget_session(found: Servers) -> None:
    if not forget_session(found.settings):
        print("  " + _("note: could not remove the MQTT session of client id {client_id} from {url}").format(
            client_id=found.settings.mqtt_client_id, url=found.settings.mqtt.redacted()), file=sys.stderr)


def _steps(stack: contextlib.ExitStack, work: Path, steps: Steps, output: Path, keep_running: bool,
           now: str | None) -> None:
    out = steps.stream
    steps.start(_("starting Mosquitto and InfluxDB"))
    try:
        found = stack.enter_context(servers(work, os.environ, COUNTY, work.name, now))
    except ServerUnavailable as exc:
        raise DemoError(_("{problem}\n`make demo` runs the set-up first ({hint})").format(problem=exc,
                                                                                        hint=INSTALL_HINT)) from None
    except (ServerStartError, SettingsError) as exc:
        raise DemoError(str(exc)) from None
    steps.done(_("{servers} (work directory {work})").format(servers=found.describe(), work=work))
    county = load_registry(COUNTY)
    run = Run(county, found, work, as_of(county, found.settings.clock))

    steps.start(_("starting the ingester"))
    if not found.local_mqtt:  # runs after the ingester stopped: its persistent session goes too
        stack.callback(_forget_session, found)
    try:
        process = stack.enter_context(ingester(work / "ingester", found.settings))
    except ServerStartError as exc:
        raise DemoError(str(exc)) from None
    steps.done(_("ingester running (pid {pid}, MQTT client id {client_id})").format(
        pid=process.pid, client_id=found.settings.mqtt_client_id))

    steps.start(_("backfilling the sample county"))
    readings, start, end = backfill_county(run, steps)
    steps.start(_("waiting until InfluxDB holds every reading"))
    wait_until_written(run, steps, readings, start, end, process.output_path)
    steps.start(_("running facmon analyze"))
    data = analyze_county(run, steps)
    show_analysis(data, out, run.registry)
    show_devices(run, out)
    steps.start(_("writing the evidence report"))
    paths = write_reports(run, steps, data, output)
    view.write_lines(out, ["", _("Evidence report for auditors:"), *(f"  {path}" for path in paths), "",
                           *view.dashboards_hint(compose_available()), ""])
    if keep_running:
        with contextlib.suppress(KeyboardInterrupt):
            wait_for_ctrl_c(run, out)


def run_demo(output: Path | None = None, keep_running: bool = False, now: str | None = None) -> int:
    """The whole demo; 0 when every step worked, 1 when one failed, 130 when interrupted. `now` pins the clock
    (an ISO instant, as FACMON_NOW), so a run can be repeated exactly."""
    from facmon.core import logs
    logs.configure("WARNING")
    out = sys.stdout
    steps = Steps(STEPS, out)
    began = time.monotonic()
    code = 0
    output = (output or Path("demo-output")).resolve()
    with interrupts() as shield, tempfile.TemporaryDirectory(prefix="facmon-demo-") as tmp:
        work = Path(tmp)
        with contextlib.ExitStack() as stack:
            try:
                _steps(stack, work, steps, output, keep_running, now)
            except KeyboardInterrupt:
                out.write("\n" + _("Interrupted: stopping everything the demo started …") + "\n")
                code = 130
            except DemoError as exc:
                print(f"\nfacmon demo: {exc}", file=sys.stderr)
                code = 1
            finally:
                shield()
                steps.number = STEPS - 1
                steps.start(_("stopping everything the demo started"))
    steps.done(_("stopped all the demo started and removed {work}; whole demo {seconds} s").format(
        work=work, seconds=format_number(time.monotonic() - began)))
    return code
