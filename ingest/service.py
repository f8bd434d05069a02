"""`facmon ingest`: wires the MQTT edge, the pipeline and InfluxDB together and runs until told to stop."""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from collections.abc import Callable
from datetime import tzinfo
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.reasoncodes import ReasonCode

from analytics.analysis.calendar import Calendar
from analytics.analysis.calendar_data import load_calendar
from facmon.core.errors import FacmonError
from facmon.core.influx import InfluxAuthError, InfluxClient, InfluxDatabaseMissing, InfluxError, InfluxPermissionDenied
from facmon.core.mqttclient import MqttSetupError
from facmon.core.settings import Settings
from ingest.mqtt import BufferedClient, make_client, subscription_topic
from ingest.pipeline import Pipeline
from ingest.points import ReadingEncoder
from ingest.silence import SilenceWatch
from sensors.contract import TopicGrammar, is_valid_id
from sensors.parse import MessageParser
from sensors.registry import Registry

log = logging.getLogger(__name__)


class IngestError(FacmonError, RuntimeError):
    """The ingester cannot start (bad credentials, no rights to create its database)."""


def facility_tags(registry: Registry) -> dict[str, dict[str, str]]:
    """The registry's dimensions that dashboards group readings by, as tags."""
    return {f.id: {"type": f.type, "region": f.region} for f in registry}


def facility_zones(registry: Registry) -> dict[str, tzinfo]:
    """Each facility's time zone, in which its notices show a refused reading's ts."""
    return {f.id: f.zone for f in registry}


def make_influx(settings: Settings) -> InfluxClient:
    return InfluxClient.from_settings(settings)


def prepare_database(influx: InfluxClient) -> None:
    """Make sure the database takes writes, creating it when missing and we may.

    An empty write is the probe: it needs only WRITE on the database (no SHOW DATABASES, no admin), tells a
    missing database (404) from wrong credentials (401) and missing rights (403), and stores nothing. Wrong
    credentials and missing rights stop the ingester; an unreachable server or a database nobody created yet is
    left to the writer, which retries (and creates the database itself when it is allowed to).
    """
    try:
        influx.write(b"")
        return
    except InfluxDatabaseMissing:
        pass
    except InfluxPermissionDenied as exc:
        raise IngestError(f"InfluxDB at {influx.url}: may not write to database {influx.database}: {exc}") from exc
    except InfluxAuthError as exc:
        raise IngestError(f"InfluxDB at {influx.url}: {exc}") from exc
    except InfluxError as exc:
        log.warning("InfluxDB at %s not ready yet (%s); writes will be retried", influx.url, exc)
        return
    try:
        influx.create_database()
        # WARNING, not INFO: a mistyped FACMON_INFLUX_DB would otherwise fill a database nobody analyses.
        log.warning("created InfluxDB database %s at %s: it did not exist (a typo in FACMON_INFLUX_DB?)",
                    influx.database, influx.url)
    except InfluxAuthError as exc:
        log.error(
            "InfluxDB database %s does not exist and this user may not create it (%s); an admin must run "
            "CREATE DATABASE. Holding readings until it exists.",
            influx.database,
            exc,
        )
    except InfluxError as exc:
        log.warning("InfluxDB at %s not ready yet (%s); writes will be retried", influx.url, exc)


class Ingester:
    """One ingester process: a persistent MQTT session in, batched line protocol out."""

    def __init__(self, settings: Settings, registry: Registry, now: Callable[[], float] | None = None,
                 calendar: Calendar | None = None) -> None:
        """`now` (epoch seconds) is the silence watch's clock: the settings' clock (FACMON_NOW) unless given;
        `calendar` China's, by which it tells who is open: the chinese-calendar package's corrected by
        FACMON_CALENDAR unless given (read once, here, like the registry at start)."""
        self.settings = settings
        self.grammar = TopicGrammar(settings.topic_prefix)
        self.influx = make_influx(settings)
        self.parser = MessageParser(
            self.grammar,
            {f.id: f.capacity for f in registry},
            settings.max_reading_age.total_seconds(),
            settings.max_sensors_per_facility,
        )
        try:
            self.client: BufferedClient = make_client(settings, settings.mqtt_client_id, manual_ack=True)
        except MqttSetupError as exc:
            raise IngestError(str(exc)) from None
        self.pipeline = Pipeline(
            parser=self.parser,
            encoder=ReadingEncoder(facility_tags(registry)),
            write=self.influx.write,
            ack=self.client.ack_many,
            notify=self._publish_notice,
            batch_size=settings.batch_size,
            flush_interval=settings.flush_interval,
            create_database=self.influx.create_database,
            clock_ns=settings.clock.time_ns,
            zones=facility_zones(registry),
        )
        self.pipeline.on_ignored = self._on_own_topic
        self.silence = SilenceWatch(
            tuple(registry), settings.silence_alert.total_seconds(), settings.silence_share, now or settings.clock.time,
            load_calendar(settings.calendar) if calendar is None else calendar,
        )
        self._silence_every = min(60.0, settings.silence_alert.total_seconds() / 4)
        self._notices_dropping = False
        self.connected = threading.Event()
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_raw_message = self._on_message
        self.instance = settings.mqtt_client_id

    def reload_registry(self, registry: Registry) -> None:
        """Swap in a new registry (SIGHUP) without dropping the session."""
        self.parser.capacities = {f.id: f.capacity for f in registry}
        self.pipeline.encoder = ReadingEncoder(facility_tags(registry))
        self.pipeline.zones = facility_zones(registry)
        self.silence.facilities = tuple(registry)
        log.info("registry reloaded: %d facilities", len(registry))

    # -- paho callbacks (MQTT thread) ------------------------------------------------------------------------
    def _on_connect(self, client: paho.Client, userdata: Any, flags: Any, reason: ReasonCode, props: Any) -> None:
        if reason.is_failure:
            log.error("broker %s refused the connection: %s", self.settings.mqtt.redacted(), reason)
            return
        self.pipeline.new_connection()
        topic = subscription_topic(self.settings, self.grammar.subscription)
        # Subscribe on every connect, never trusting a resumed session: anyone who got hold of this client id
        # (or a broker restart, for a share group: Mosquitto 2.0.11 does not restore $share subscriptions) may have
        # left the session without its subscription, and then nothing would ever arrive (docs/security.md). The
        # retained status messages a new subscription replays are ignored by the parser.
        client.subscribe(topic, qos=1)
        session = "session resumed" if flags.session_present else "new session"
        log.info("connected to %s, %s, subscribed to %s", self.settings.mqtt.redacted(), session, topic)
        self.connected.set()

    def _on_disconnect(self, client: paho.Client, userdata: Any, flags: Any, reason: ReasonCode, props: Any) -> None:
        self.connected.clear()
        if reason.value != 0:
            log.warning("disconnected from the broker (%s); reconnecting", reason)

    def _on_message(self, topic: bytes, payload: bytes, mid: int, qos: int, retain: bool) -> None:
        try:
            text = topic.decode()
        except UnicodeDecodeError:
            text = "<topic is not UTF-8>"
        if retain and payload and text.endswith("/rejected"):
            self._learn_retained_notice(text)
        self.pipeline.submit(text, payload, mid if qos else None, retain)

    def _publish_notice(self, topic: str, body: bytes, retain: bool = False) -> bool:
        """Publish a refusal notice unless FACMON_NOTICE_QUEUE of them already wait for the broker.

        paho queues without bound, and a flood of refusals once held hundreds of MB of notices (issue 19). A notice
        dropped here is counted (`notices_dropped`) and logged once per flood; its refusal is still counted and
        recorded in InfluxDB.
        """
        if self.client.outgoing_count() >= self.settings.notice_queue:
            self.pipeline.counters.notices_dropped += 1
            if not self._notices_dropping:
                self._notices_dropping = True
                log.warning(
                    "%d refusal notices wait for the broker: dropping new ones until it catches up (counted as "
                    "notices_dropped)", self.settings.notice_queue,
                )
            return False
        if self._notices_dropping:
            self._notices_dropping = False
            log.warning("refusal notices flow again; %d dropped so far", self.pipeline.counters.notices_dropped)
        self.client.publish(topic, body, qos=1, retain=retain)
        return True

    def _learn_retained_notice(self, topic: str) -> None:
        """A notice retained by an earlier run, replayed by the subscription: clear it on the sensor's next reading."""
        head = self.grammar.prefix + "/"
        parts = topic[len(head):].split("/") if topic.startswith(head) else []
        known = len(parts) == 3 and is_valid_id(parts[0]) and is_valid_id(parts[1])
        if known and self.pipeline.retained.may_retain(parts[0], parts[1]):
            self.pipeline.retained.retained(parts[0], parts[1])

    def _on_own_topic(self, topic: str) -> None:
        """Answer a liveness probe (facmon check-config): the subscription that brought it is live."""
        nonce = self.grammar.probe_nonce(topic)
        if nonce is None:
            return
        c = self.pipeline.counters
        body = {"instance": self.instance, "received": c.received, "written": c.readings_written,
                "pending": self.pipeline.pending_readings}
        self.client.publish(self.grammar.probe_answer(nonce), json.dumps(body).encode(), qos=1)
        log.info("answered liveness probe %s", nonce)

    def check_silence(self) -> None:
        """Feed the watch what was heard and raise (or end) the operator alert; main thread."""
        heard, self.pipeline.heard = self.pipeline.heard, set()
        self.silence.heard(heard)
        change = self.silence.check()
        if change is None:
            return
        if change.silent:
            log.error("SILENCE: %s", change.message())
        else:
            log.warning("silence over: %s", change.message())
        body = {"alert": "silence" if change.silent else "silence_over", "detail": change.message(),
                "expected": change.expected, "heard": change.heard, "window_s": change.window_s,
                "instance": self.instance}
        # Retained: an operator who subscribes later still sees the current state.
        self.client.publish(self.grammar.ingest_alert, json.dumps(body).encode(), qos=1, retain=True)

    # -- lifecycle ---------------------------------------------------------------------------------------------
    def start(self) -> None:
        prepare_database(self.influx)
        url = self.settings.mqtt
        self._writer = threading.Thread(target=self._run_writer, name="influx-writer", daemon=True)
        self._writer.start()
        self.client.connect_async(url.host, url.port, keepalive=self.settings.mqtt_keepalive)
        self.client.loop_start()

    def _run_writer(self) -> None:
        try:
            self.pipeline.run_writer()
        finally:
            self.influx.close()  # InfluxClient keeps one connection per thread; this one is the writer's

    def run(self, stop: threading.Event) -> None:
        """Run until `stop` is set, logging counters every stats_interval."""
        self.start()
        next_stats = time.monotonic() + self.settings.stats_interval
        next_silence = time.monotonic() + self._silence_every
        while not stop.wait(min(1.0, max(0.0, min(next_stats, next_silence) - time.monotonic()))):
            if time.monotonic() >= next_silence:
                self.check_silence()
                next_silence += self._silence_every
            if time.monotonic() >= next_stats:
                self.log_stats()
                next_stats += self.settings.stats_interval
        self.shutdown()

    def log_stats(self) -> None:
        c = self.pipeline.counters
        refused = " ".join(f"{reason}={n}" for reason, n in sorted(c.refused.items())) or "none"
        log.info(
            "counters received=%d accepted=%d written=%d statuses=%d ignored=%d refused=[%s] pending=%d lag_ms=%d "
            "retries=%d notices_dropped=%d unattributed=%d revisions=%d resends_unchecked=%d silent=%d "
            "silence_alerts=%d",
            c.received, c.readings_accepted, c.readings_written, c.statuses, c.ignored, refused,
            self.pipeline.pending_readings, c.last_lag_ms, c.write_retries, c.notices_dropped, c.unattributed,
            self.pipeline.revisions.revisions, self.pipeline.revisions.unchecked,
            self.silence.silent, self.silence.alerts,
        )
        extra = {"silent": int(self.silence.silent), "silence_alerts": self.silence.alerts}
        self.pipeline.add_points([self.pipeline.stats_line(self.instance, self.settings.clock.time_ns(), extra)])

    def shutdown(self, timeout: float = 60.0) -> None:
        """Write and acknowledge everything taken so far, then leave the session for the next start."""
        log.info("stopping: writing %d pending readings", self.pipeline.pending_readings)
        finished = self.pipeline.close(timeout)
        if not finished:
            log.error("InfluxDB did not take the pending readings in %.0f s; the broker will redeliver them", timeout)
        deadline = time.monotonic() + 5.0
        while self.client.want_write() and time.monotonic() < deadline:
            time.sleep(0.02)
        self.client.disconnect()
        self.client.loop_stop()
        self.influx.close()
        self.log_stats_final()

    def log_stats_final(self) -> None:
        c = self.pipeline.counters
        log.info("stopped: received=%d written=%d refused=%d", c.received, c.readings_written, sum(c.refused.values()))


def default_instance() -> str:
    return socket.gethostname()
