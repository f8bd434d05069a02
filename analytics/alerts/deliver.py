"""The edges that carry notices out: mail over SMTP, a JSON POST to a webhook, the MQTT alert topic.

Each send returns an outcome instead of raising, so one broken channel never stops the others, and its error
text names the channel and recipient but never a password, a token or a webhook's path (which often holds one).
A run opens at most one SMTP and one MQTT connection, on first use, and closes them at the end.
"""

from __future__ import annotations

import http.client
import logging
import os
import secrets
import smtplib
import socket
import ssl
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formataddr, formatdate, make_msgid
from typing import Any
from urllib.parse import urlsplit

import orjson
import paho.mqtt.client as paho

from analytics.alerts.auditors import Directory
from analytics.alerts.digest import MAX_NOTICES, digest_subject, digest_text, split_notices
from analytics.alerts.message import mail_text, subject
from analytics.alerts.webhook_guard import WebhookRefused, check_url, pick_address, resolve, webhook_target
from analytics.alerts.webhook_sign import SecretError
from analytics.alerts.webhook_sign import headers as sign_headers
from facmon.core.i18n import using
from facmon.core.mqttclient import new_client
from facmon.core.settings import Settings
from sensors.contract import TopicGrammar

log = logging.getLogger(__name__)

MQTT_RECIPIENT = "*"  # the alert topic is one per facility, published once for every recipient who wants it


@dataclass(frozen=True, slots=True)
class Sent:
    ok: bool
    target: str
    error: str = ""


class _PinnedHTTP(http.client.HTTPConnection):
    """Plain HTTP to the address webhook_guard checked; the Host header still names the host."""

    def __init__(self, host: str, port: int | None, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPS(http.client.HTTPSConnection):
    """TLS to the address webhook_guard checked, with the certificate verified for the host name (SNI too)."""

    def __init__(self, host: str, port: int | None, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self._address = address

    def connect(self) -> None:
        raw = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(raw, server_hostname=self.host)  # type: ignore[attr-defined]


def _short(exc: BaseException) -> str:
    text = str(exc).replace("\n", " ").strip()
    return f"{type(exc).__name__}: {text}"[:300] if text else type(exc).__name__


class Deliverer:
    """Sends payloads over the three channels with the settings' mail server and broker."""

    def __init__(self, settings: Settings, directory: Directory) -> None:
        self.settings = settings
        self.directory = directory
        self.topics = TopicGrammar(settings.topic_prefix)
        self.timeout = settings.delivery_timeout
        self._smtp: smtplib.SMTP | None = None
        self._smtp_error: str = ""
        self._mqtt: paho.Client | None = None
        self._mqtt_error: str = ""

    def send(self, channel: str, recipient: str, data: Mapping[str, Any]) -> Sent:
        """Deliver ``data`` (a notice payload) to ``recipient`` over ``channel``."""
        if channel == "mqtt":
            return self._publish(str(data["facility"]["id"]), data)
        who = self.directory.recipient(recipient)
        if who is None:
            return Sent(False, recipient, f"recipient {recipient!r} is no longer in the auditors file")
        if channel == "email" and who.email:
            return self._mail(who.email, who.label, data, who.language)
        if channel == "webhook" and who.webhook:
            try:
                secret = who.webhook_secret()
            except SecretError as exc:
                return Sent(False, webhook_target(who.webhook), f"not sent unsigned: {exc}")
            return self._post(who.webhook, data, who.allow_http, who.allow_private, secret)
        return Sent(False, recipient, f"recipient {recipient!r} no longer has a {channel} channel")

    # -- mail ---------------------------------------------------------------------------------------------------
    def _smtp_connection(self) -> smtplib.SMTP:
        """The run's mail connection; a server that could not be reached is not tried again in this run."""
        if self._smtp is not None:
            return self._smtp
        if self._smtp_error:
            raise RuntimeError(self._smtp_error)
        server = self.settings.smtp
        if server is None:
            self._smtp_error = "no mail server configured (FACMON_SMTP_URL)"
            raise RuntimeError(self._smtp_error)
        context = ssl.create_default_context()
        conn: smtplib.SMTP | None = None
        try:
            if server.security == "tls":
                conn = smtplib.SMTP_SSL(server.host, server.port, timeout=self.timeout, context=context)
            else:
                conn = smtplib.SMTP(server.host, server.port, timeout=self.timeout)
                if server.security == "starttls":
                    conn.starttls(context=context)
            if server.username:
                conn.login(server.username, server.password.get_secret_value() if server.password else "")
        except (smtplib.SMTPException, OSError) as exc:
            if conn is not None:
                conn.close()
            self._smtp_error = f"mail server {server.host}:{server.port}: {_short(exc)}"
            raise RuntimeError(self._smtp_error) from None
        self._smtp = conn
        return conn

    def compose(self, addresses: tuple[str, ...], name: str, title: str, text: str) -> EmailMessage:
        """A message with the headers mail servers and filters expect: Date (this process's clock) and a
        Message-ID under the sender's domain."""
        message = EmailMessage()
        message["Subject"] = title
        message["From"] = self.settings.smtp_from
        message["To"] = ", ".join(formataddr((name, address)) for address in addresses)
        message["Date"] = formatdate(self.settings.clock.time_ns() / 10**9, usegmt=True)
        message["Message-ID"] = make_msgid(domain=self.settings.smtp_from.rpartition("@")[2] or "facmon")
        message.set_content(text)
        return message

    def _mail(self, addresses: tuple[str, ...], name: str, data: Mapping[str, Any], language: str | None) -> Sent:
        """One notice's mail, written in the recipient's language (None: the process's)."""
        with using(language):
            title, text = subject(data), mail_text(data)
        message = self.compose(addresses, name, title, text)
        message["X-Facmon-Facility"] = str(data["facility"]["id"])
        message["X-Facmon-Kind"] = str(data["kind"])
        message.add_attachment(orjson.dumps(data, option=orjson.OPT_INDENT_2), maintype="application",
                               subtype="json", filename=f"facmon-{data['facility']['id']}-{data['as_of']}.json")
        return self.send_mail(", ".join(addresses), message)

    def mail_digest(self, recipient: str, notices: Sequence[Mapping[str, Any]],
                    most: int = MAX_NOTICES) -> list[Sent]:
        """Mail ``recipient`` every notice of the run (analytics.alerts.digest): one digest, or several of at most
        ``most`` notices each; a run with one notice for them sends that notice's own mail. The outcome of the mail
        that carried each notice, in the notices' order."""
        who = self.directory.recipient(recipient)
        if who is None or not who.email:
            return [Sent(False, recipient, f"recipient {recipient!r} no longer has an email channel")] * len(notices)
        if len(notices) == 1:
            return [self._mail(who.email, who.label, notices[0], who.language)]
        parts = split_notices(notices, most)
        outcomes: list[Sent] = []
        for number, part in enumerate(parts, start=1):
            with using(who.language):
                title = digest_subject(part, number, len(parts))
                text = digest_text(part, len(outcomes) + 1, len(notices))
            message = self.compose(who.email, who.label, title, text)
            message["X-Facmon-Kind"] = "digest"
            name = f"facmon-digest-{part[0]['as_of']}" + (f"-{number}-of-{len(parts)}" if len(parts) > 1 else "")
            message.add_attachment(orjson.dumps(list(part), option=orjson.OPT_INDENT_2), maintype="application",
                                   subtype="json", filename=f"{name}.json")
            outcomes += [self.send_mail(", ".join(who.email), message)] * len(part)
        return outcomes

    def send_mail(self, target: str, message: EmailMessage) -> Sent:
        """Send over the run's connection, reconnecting once when the server dropped an idle one."""
        for attempt in (1, 2):
            try:
                refused = self._smtp_connection().send_message(message)
            except smtplib.SMTPServerDisconnected as exc:
                self._close_smtp()  # an idle connection the server dropped: reconnect once
                if attempt == 2:
                    return Sent(False, target, _short(exc))
            except RuntimeError as exc:  # the mail server could not be reached or logged in to in this run
                return Sent(False, target, str(exc))
            except (smtplib.SMTPException, OSError) as exc:
                self._close_smtp()
                return Sent(False, target, _short(exc))
            else:
                if refused:
                    return Sent(False, target, f"refused: {', '.join(sorted(refused))}")
                return Sent(True, target)
        raise AssertionError("unreachable")

    def probe_smtp(self) -> Sent:
        """Connect, EHLO (and STARTTLS and log in, as configured), without sending anything."""
        server = self.settings.smtp
        where = f"{server.host}:{server.port}" if server is not None else "FACMON_SMTP_URL"
        try:
            code, _ = self._smtp_connection().ehlo()
        except RuntimeError as exc:
            return Sent(False, where, str(exc))
        except (smtplib.SMTPException, OSError) as exc:
            return Sent(False, where, _short(exc))
        if code != 250:
            return Sent(False, where, f"EHLO answered {code}")
        return Sent(True, where)

    def _close_smtp(self) -> None:
        if self._smtp is not None:
            try:
                self._smtp.quit()
            except (smtplib.SMTPException, OSError):
                self._smtp.close()
            self._smtp = None

    # -- webhook ------------------------------------------------------------------------------------------------
    def _connect(self, url: str, allow_http: bool, allow_private: bool) -> tuple[http.client.HTTPConnection, str]:
        """A connection to the address webhook_guard checked now (the URL, then every address its host resolves
        to), and the request path; raises WebhookRefused or OSError."""
        parts = urlsplit(url)
        https = parts.scheme == "https"
        port = parts.port or (443 if https else 80)
        check_url(url, allow_http, allow_private)
        address = pick_address(parts.hostname or "", resolve(parts.hostname or "", port), allow_private)
        cls = _PinnedHTTPS if https else _PinnedHTTP
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        return cls(parts.hostname or "", port, str(address), self.timeout), path

    def _request(self, url: str, method: str, body: bytes | None, headers: dict[str, str], allow_http: bool,
                 allow_private: bool) -> Sent:
        target = webhook_target(url)
        try:
            conn, path = self._connect(url, allow_http, allow_private)
        except WebhookRefused as exc:
            log.error("webhook %s refused: %s", target, exc)
            return Sent(False, target, f"refused: {exc}")
        except OSError as exc:
            return Sent(False, target, f"cannot resolve: {_short(exc)}")
        try:
            conn.request(method, path, body=body, headers={"User-Agent": "facmon-alerts", **headers})
            response = conn.getresponse()
            response.read(65536)
        except (OSError, http.client.HTTPException) as exc:
            return Sent(False, target, _short(exc))
        finally:
            conn.close()
        if 200 <= response.status < 300 or (method == "HEAD" and response.status < 500):
            return Sent(True, target, f"HTTP {response.status}")
        return Sent(False, target, f"HTTP {response.status} {response.reason}"[:300])

    def _post(self, url: str, data: Mapping[str, Any], allow_http: bool = False, allow_private: bool = False,
              secret: bytes | None = None) -> Sent:
        """POST the notice as JSON, signed when the entry has a secret (analytics.alerts.webhook_sign). A redirect
        is a failure, never followed."""
        body = orjson.dumps(data)
        headers = {"Content-Type": "application/json; charset=utf-8"}
        if secret is not None:
            headers.update(sign_headers(secret, self.settings.clock.time_ns() // 10**9, body))
        return self._request(url, "POST", body, headers, allow_http, allow_private)

    def probe_webhook(self, url: str, allow_http: bool = False, allow_private: bool = False) -> Sent:
        """The host resolves to an allowed address and an HTTP server answers there (HEAD; any answer below 500)."""
        return self._request(url, "HEAD", None, {}, allow_http, allow_private)

    # -- MQTT ---------------------------------------------------------------------------------------------------
    def _mqtt_client(self) -> paho.Client:
        """A clean-session client (no session left on the broker), connected once per run."""
        if self._mqtt is not None:
            return self._mqtt
        if self._mqtt_error:
            raise ConnectionError(self._mqtt_error)
        url = self.settings.mqtt
        client = new_client(self.settings, f"facmon-alerts-{os.getpid()}-{secrets.token_hex(3)}")
        connected = threading.Event()
        refused: list[str] = []

        def on_connect(client: paho.Client, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
            if reason.is_failure:
                refused.append(str(reason))
            connected.set()

        client.on_connect = on_connect
        try:
            client.connect(url.host, url.port, keepalive=30)
        except OSError as exc:
            self._mqtt_error = f"broker {url.redacted()}: {_short(exc)}"
            raise ConnectionError(self._mqtt_error) from None
        client.loop_start()
        if not connected.wait(self.timeout) or refused:
            client.loop_stop()
            client.disconnect()
            self._mqtt_error = f"broker {url.redacted()} " + (f"refused: {refused[0]}" if refused else "timed out")
            raise ConnectionError(self._mqtt_error)
        self._mqtt = client
        return client

    def _publish(self, facility: str, data: Mapping[str, Any]) -> Sent:
        topic = self.topics.alert(facility)
        try:
            info = self._mqtt_client().publish(topic, orjson.dumps(data), qos=1, retain=True)
            info.wait_for_publish(self.timeout)
        except (ConnectionError, RuntimeError, ValueError, OSError) as exc:
            return Sent(False, topic, str(exc) if isinstance(exc, ConnectionError) else _short(exc))
        if not info.is_published():
            return Sent(False, topic, "the broker did not acknowledge the message in time")
        return Sent(True, topic)

    def close(self) -> None:
        self._close_smtp()
        if self._mqtt is not None:
            self._mqtt.disconnect()
            self._mqtt.loop_stop()
            self._mqtt = None
