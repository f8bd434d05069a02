"""For the auditor-side tests: real servers that receive alerts (an SMTP server from aiosmtpd, a webhook from
http.server in a thread, an MQTT subscriber on the real Mosquitto), each collecting what arrives for the tests to
read; and a small registry with analysis runs made by hand. The fixtures that run them are in conftest.py."""

from __future__ import annotations

import email
import email.policy
import json
import threading
import time
from collections.abc import Callable
from datetime import date, timedelta
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar

import paho.mqtt.client as paho
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from paho.mqtt.enums import CallbackAPIVersion

from analytics.alerts.auditors import Directory, parse_auditors
from analytics.analysis.model import AnalysisRun, FacilityResult, Figures, Finding, Integrity, Status, Window
from facmon.core.influx import InfluxClient
from facmon.core.settings import Settings
from facmon.demo.localstack import LocalMosquitto, free_port
from sensors.registry import Registry

T = TypeVar("T")
SMTP_USER, SMTP_PASSWORD = "facmon", "mail-s3cret"


def wait_for(items: Callable[[], list[T]], count: int, timeout: float = 15.0) -> list[T]:
    """The collected items once there are ``count`` of them; fails after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = items()
        if len(found) >= count:
            return found
        time.sleep(0.05)
    raise AssertionError(f"expected {count} items within {timeout} s, got {len(items())}: {items()}")


class Mailbox:
    """An aiosmtpd handler keeping every message it accepts."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._messages: list[tuple[list[str], EmailMessage]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        with self._lock:
            self._messages.append((list(envelope.rcpt_tos), message))  # type: ignore[arg-type]
        return "250 OK"

    def messages(self) -> list[tuple[list[str], EmailMessage]]:
        with self._lock:
            return list(self._messages)


class SmtpServer:
    """A real SMTP server on loopback; with ``auth`` it requires LOGIN/PLAIN with SMTP_USER/SMTP_PASSWORD."""

    def __init__(self, auth: bool = False) -> None:
        self.mailbox = Mailbox()
        self.port = free_port()
        kwargs: dict[str, Any] = {}
        if auth:
            kwargs = {"authenticator": self._authenticate, "auth_required": True, "auth_require_tls": False}
        self.controller = Controller(self.mailbox, hostname="127.0.0.1", port=self.port, **kwargs)

    @staticmethod
    def _authenticate(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        ok = isinstance(data, LoginPassword) and data.login == SMTP_USER.encode() \
            and data.password == SMTP_PASSWORD.encode()
        return AuthResult(success=ok, handled=False)

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.controller.start()

    def stop(self) -> None:
        self.controller.stop()


class Webhook:
    """An HTTP server taking JSON POSTs; ``fail`` makes it answer 500 to that many requests first."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, str], Any]] = []
        self.fail = 0
        lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with lock:
                    failing = outer.fail > 0
                    outer.fail -= failing
                    if not failing:
                        outer.requests.append((self.path, dict(self.headers), json.loads(body)))
                self.send_response(500 if failing else 204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)

    def received(self) -> list[Any]:
        return [body for _, _, body in self.requests]


class Subscriber:
    """An MQTT client subscribed to a topic filter on the real broker, keeping (topic, payload, retained)."""

    def __init__(self, broker: LocalMosquitto, topic_filter: str) -> None:
        self.messages: list[tuple[str, Any, bool]] = []
        self.client = paho.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id="", clean_session=True)
        subscribed = threading.Event()
        self.client.on_message = lambda c, u, m: self.messages.append((m.topic, json.loads(m.payload), m.retain))
        self.client.on_subscribe = lambda *args: subscribed.set()
        self.client.on_connect = lambda c, u, f, rc, p: c.subscribe(topic_filter, qos=1)
        self.client.connect(broker.host, broker.port)
        self.client.loop_start()
        if not subscribed.wait(10):
            raise AssertionError("MQTT subscription not acknowledged")

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


D = date(2025, 11, 3)
LIB, GYM, COMM = "wz-lc-lib-001", "wz-lc-gym-002", "wz-oh-comm-003"
REASONS = {
    Status.IDLE: ("no use on 21 of 24 open days (87.5% ≥ 80%)", "mean occupancy 3.1% of capacity (< 10%)"),
    Status.UNDERUSED: ("mean occupancy 6.2% of capacity (< 10%)",),
    Status.NO_DATA: ("sensor data in 12% of opening hours (27 h of 224 h; < 60%): a sensor problem, not idleness",),
    Status.ACTIVE: ("mean occupancy 35% of capacity (≥ 10%)",),
}


def registry_data() -> dict[str, Any]:
    hours = {day: ["09:00-17:00"] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
    return {"facilities": [
        {"id": LIB, "name": "鹿城区图书馆五马分馆", "type": "library", "region": "zhejiang/wenzhou/lucheng",
         "capacity": 120, "opening_hours": hours, "department": "鹿城区文广旅体局",
         "location": {"lat": 28.0, "lon": 120.65}},
        {"id": GYM, "name": "鹿城区全民健身中心", "type": "sports_hall", "region": "zhejiang/wenzhou/lucheng",
         "capacity": 80, "opening_hours": hours, "department": "鹿城区文广旅体局"},
        {"id": COMM, "name": "娄桥街道社区活动中心", "type": "community_center", "region": "zhejiang/wenzhou/ouhai",
         "capacity": 60, "opening_hours": hours, "department": "瓯海区娄桥街道办事处"},
    ]}


def registry() -> Registry:
    return Registry.model_validate(registry_data())


def run_of(as_of: date, statuses: dict[str, Status],
           findings: dict[str, tuple[Finding, ...]] | None = None) -> AnalysisRun:
    """A run with these statuses; ``findings`` make facilities' data suspect."""
    results = []
    for site in registry():
        status = statuses[site.id]
        window = Window(as_of - timedelta(days=28), as_of - timedelta(days=1), site.timezone)
        figures = Figures(open_hours=224.0, covered_hours=201.0, open_days=24, observed_days=24, idle_days=21,
                          coverage=0.12 if status is Status.NO_DATA else 0.9, occupancy_rate=0.031,
                          idle_day_share=0.875)
        results.append(FacilityResult(site.id, site.name, site.type, site.region, site.department, site.capacity,
                                      status, figures, window, REASONS[status],
                                      integrity=Integrity((findings or {}).get(site.id, ()))))
    return AnalysisRun(as_of, 28, tuple(results))


#: The test webhook listens on 127.0.0.1 over plain http, which an entry must allow explicitly.
LOCAL_HOOK = {"allow_http": True, "allow_private": True}


def directory(hook_url: str, mqtt: bool = True) -> Directory:
    return parse_auditors({
        "evidence_url": "https://grafana.example/d/facility?var-facility={facility}&time={as_of}",
        "auditors": [
            {"id": "city", "name": "温州市审计局", "regions": ["zhejiang/wenzhou"], "email": "city@audit.example.org",
             "mqtt": mqtt},
            {"id": "district", "name": "鹿城区审计局", "regions": ["zhejiang/wenzhou/lucheng"], "webhook": hook_url,
             **LOCAL_HOOK},
        ],
        "departments": {
            "鹿城区文广旅体局": {"id": "lc-culture", "email": ["it@culture.example.org"]},
            "瓯海区娄桥街道办事处": {"id": "oh-street", "webhook": hook_url.replace("/hook", "/street"), **LOCAL_HOOK},
        },
    })


def settings_for(db: InfluxClient, smtp_url: str, mosquitto_url: str, prefix: str, **extra: object) -> Settings:
    """Settings for process_run; give each test that publishes a prefix of its own (the broker is shared)."""
    return Settings(influx_url=db.url, influx_db=db.database, smtp_url=smtp_url, mqtt_url=mosquitto_url,
                    topic_prefix=prefix, smtp_from="facmon@example.org", delivery_timeout=5, **extra)


def alerts(db: InfluxClient) -> list[dict]:
    result = db.query('SELECT * FROM "alert" ORDER BY time', epoch="ns")
    series = result[0].get("series", [])
    return [dict(zip(series[0]["columns"], values, strict=True)) for values in series[0]["values"]] if series else []
