"""The servers and the ingester `facmon demo` runs, and how it checks that every reading reached InfluxDB.

Mosquitto and InfluxDB are started in the demo's temporary directory unless FACMON_MQTT_URL / FACMON_INFLUX_URL
name servers to use; on those the demo writes to a database of its own (facmon_demo, or FACMON_INFLUX_DB) and,
at the end, removes only the MQTT session its ingester made. Its children get exactly the demo's settings in
their environment (no FACMON_AUDITORS: a demo never mails anyone), secrets there and never on a command line.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from facmon.core import i18n
from facmon.core.errors import FacmonError
from facmon.core.i18n import _, format_number
from facmon.core.influx import InfluxClient
from facmon.core.influxql import ident, literal, time_literal
from facmon.core.mqttclient import new_client, tls_context
from facmon.core.names import READINGS
from facmon.core.settings import Settings, load_settings
from facmon.demo.localstack import LocalInfluxDB, LocalIngester, LocalMosquitto

DEMO_DB = "facmon_demo"
MQTT_ENV, INFLUX_ENV, DB_ENV = "FACMON_MQTT_URL", "FACMON_INFLUX_URL", "FACMON_INFLUX_DB"


class DemoError(FacmonError, RuntimeError):
    """A step failed; the message says which and what to look at."""


@dataclass
class Servers:
    """Where the demo's data go; `local_*` tells whether the demo started that server (and so may remove it)."""

    settings: Settings
    local_mqtt: bool
    local_influx: bool

    def describe(self) -> str:
        broker = _("local Mosquitto") if self.local_mqtt else _("the broker of {variable}").format(variable=MQTT_ENV)
        influx = (_("local InfluxDB") if self.local_influx
                  else _("the InfluxDB of {variable}").format(variable=INFLUX_ENV))
        return _("{broker} on {mqtt_url}, {influx} on {influx_url}, database {db}").format(
            broker=broker, mqtt_url=self.settings.mqtt.redacted(), influx=influx, influx_url=self.settings.influx_url,
            db=self.settings.influx_db)

    def influx(self, timeout: float | None = None, evidence: bool = False) -> InfluxClient:
        """The readings database, or with ``evidence`` the one of statuses, alerts and reviews."""
        return InfluxClient.from_settings(self.settings, evidence, timeout)


@contextlib.contextmanager
def servers(workdir: Path, environ: Mapping[str, str], registry: Path, client_id: str,
            now: str | None = None) -> Iterator[Servers]:
    """Start what is not configured, in `workdir`; stop it on the way out (also on Ctrl-C). `now` pins the clock
    (as FACMON_NOW does) for the demo and its children."""
    overrides: dict[str, object] = {"registry": str(registry), "mqtt_client_id": client_id, "now": now}
    if DB_ENV not in environ:
        overrides["influx_db"] = DEMO_DB
    with contextlib.ExitStack() as stack:
        if MQTT_ENV not in environ:
            # No persistence: nothing of the broker needs to outlive the demo.
            overrides["mqtt_url"] = stack.enter_context(LocalMosquitto(workdir / "mosquitto", persistence=False)).url
        if INFLUX_ENV not in environ:
            overrides["influx_url"] = stack.enter_context(LocalInfluxDB(workdir / "influxdb")).url
        yield Servers(load_settings(overrides), MQTT_ENV not in environ, INFLUX_ENV not in environ)


def child_env(settings: Settings) -> dict[str, str]:
    """FACMON_* for the demo's ingester and analyze: its servers, database, registry and pinned clock, nothing
    else."""
    env = {
        "FACMON_MQTT_URL": settings.mqtt_url.get_secret_value(),
        "FACMON_TOPIC_PREFIX": settings.topic_prefix,
        "FACMON_MQTT_CLIENT_ID": settings.mqtt_client_id,
        "FACMON_INFLUX_URL": settings.influx_url,
        "FACMON_INFLUX_DB": settings.influx_db,
        "FACMON_INFLUX_EVIDENCE_DB": settings.evidence_db,
        "FACMON_INFLUX_TIMEOUT": str(settings.influx_timeout),
        "FACMON_REGISTRY": str(settings.registry),
        "FACMON_LOG_LEVEL": "INFO",
        "FACMON_LANGUAGE": i18n.current(),  # analyze's reasons in the demo's language
    }
    optional = {
        "FACMON_NOW": settings.now and settings.now.isoformat(),
        "FACMON_MQTT_CA_FILE": settings.mqtt_ca_file and str(settings.mqtt_ca_file),
        "FACMON_INFLUX_TOKEN": settings.influx_token and settings.influx_token.get_secret_value(),
        "FACMON_INFLUX_USER": settings.influx_user,
        "FACMON_INFLUX_PASSWORD": settings.influx_password and settings.influx_password.get_secret_value(),
    }
    env.update({key: value for key, value in optional.items() if value})
    return env


@contextlib.contextmanager
def ingester(workdir: Path, settings: Settings) -> Iterator[LocalIngester]:
    """`facmon ingest` with the demo's settings; SIGTERM on the way out, so it writes all it took first."""
    process = LocalIngester(workdir, child_env(settings), ["--client-id", settings.mqtt_client_id])
    with process:
        yield process


def forget_session(settings: Settings, timeout: float = 5.0) -> bool:
    """Log in once more with the ingester's client id and a clean session, so the broker drops the persistent
    session (and its queue) the demo's ingester left; True when the broker confirmed."""
    url = settings.mqtt
    client = new_client(settings, settings.mqtt_client_id, tls=False)  # set below, where a bad CA file is caught
    answer: list[bool] = []
    client.on_connect = lambda _c, _u, _f, reason, _p: answer.append(not reason.is_failure)
    try:
        if url.tls:
            client.tls_set_context(tls_context(settings))
        client.connect(url.host, url.port, keepalive=10)
        deadline = time.monotonic() + timeout
        while not answer and time.monotonic() < deadline:
            client.loop(timeout=0.1)
        if answer:
            client.disconnect()
            client.loop(timeout=0.1)
    except OSError:  # also facmon.core.mqttclient.MqttSetupError (the CA file)
        return False
    finally:
        if (sock := client.socket()) is not None:  # as facmon.access.checkconfig: paho may leave it open
            sock.close()
    return bool(answer and answer[0])


def count_statement(facility_ids: Sequence[str], start: int, end: int) -> str:
    """Readings of these facilities with ts in [start, end) (epoch seconds), as InfluxQL; every value quoted."""
    from datetime import UTC, datetime

    which = " OR ".join(f"{ident('facility')} = {literal(fid)}" for fid in facility_ids)
    when = (f"time >= {time_literal(datetime.fromtimestamp(start, UTC))} "
            f"AND time < {time_literal(datetime.fromtimestamp(end, UTC))}")
    return f"SELECT count(*) FROM {ident(READINGS)} WHERE ({which}) AND {when}"  # noqa: S608 (quoted above)


def count_readings(client: InfluxClient, facility_ids: Sequence[str], start: int, end: int) -> int:
    """Points, not fields: the largest of count(*)'s per-field counts (every reading has one of them)."""
    results = client.query(count_statement(facility_ids, start, end))
    series = results[0].get("series") if results else None
    if not series:
        return 0
    return max((int(v) for v in series[0]["values"][0][1:] if isinstance(v, int)), default=0)


def wait_for_readings(client: InfluxClient, facility_ids: Sequence[str], start: int, end: int, expected: int,
                      timeout: float, tick: Callable[[int], None] = lambda n: None) -> int:
    """Poll until InfluxDB holds at least `expected` readings of the window; DemoError after `timeout` s.

    At least, not exactly: on a database the demo used before, the same seed's readings of earlier runs are the
    same points (facility, sensor, ts), and an earlier run may have left some just outside this one's edges.
    """
    deadline = time.monotonic() + timeout
    while True:
        held = count_readings(client, facility_ids, start, end)
        tick(held)
        if held >= expected:
            return held
        if time.monotonic() > deadline:
            raise DemoError(_("InfluxDB holds {held} of the {expected} readings published after waiting {seconds} s: "
                              "the ingester fell behind or could not write").format(
                held=format_number(held), expected=format_number(expected), seconds=f"{timeout:g}"))
        time.sleep(0.5)


def log_tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"
