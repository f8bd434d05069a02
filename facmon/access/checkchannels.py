"""`facmon check-config`'s checks of the alert channels and the readings, and `--send-test`.

An auditors file can be valid and still reach nobody: a mail server nobody listens on, a password it refuses, a
webhook whose host does not resolve. Each channel is tried the way analyze will use it (analytics.alerts.deliver: the
same connection code, the same webhook guard with the entry's own allow_http/allow_private), without sending a
notice; ``--send-test RECIPIENT`` then sends a real test notice through that recipient's channels. A readings
database that is missing or empty is said too: analyze would otherwise answer NO_DATA for every facility.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from analytics.alerts.auditors import AuditorsError, Directory, load_auditors
from analytics.alerts.deliver import Deliverer
from facmon.access.checkconfig import Check
from facmon.core.influx import InfluxClient, InfluxDatabaseMissing, InfluxError, InfluxPermissionDenied
from facmon.core.influxql import ident
from facmon.core.names import READINGS
from facmon.core.settings import Settings

TEST_KIND = "test"


def _directory(settings: Settings) -> Directory | None:
    """The auditors directory, or None when alerts are off or the file is unusable (check_auditors says so)."""
    if settings.auditors is None:
        return None
    try:
        return load_auditors(settings.auditors)
    except AuditorsError:
        return None


def _deliverer(settings: Settings, directory: Directory, timeout: float) -> Deliverer:
    deliverer = Deliverer(settings, directory)
    deliverer.timeout = min(timeout, settings.delivery_timeout)
    return deliverer


def check_channels(settings: Settings, timeout: float = 5.0) -> list[Check]:
    """The mail server (connect, EHLO, STARTTLS and login as configured) when anyone gets mail, and every
    distinct webhook (its host resolves to an allowed address and an HTTP server answers a HEAD there)."""
    directory = _directory(settings)
    if directory is None:
        return []
    everyone = [*directory.auditors, *directory.departments.values()]
    deliverer = _deliverer(settings, directory, timeout)
    checks = []
    try:
        mailed = [r.id for r in everyone if r.email]
        if mailed and settings.smtp is None:
            checks.append(Check("smtp", False, f"{len(mailed)} recipients get mail ({', '.join(mailed[:5])}) but "
                                               "no mail server is set: FACMON_SMTP_URL"))
        elif mailed:
            probe = deliverer.probe_smtp()
            login = f", logged in as {settings.smtp.username}" if settings.smtp and settings.smtp.username else ""
            detail = f"{probe.target}: EHLO accepted{login}" if probe.ok else f"{probe.target}: {probe.error}"
            checks.append(Check("smtp", probe.ok, detail))
        hooks: dict[tuple[str, bool, bool], list[str]] = {}
        for r in everyone:
            if r.webhook is not None:
                hooks.setdefault((r.webhook, r.allow_http, r.allow_private), []).append(r.id)
        for (url, allow_http, allow_private), ids in hooks.items():
            probe = deliverer.probe_webhook(url, allow_http, allow_private)
            what = f"answers ({probe.error})" if probe.ok else probe.error
            checks.append(Check("webhook", probe.ok, f"{probe.target} ({', '.join(ids)}): {what}"))
    finally:
        deliverer.close()
    return checks


def test_notice(recipient: str, now: datetime) -> dict[str, Any]:
    """What --send-test sends by webhook: marked ``kind: test`` so a receiver can drop it."""
    return {"format": "facmon.alert/1", "kind": TEST_KIND, "recipient": recipient, "facility": None,
            "decided_at": now.astimezone(UTC).isoformat(timespec="seconds"),
            "message": "facmon test notice: this channel works. No facility is concerned."}


def send_test(settings: Settings, recipient: str, timeout: float = 5.0) -> list[Check]:
    """Send a real test notice to ``recipient`` over each of its e-mail and webhook channels."""
    directory = _directory(settings)
    if directory is None:
        return [Check("send-test", False, "no usable auditors file (FACMON_AUDITORS): nobody to send to")]
    who = directory.recipient(recipient)
    if who is None:
        known = ", ".join(r.id for r in [*directory.auditors, *directory.departments.values()])
        return [Check("send-test", False, f"{recipient!r} is not an id in {settings.auditors} (ids: {known})")]
    deliverer = _deliverer(settings, directory, timeout)
    data = test_notice(who.id, settings.clock.now())
    sends: dict[str, Callable[[], Any]] = {
        "email": lambda: deliverer.send_mail(", ".join(who.email), deliverer.compose(
            who.email, who.label, "[facmon] Test notice", f"{data['message']}\nSent by facmon check-config "
            f"--send-test at {data['decided_at']} to {who.label} ({who.id}).\n")),
        "webhook": lambda: deliverer.send("webhook", who.id, data),
    }
    checks = []
    try:
        for channel in who.channels:
            if channel not in sends:
                checks.append(Check("send-test", True, f"{channel}: not sent (the alert topic is per facility and "
                                                       "retained: a test would stand there as an alert)",
                                    advisory=True))
                continue
            sent = sends[channel]()
            checks.append(Check("send-test", sent.ok, f"{channel} to {sent.target}: "
                                                      + ("test notice sent" if sent.ok else sent.error)))
    finally:
        deliverer.close()
    return checks


def check_readings(settings: Settings, timeout: float = 5.0) -> Check:
    """Advisory: the readings database exists and holds readings (the newest is said)."""
    db = settings.influx_db
    client = InfluxClient.from_settings(settings, timeout=timeout)
    statement = f"SELECT * FROM {ident(READINGS)} ORDER BY time DESC LIMIT 1"  # noqa: S608 (quoted)
    try:
        try:
            results = client.query(statement, epoch="s")
        except InfluxError as exc:  # a query names a missing database in its result, not its HTTP status
            if "database not found" in str(exc):
                raise InfluxDatabaseMissing(str(exc)) from None
            raise
    except InfluxDatabaseMissing:
        return Check("readings", False, f"database {db!r} does not exist: analyze would find no readings (is "
                                        "FACMON_INFLUX_DB spelled as the ingester's?)", advisory=True)
    except InfluxPermissionDenied:
        return Check("readings", False, f"cannot tell whether {db!r} holds readings: this user may not read it",
                     advisory=True)
    except InfluxError as exc:
        return Check("readings", False, f"cannot read {db!r}: {exc}", advisory=True)
    finally:
        client.close()
    series = results[0].get("series") if results else None
    if not series:
        return Check("readings", False, f"database {db!r} holds no readings: analyze would mark every facility "
                                        "NO_DATA (no ingester has written yet, or FACMON_INFLUX_DB is mistyped)",
                     advisory=True)
    newest = datetime.fromtimestamp(int(series[0]["values"][0][0]), UTC)
    return Check("readings", True, f"database {db!r} holds readings, the newest at {newest:%Y-%m-%dT%H:%M:%SZ}",
                 advisory=True)
