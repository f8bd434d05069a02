"""`facmon check-config`: try the configured registry, broker and InfluxDB the way the ingester will use them.

Each check reports in plain words what is wrong and which setting to look at, so a deployment problem shows up
before the service starts (and not as a retry loop in its log). The broker check logs in with a clean session
under a client id of its own, so it never takes over or disturbs a running ingester's session; the InfluxDB
check writes an empty body, which needs only WRITE on the database and stores nothing.
"""

from __future__ import annotations

import json
import secrets
import socket
import ssl
import threading
import time
from dataclasses import dataclass

from paho.mqtt.enums import MQTTErrorCode

from facmon.core.influx import (
    InfluxAuthError,
    InfluxClient,
    InfluxDatabaseMissing,
    InfluxError,
    InfluxPermissionDenied,
    InfluxUnavailable,
)
from facmon.core.influxql import ident
from facmon.core.mqttclient import MqttSetupError, explain_connect_error, new_client, tls_context
from facmon.core.settings import Settings
from sensors.contract import TopicGrammar
from sensors.registry import RegistryError, load_registry


@dataclass(frozen=True)
class Check:
    """One thing checked: its name, whether it is fine, and what was found, in words."""

    name: str
    ok: bool
    detail: str
    advisory: bool = False  # reported, but not a failure: the ingester may simply not be started yet


def check_registry(settings: Settings) -> Check:
    try:
        registry = load_registry(settings.registry, settings.registry_cache_dir)
    except RegistryError as exc:
        count = len(exc.problems)
        return Check("registry", False, f"{count} problem{'s' * (count != 1)}:\n" + str(exc))
    return Check("registry", True, f"{settings.registry}: {len(registry)} facilities")


def _handshake(context: ssl.SSLContext, host: str, port: int, timeout: float) -> None:
    """Connect and complete TLS on a socket of our own, so a failure is reported and the socket closed."""
    raw = socket.create_connection((host, port), timeout=timeout)
    try:
        context.wrap_socket(raw, server_hostname=host).close()  # the handshake happens in wrap_socket
    finally:
        raw.close()


def check_broker(settings: Settings, timeout: float = 5.0) -> Check:
    """Connect, complete TLS (when mqtts://) and log in, then disconnect at once."""
    url = settings.mqtt
    where = url.redacted()
    client = new_client(settings, f"facmon-check-{secrets.token_hex(4)}", tls=False)  # TLS checked first, below
    client.connect_timeout = timeout
    if url.tls:
        try:
            context = tls_context(settings)
            _handshake(context, url.host, url.port, timeout)
        except MqttSetupError as exc:
            return Check("broker", False, f"{where}: {exc}")
        except OSError as exc:
            return Check("broker", False, f"{where}: {explain_connect_error(exc)}")
        client.tls_set_context(context)
    answer: list[object] = []
    client.on_connect = lambda _c, _u, _f, reason, _p: answer.append(reason)
    lost = False
    try:
        client.connect(url.host, url.port, keepalive=max(5, int(timeout) * 2))
        deadline = time.monotonic() + timeout
        while not answer and time.monotonic() < deadline:
            if client.loop(timeout=0.1) not in (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_AGAIN):
                lost = True
                break
    except OSError as exc:  # refused, unknown host; the handshake of a TLS socket can still fail on the first read
        return Check("broker", False, f"{where}: {explain_connect_error(exc)}")
    finally:
        if answer:
            client.disconnect()
            client.loop(timeout=0.1)
        if (sock := client.socket()) is not None:  # paho may leave it open (no answer, a failed login): close it
            sock.close()  # now; the loop's wake-up socket pair goes with the client (paho's __del__)
    if not answer:
        hint = "" if url.tls else " (if that port is a TLS listener, use mqtts://)"
        what = "closed the connection" if lost else f"did not answer within {timeout:g} s"
        return Check("broker", False, f"{where}: the broker {what} instead of accepting the login{hint}")
    reason = answer[0]
    if getattr(reason, "is_failure", False):
        if not url.username:
            advice = "it wants a login: put user:password into FACMON_MQTT_URL (mqtt://user:password@host:port)"
        else:
            advice = f"wrong password for user {url.username!r}, or the account is not in the broker's password file"
        return Check("broker", False, f"{where}: the broker refused the login ({reason}): {advice}")
    tls = ", TLS certificate verified" if url.tls else ""
    who = f"logged in as {url.username}" if url.username else "anonymous login accepted"
    return Check("broker", True, f"{where}: {who}{tls}")


def check_ingester(settings: Settings, timeout: float = 5.0) -> Check:
    """Is an ingester's subscription live? Publish a probe under the prefix and wait for an ingester's answer.

    The probe goes to `{prefix}/alerts/_probe/NONCE`, which the ingester's and analytics' accounts may publish and
    no integrator may; an ingester receives it through its own subscription (`{prefix}/#`) like any reading, and
    answers on `…/NONCE/live`, which the ingester's account may read. No answer means no ingester is subscribed
    — or one is, far behind a backlog (the probe queues behind it). Advisory: the service may not be started yet.
    """
    grammar = TopicGrammar(settings.topic_prefix)
    nonce = secrets.token_hex(8)
    url = settings.mqtt
    client = new_client(settings, f"facmon-check-{secrets.token_hex(4)}")
    client.connect_timeout = timeout
    subscribed, answers = threading.Event(), []
    client.on_subscribe = lambda *_args: subscribed.set()
    client.on_message = lambda _c, _u, message: answers.append(message.payload)
    answer_topic = grammar.probe_answer(nonce)
    client.on_connect = lambda c, *_args: c.subscribe(answer_topic, qos=1)
    started = time.monotonic()
    try:
        client.connect(url.host, url.port, keepalive=max(5, int(timeout) * 2))
        client.loop_start()
        if subscribed.wait(timeout):
            client.publish(grammar.probe(nonce), b"", qos=1)
            deadline = started + timeout
            while not answers and time.monotonic() < deadline:
                time.sleep(0.02)
    except (OSError, MqttSetupError) as exc:
        return Check("ingester", False, f"cannot probe: {exc}", advisory=True)
    finally:
        client.disconnect()
        client.loop_stop()
    if not answers:
        return Check(
            "ingester", False,
            f"NOT LIVE: no ingester answered a probe on {grammar.probe(nonce)} within {timeout:g} s: none is "
            f"running and subscribed to {grammar.subscription}, or one is far behind a backlog (it subscribes again "
            "on every connect: restart it)",
            advisory=True,
        )
    try:
        info = json.loads(answers[0])
        who = f"{info['instance']} (received {int(info['received'])}, pending {int(info['pending'])})"
    except (ValueError, KeyError, TypeError):
        who = "an ingester"
    return Check("ingester", True, f"live: {who} answered a probe in {time.monotonic() - started:.2f} s",
                 advisory=True)


def check_influx(settings: Settings, timeout: float = 5.0) -> Check:
    """Reach the server, then probe the database with an empty write (needs only WRITE, stores nothing)."""
    client = InfluxClient.from_settings(settings, timeout=timeout)
    db = settings.influx_db
    where = client.url
    try:
        try:
            version = client.ping()
        except InfluxUnavailable as exc:
            return Check("influxdb", False, f"cannot reach InfluxDB: {exc}")
        try:
            client.write(b"")
        except InfluxPermissionDenied:
            user = settings.influx_user or "the token's user"
            return Check(
                "influxdb", False,
                f"{where}: {user} may not write to database {db!r}; an admin must run "
                f"GRANT WRITE ON {ident(db)} TO {ident(settings.influx_user or 'USER')}",
            )
        except InfluxAuthError as exc:
            if settings.influx_auth() is None:
                advice = "it requires credentials: set FACMON_INFLUX_USER and FACMON_INFLUX_PASSWORD"
            elif settings.influx_token is not None:
                advice = "FACMON_INFLUX_TOKEN is not accepted"
            else:
                advice = f"wrong password for user {settings.influx_user!r}, or no such user"
            return Check("influxdb", False, f"{where}: InfluxDB refused the credentials: {advice} ({exc})")
        except InfluxDatabaseMissing:
            return Check(
                "influxdb", False,
                f"{where}: database {db!r} does not exist (FACMON_INFLUX_DB); create it (CREATE DATABASE "
                f"{ident(db)}) or let an ingester whose user is an admin create it",
            )
        except InfluxError as exc:
            return Check("influxdb", False, f"{where}: {exc}")
    finally:
        client.close()
    who = f"user {settings.influx_user} may write" if settings.influx_user else "writable"
    return Check("influxdb", True, f"{where}: InfluxDB {version}, database {db} exists, {who}")


def run_checks(settings: Settings, timeout: float = 5.0) -> list[Check]:
    checks = [check_registry(settings), check_broker(settings, timeout), check_influx(settings, timeout)]
    if checks[1].ok:
        checks.append(check_ingester(settings, timeout))
    return checks


def render(checks: list[Check]) -> str:
    """One block per check; a failed one starts with PROBLEM so it stands out; a closing summary line."""
    lines = []
    for check in checks:
        first, *rest = check.detail.splitlines()
        label = "ok" if check.ok else ("WARNING" if check.advisory else "PROBLEM")
        lines.append(f"{label:8}{check.name:10}{first}")
        lines += [" " * 18 + line for line in rest]
    required = [c for c in checks if not c.advisory]
    failed = [c.name for c in required if not c.ok]
    if failed:
        lines.append(f"{len(failed)} of {len(required)} checks failed: {', '.join(failed)}")
    else:
        lines.append(f"OK: all {len(required)} checks passed")
    return "\n".join(lines) + "\n"


def render_json(checks: list[Check]) -> str:
    """The same verdicts for scripts: every check with its words, and which required ones failed."""
    failed = [c.name for c in checks if not c.ok and not c.advisory]
    data = {"ok": not failed, "failed": failed,
            "checks": [{"name": c.name, "ok": c.ok, "advisory": c.advisory, "detail": c.detail} for c in checks]}
    return json.dumps(data, ensure_ascii=False, indent=2) + "\n"
