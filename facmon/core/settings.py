"""All of facmon's configuration, in one place.

Values come, highest priority first, from command-line flags, ``FACMON_*`` environment variables, the YAML file
named by ``FACMON_CONFIG``, and the defaults below. Secrets are held as ``SecretStr`` so they never reach a log.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from datetime import datetime, timedelta
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Self
from urllib.parse import unquote, urlsplit

from pydantic import (
    BeforeValidator,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from facmon.core import i18n, yamlload
from facmon.core.clock import Clock, clock_at, parse_instant
from facmon.core.config import Loc, StrictModel, problems
from facmon.core.errors import ConfigError

ENV_PREFIX = "FACMON_"
CONFIG_ENV = "FACMON_CONFIG"

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$")
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_TOPIC_LEVEL = re.compile(r"[A-Za-z0-9_.-]+")
#: A deployment's name, written as a facility id is (sensors.contract.ID_PATTERN): it keys the national view.
_DEPLOYMENT = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")


class SettingsError(ConfigError, ValueError):
    """A setting is invalid; the message names it in one line."""


#: deploy/compose/example.env's placeholders all start with this; a deployment that kept one is refused.
EXAMPLE_PASSWORD_MARK = "change-me"  # noqa: S105 (the mark of a placeholder, refused)
EXAMPLE_PASSWORD_HINT = (
    f"an example password ({EXAMPLE_PASSWORD_MARK}…, as in deploy/compose/example.env): replace it with a "
    "secret of your own"
)


def is_example_password(value: str) -> bool:
    """True for the placeholders of the shipped example files, which everyone who read them knows."""
    return value.strip().lower().startswith(EXAMPLE_PASSWORD_MARK)


def parse_duration(value: object) -> timedelta:
    """Accept ``35d``, ``12h``, ``90m``, ``45s``, a bare number of seconds, or a timedelta."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, bool):
        raise ValueError("a duration such as 35d, 12h, 90m or a number of seconds")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        match = _DURATION.match(str(value))
        if not match:
            raise ValueError("a duration such as 35d, 12h, 90m or a number of seconds")
        seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    if seconds <= 0:
        raise ValueError("a duration must be positive")
    return timedelta(seconds=seconds)


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]
Instant = Annotated[datetime, BeforeValidator(parse_instant)]


#: Each URL model's schemes: the fields a scheme sets, and the port it implies.
_MQTT_SCHEMES: dict[str, tuple[dict[str, Any], int]] = {
    "mqtt": ({"tls": False}, 1883),
    "mqtts": ({"tls": True}, 8883),
}
_SMTP_SCHEMES: dict[str, tuple[dict[str, Any], int]] = {
    "smtp": ({"security": "plain"}, 25),
    "smtp+starttls": ({"security": "starttls"}, 587),
    "smtps": ({"security": "tls"}, 465),
}


class _ServerUrl(StrictModel):
    """A server from ``scheme://[user[:password]@]host[:port]``: one parser and one SecretStr for every URL model,
    so no model can let a password through to a repr, a log or an error message."""

    host: str
    port: int
    username: str | None = None
    password: SecretStr | None = None

    @classmethod
    def _parse(cls, raw: str, schemes: Mapping[str, tuple[dict[str, Any], int]], scheme_error: str) -> Self:
        """Check the URL's form and decode its credentials; ``schemes`` maps each scheme to its fields and port."""
        parts = urlsplit(raw.strip())
        if parts.scheme not in schemes:
            raise ValueError(scheme_error)
        if not parts.hostname:
            raise ValueError("has no host")
        try:
            port = parts.port
        except ValueError as exc:
            raise ValueError("has an invalid port") from exc
        if parts.path not in ("", "/") or parts.query or parts.fragment:
            raise ValueError("must be scheme://[user[:password]@]host[:port] with nothing after")
        fields, default_port = schemes[parts.scheme]
        return cls(
            **fields,
            host=parts.hostname,
            port=port or default_port,
            username=unquote(parts.username) if parts.username else None,
            password=SecretStr(unquote(parts.password)) if parts.password else None,
        )


class MqttUrl(_ServerUrl):
    """Broker address parsed from ``mqtt://user:pass@host:port`` or ``mqtts://``; the password stays secret."""

    tls: bool

    @classmethod
    def parse(cls, raw: str) -> MqttUrl:
        return cls._parse(raw, _MQTT_SCHEMES, "must start with mqtt:// or mqtts://")

    def redacted(self) -> str:
        """The URL as it may appear in a log."""
        user = f"{self.username}:***@" if self.username else ""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'mqtts' if self.tls else 'mqtt'}://{user}{host}:{self.port}"


class SmtpUrl(_ServerUrl):
    """Mail server from ``smtp://host:port``, ``smtp+starttls://`` or ``smtps://``; the password stays secret."""

    security: str  # "plain", "starttls" or "tls"

    @classmethod
    def parse(cls, raw: str) -> SmtpUrl:
        return cls._parse(raw, _SMTP_SCHEMES, "must start with smtp://, smtp+starttls:// or smtps://")


class Settings(BaseSettings):
    """facmon's settings; each field is also the env var ``FACMON_<NAME>``."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, extra="forbid", validate_default=True, case_sensitive=False,
        populate_by_name=True,  # grafana_url and grafana_token by name in FACMON_CONFIG, by alias in the environment
    )

    mqtt_url: SecretStr = Field(
        default=SecretStr("mqtt://127.0.0.1:1883"), description="Broker URL, mqtt:// or mqtts://"
    )
    mqtt_ca_file: Path | None = Field(default=None, description="CA certificate for mqtts://")
    mqtt_client_id: str = Field(default="facmon-ingest", description="MQTT client id (persistent session)")
    mqtt_share_group: str | None = Field(default=None, description="Shared-subscription group name")
    mqtt_keepalive: int = Field(
        default=30, ge=5, le=3600, description="MQTT keepalive seconds; the broker drops a client silent 1.5x as long"
    )
    topic_prefix: str = Field(default="facmon/v1", description="Topic prefix, e.g. facmon/v1")
    influx_url: str = Field(default="http://127.0.0.1:8086", description="InfluxDB base URL (v1 API)")
    influx_db: str = Field(default="facmon", description="InfluxDB database (or v1-mapped bucket)")
    influx_evidence_db: str | None = Field(
        default=None, description="Database of statuses, alerts, reviews and the rollup (default <influx_db>_evidence)"
    )
    influx_token: SecretStr | None = Field(default=None, description="Token (InfluxDB 2.x/3.x v1 API)")
    influx_user: str | None = Field(default=None, description="InfluxDB user")
    influx_password: SecretStr | None = Field(default=None, description="InfluxDB password")
    influx_timeout: float = Field(default=10.0, gt=0, description="Seconds per InfluxDB HTTP request")
    registry: Path = Field(default=Path("registry.yaml"), description="Facility registry (YAML)")
    cache_dir: Path | None = Field(
        default=None, description="Where a large registry is kept parsed between runs (sensors.registry_cache); "
        "default $XDG_CACHE_HOME/facmon or ~/.cache/facmon"
    )
    registry_cache: bool = Field(default=True, description="Keep a large registry parsed between runs (no: read "
                                 "the YAML every time)")
    calendar: Path | None = Field(
        default=None, description="China's calendar: holidays and adjusted working days to add or correct (YAML); "
        "the chinese-calendar package's dates are used without it"
    )
    max_reading_age: Duration = Field(default=timedelta(days=35), description="Oldest ts accepted")
    batch_size: int = Field(
        default=5000, ge=1, le=100_000, description="Readings per write; half the broker's in-flight window at most"
    )
    flush_interval: float = Field(default=0.25, gt=0, le=60, description="Seconds before a partial batch is written")
    stats_interval: float = Field(default=10.0, gt=0, description="Seconds between counter log lines")
    max_sensors_per_facility: int = Field(
        default=50, ge=1, le=1_000_000,
        description="Distinct sensor ids the ingester accepts per facility; a new one beyond is refused",
    )
    notice_queue: int = Field(
        default=1000, ge=10, le=100_000,
        description="Refusal notices waiting for the broker at most; beyond, notices are dropped and counted",
    )
    silence_alert: Duration = Field(
        default=timedelta(minutes=30),
        description="Alert operators when the facilities open throughout this long delivered (nearly) nothing",
    )
    silence_share: float = Field(
        default=0.25, ge=0, le=1,
        description="Silence: fewer than this share of the open facilities heard from (none at 0)",
    )
    log_level: str = Field(default="INFO", description="DEBUG, INFO, WARNING or ERROR")
    language: str | None = Field(
        default=None, description="Language of everything a person reads: zh_CN or en (unset: the locale's, as "
        "gettext reads LANGUAGE, LC_ALL, LC_MESSAGES, LANG; English without one)"
    )
    # `facmon dashboards publish`: Grafana's own variables keep Grafana's names, without the FACMON_ prefix.
    grafana_url: str | None = Field(default=None, validation_alias="GRAFANA_URL",
                                    description="Grafana's URL")
    grafana_token: SecretStr | None = Field(default=None,
                                            validation_alias="GRAFANA_TOKEN",
                                            description="Grafana service account token")
    grafana_influx_url: str | None = Field(default=None, description="InfluxDB URL as Grafana reaches it")
    grafana_influx_db: str | None = Field(default=None, description="Readings database of Grafana's data source")
    grafana_influx_evidence_db: str | None = Field(default=None, description="Evidence database of Grafana's")
    grafana_influx_user: str | None = Field(default=None, description="Grafana's read-only InfluxDB user")
    grafana_influx_password: SecretStr | None = Field(default=None, description="Its password")
    auditors: Path | None = Field(default=None, description="Auditors YAML; alerts are off without it")
    smtp_url: SecretStr | None = Field(default=None, description="Mail server, smtp[s]:// or smtp+starttls://")
    smtp_user: str | None = Field(default=None, description="SMTP user (instead of one in FACMON_SMTP_URL)")
    smtp_password: SecretStr | None = Field(default=None, description="SMTP password")
    smtp_from: str = Field(default="facmon@localhost", description="Sender address of alert mails")
    reminder_days: int = Field(default=14, ge=1, le=366, description="Days between reminders while flagged")
    delivery_timeout: float = Field(default=20.0, gt=0, le=300, description="Seconds per SMTP/webhook/MQTT send")
    deployment: str | None = Field(
        default=None, description="This deployment's name in the status export it sends upward (`facmon analyze "
        "--export`), e.g. the province: lowercase letters, digits, '_' or '-', as facility ids"
    )
    now: Instant | None = Field(
        default=None, description="Testing and reproducing runs: pin the clock to this ISO instant (e.g. "
        "2026-12-01T16:30:00Z); it runs on from there. Unset (production): the machine's clock"
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, file_secret_settings)

    @field_validator("topic_prefix")
    @classmethod
    def _check_prefix(cls, value: str) -> str:
        levels = value.split("/")
        if not value or not all(_TOPIC_LEVEL.fullmatch(level) for level in levels):
            raise ValueError("must be topic levels of letters, digits, '_', '.', '-' separated by '/'")
        return value

    @field_validator("mqtt_url")
    @classmethod
    def _check_mqtt_url(cls, value: SecretStr) -> SecretStr:
        MqttUrl.parse(value.get_secret_value())
        return value

    @field_validator("smtp_url")
    @classmethod
    def _check_smtp_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            SmtpUrl.parse(value.get_secret_value())
        return value

    @property
    def smtp(self) -> SmtpUrl | None:
        """The mail server, with FACMON_SMTP_USER/PASSWORD taking the place of credentials in the URL."""
        if self.smtp_url is None:
            return None
        url = SmtpUrl.parse(self.smtp_url.get_secret_value())
        if self.smtp_user:
            url = url.model_copy(update={"username": self.smtp_user, "password": self.smtp_password})
        return url

    @cached_property
    def clock(self) -> Clock:
        """The one clock of this process (facmon.core.clock): pinned by FACMON_NOW, else the machine's."""
        return clock_at(self.now)

    @property
    def mqtt(self) -> MqttUrl:
        """The broker URL, parsed."""
        return MqttUrl.parse(self.mqtt_url.get_secret_value())

    @field_validator("influx_url")
    @classmethod
    def _check_influx_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be http(s)://host[:port]")
        if "@" in parts.netloc:
            raise ValueError("must not hold credentials: use FACMON_INFLUX_USER/PASSWORD or FACMON_INFLUX_TOKEN")
        return value.rstrip("/")

    @field_validator("influx_db", "influx_evidence_db")
    @classmethod
    def _check_db(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}", value):
            raise ValueError("must be letters, digits, '_', '.', '-' (at most 64)")
        return value

    @field_validator("mqtt_client_id", "mqtt_share_group")
    @classmethod
    def _check_client_id(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", value):
            raise ValueError("must be 1-64 letters, digits, '_' or '-'")
        return value

    @field_validator("deployment")
    @classmethod
    def _check_deployment(cls, value: str | None) -> str | None:
        if value is not None and not _DEPLOYMENT.fullmatch(value):
            raise ValueError("must be 1-63 lowercase letters, digits, '_' or '-', starting with a letter or digit")
        return value

    @field_validator("language")
    @classmethod
    def _check_language(cls, value: str | None) -> str | None:
        return i18n.parse_language(value) if value else None

    @field_validator("log_level")
    @classmethod
    def _check_level(cls, value: str) -> str:
        level = value.upper()
        if level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
            raise ValueError("must be DEBUG, INFO, WARNING or ERROR")
        return level

    @model_validator(mode="after")
    def _check_credentials(self) -> Settings:
        if self.influx_token and (self.influx_user or self.influx_password):
            raise ValueError("FACMON_INFLUX_TOKEN and FACMON_INFLUX_USER/PASSWORD are alternatives; set one")
        if bool(self.influx_user) != bool(self.influx_password):
            raise ValueError("FACMON_INFLUX_USER and FACMON_INFLUX_PASSWORD go together")
        if self.smtp_password is not None and not self.smtp_user:
            raise ValueError("FACMON_SMTP_PASSWORD needs FACMON_SMTP_USER")
        if self.mqtt_ca_file is not None and not self.mqtt.tls:
            raise ValueError("FACMON_MQTT_CA_FILE needs an mqtts:// FACMON_MQTT_URL")
        smtp = self.smtp
        passwords = {
            "FACMON_MQTT_URL": self.mqtt.password,
            "FACMON_INFLUX_PASSWORD": self.influx_password,
            "FACMON_INFLUX_TOKEN": self.influx_token,
            "FACMON_SMTP_PASSWORD": smtp.password if smtp is not None else None,
        }
        examples = [name for name, value in passwords.items()
                    if value is not None and is_example_password(value.get_secret_value())]
        if examples:
            raise ValueError(f"{', '.join(examples)} holds {EXAMPLE_PASSWORD_HINT}")
        if self.evidence_db == self.influx_db:
            raise ValueError("FACMON_INFLUX_EVIDENCE_DB must differ from FACMON_INFLUX_DB: the ingester must not be "
                             "able to write the evidence")
        return self

    def cleartext_warnings(self) -> list[str]:
        """Credentials that travel in clear text: worth a warning, not a refusal (a lab may do it on purpose)."""
        warnings = []
        smtp = self.smtp
        if smtp is not None and smtp.username and smtp.security == "plain":
            warnings.append("FACMON_SMTP_URL is plain smtp:// with a login: the mail password crosses the network "
                            "unencrypted; use smtp+starttls:// or smtps://")
        return warnings

    @property
    def registry_cache_dir(self) -> Path | None:
        """Where the parsed registry is kept, or None when that is turned off."""
        if not self.registry_cache:
            return None
        if self.cache_dir is not None:
            return self.cache_dir
        return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "facmon"

    @property
    def evidence_db(self) -> str:
        """Where analytics and the auditors' tools keep what they write; the ingester has no grant on it."""
        return self.influx_evidence_db or f"{self.influx_db}_evidence"

    def influx_auth(self) -> tuple[str, str] | None:
        """Credentials for InfluxDB's v1 API: (user, password), or ('', token) for 2.x/3.x tokens."""
        if self.influx_token is not None:
            return ("", self.influx_token.get_secret_value())
        if self.influx_user and self.influx_password:
            return (self.influx_user, self.influx_password.get_secret_value())
        return None


def _read_config_file(path: Path) -> dict[str, Any]:
    try:
        data = yamlload.load(yamlload.read_text(path, yamlload.CONFIG), yamlload.CONFIG)
    except OSError as exc:
        raise SettingsError(f"{CONFIG_ENV}: cannot read {path}: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise SettingsError(f"{CONFIG_ENV}: {path} is not UTF-8 (bad byte at offset {exc.start})") from None
    except yamlload.YamlError as exc:
        text = str(exc)
        if text.startswith("invalid YAML"):
            raise SettingsError(f"{CONFIG_ENV}: {path} is not valid YAML{text.removeprefix('invalid YAML')}") from None
        raise SettingsError(f"{CONFIG_ENV}: {path}: {text}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise SettingsError(f"{CONFIG_ENV}: {path} must hold a mapping of setting: value")
    return {str(key).lower().removeprefix("facmon_"): value for key, value in data.items()}


def _setting(loc: Loc) -> tuple[str, Loc]:
    """A setting is named as its environment variable; the rest of the location says nothing more to a person."""
    loc = tuple(part for part in loc if not str(part).startswith("function-"))
    return (f"{ENV_PREFIX}{str(loc[0]).upper()}", ()) if loc else ("", ())


def load_settings(overrides: Mapping[str, Any] | None = None) -> Settings:
    """Build settings from flags (overrides), env and the config file; raise SettingsError naming the setting."""
    file_values: dict[str, Any] = {}
    config_path = os.environ.get(CONFIG_ENV)
    if config_path:
        file_values = _read_config_file(Path(config_path))
    env_keys = {key[len(ENV_PREFIX) :].lower() for key in os.environ if key.upper().startswith(ENV_PREFIX)}
    merged = {key: value for key, value in file_values.items() if key not in env_keys}
    merged.update({key: value for key, value in (overrides or {}).items() if value is not None})
    try:
        return Settings(**merged)
    except ValidationError as exc:
        # every problem, one line each; never what was written (a URL or a token may hold a secret)
        lines = problems(exc, _setting, show_input=False)
        raise SettingsError("\n".join(f"invalid setting {line}" for line in lines)) from None
