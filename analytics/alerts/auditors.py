"""The auditors file: who is told about which facilities, and how (email, webhook, the MQTT alert topic).

People edit it by hand, so loading reports every problem at once, one per line, naming the entry and the field,
and an unknown key is an error rather than a setting silently ignored. Pure apart from ``load_auditors``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Annotated, Any
from urllib.parse import quote, urlsplit

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    StrictStr,
    ValidationError,
    field_validator,
    model_validator,
)

from analytics.alerts.webhook_guard import WebhookRefused, check_url, webhook_target
from analytics.alerts.webhook_sign import SecretError, load_secret
from facmon.core.config import ConfigFileError, Loc, StrictModel, problems
from facmon.core.i18n import LanguageError, parse_language
from sensors.contract import ID_PATTERN, is_valid_id
from sensors.regions import check_region, is_within, normalize_prefix
from sensors.registry import Facility, RegistryError, read_yaml_file

_EMAIL_RE = re.compile(r"[^@\s,;<>\"']+@[^@\s,;<>\"']+\.[^@\s,;<>\"'.]+")
_PLACEHOLDERS = frozenset({"facility", "as_of", "region", "status"})


class AuditorsError(ConfigFileError):
    """The auditors file is unusable; ``str()`` gives one problem per line."""


def _check_id(value: str) -> str:
    if not is_valid_id(value):
        raise ValueError(f"must match {ID_PATTERN}: lowercase letters, digits, - and _ (got {value!r})")
    return value


def _check_text(value: str) -> str:
    text = value.strip()
    if not text or len(text) > 200 or any(ord(c) < 32 or c == "\x7f" for c in text):
        raise ValueError("must be one line of 1 to 200 characters")
    return text


def _check_email(value: str) -> str:
    if not _EMAIL_RE.fullmatch(value.strip()):
        raise ValueError(f"must be an email address like name@example.org (got {value!r})")
    return value.strip()


def _check_webhook(value: str) -> str:
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an https:// URL")
    return value.strip()


def _check_region(value: str) -> str:
    prefix = normalize_prefix(value.strip())
    if prefix == "*":
        return ""
    try:
        return check_region(prefix)
    except ValueError as exc:
        raise ValueError(f"{exc}; or * for every region") from None


def _check_env_name(value: str) -> str:
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,127}", value):
        raise ValueError(f"must be an environment variable name (got {value!r})")
    return value


def _check_language(value: str) -> str:
    try:
        return parse_language(value)
    except LanguageError as exc:
        raise ValueError(f"{exc} (got {value!r})") from None


def _listed(value: object) -> object:
    """One address may be written without the list brackets."""
    return [value] if isinstance(value, str) else value


Id = Annotated[StrictStr, AfterValidator(_check_id)]
Text = Annotated[StrictStr, AfterValidator(_check_text)]
Email = Annotated[StrictStr, AfterValidator(_check_email)]
Region = Annotated[StrictStr, AfterValidator(_check_region)]
Webhook = Annotated[StrictStr, AfterValidator(_check_webhook)]


class Recipient(StrictModel):
    """Someone to tell, and how: any of email, a webhook, the MQTT alert topic."""

    id: Id
    name: Text | None = None
    email: Annotated[tuple[Email, ...], BeforeValidator(_listed)] = ()
    webhook: Webhook | None = None
    #: Per entry, never global: plain http, and addresses that are not public (analytics.alerts.webhook_guard).
    allow_http: bool = Field(default=False, strict=True)
    allow_private: bool = Field(default=False, strict=True)
    mqtt: bool = Field(default=False, strict=True)
    #: E-mail: one message per run listing every notice (the default); false sends one message per notice.
    digest: bool = Field(default=True, strict=True)
    #: Where the webhook's signing secret is (analytics.alerts.webhook_sign); never the secret itself.
    webhook_secret_env: Annotated[StrictStr, AfterValidator(_check_env_name)] | None = None
    webhook_secret_file: Text | None = None
    #: The language of the mails this recipient gets (zh_CN or en); None: the process's (FACMON_LANGUAGE, --lang,
    #: the locale). Findings' reasons are quoted as analyze stored them, in the language analyze ran in.
    language: Annotated[StrictStr, AfterValidator(_check_language)] | None = None

    @model_validator(mode="before")
    @classmethod
    def _no_inline_secret(cls, data: object) -> object:
        if isinstance(data, Mapping) and "webhook_secret" in data:
            raise ValueError("webhook_secret must not be written in the file: name an environment variable "
                             "(webhook_secret_env) or a file (webhook_secret_file) holding it")
        return data

    @model_validator(mode="after")
    def _some_channel(self) -> Recipient:
        if not (self.email or self.webhook or self.mqtt):
            raise ValueError("has no channel: give email, webhook and/or mqtt: true")
        if self.webhook_secret_env is not None and self.webhook_secret_file is not None:
            raise ValueError("give webhook_secret_env or webhook_secret_file, not both")
        if (self.webhook_secret_env or self.webhook_secret_file) and self.webhook is None:
            raise ValueError("has a webhook secret but no webhook")
        if self.webhook is not None:
            try:
                check_url(self.webhook, self.allow_http, self.allow_private)
            except WebhookRefused as exc:
                raise ValueError(f"webhook {webhook_target(self.webhook)}: {exc}") from None
        return self

    @property
    def channels(self) -> tuple[str, ...]:
        """The channels this recipient wants, in delivery order."""
        wanted = (("email", bool(self.email)), ("webhook", self.webhook is not None), ("mqtt", self.mqtt))
        return tuple(name for name, on in wanted if on)

    @property
    def label(self) -> str:
        return self.name or self.id

    def webhook_secret(self) -> bytes | None:
        """The signing secret, read now from where the entry says (raises SecretError)."""
        return load_secret(self.webhook_secret_env, self.webhook_secret_file)


class Auditor(Recipient):
    """An auditor covering facilities in some regions (whole-segment path prefixes)."""

    name: Text
    regions: tuple[Region, ...]

    @field_validator("regions", mode="before")
    @classmethod
    def _some_region(cls, value: object) -> object:
        if isinstance(value, list | tuple) and not value:
            raise ValueError("must list at least one region path, or * for every region")
        return _listed(value)

    def covers(self, facility_region: str) -> bool:
        return any(is_within(facility_region, prefix) for prefix in self.regions)


class Directory(StrictModel):
    """The whole file: auditors, department contacts for sensor outages, an optional evidence link template."""

    auditors: tuple[Auditor, ...] = ()
    departments: dict[Text, Recipient] = Field(default_factory=dict)
    evidence_url: Text | None = None

    @model_validator(mode="after")
    def _unique_and_usable(self) -> Directory:
        problems = []
        seen: dict[str, str] = {}
        entries = [(f"auditors[{i}]", a.id) for i, a in enumerate(self.auditors)]
        entries += [(f"departments[{name}]", d.id) for name, d in self.departments.items()]
        for where, rid in entries:
            if rid in seen:
                problems.append(f"{where} id: {rid!r} is also the id of {seen[rid]}")
            seen.setdefault(rid, where)
        if self.evidence_url is not None:
            names = set(re.findall(r"{(\w*)}", self.evidence_url))
            unknown = sorted(names - _PLACEHOLDERS)
            if unknown:
                problems.append(f"evidence_url: unknown placeholder {{{unknown[0]}}}; use "
                                + ", ".join(f"{{{n}}}" for n in sorted(_PLACEHOLDERS)))
        if not self.auditors and not self.departments:
            problems.append("lists no auditors and no departments")
        if problems:
            raise ValueError("\n".join(problems))
        return self

    def auditors_for(self, region: str) -> tuple[Auditor, ...]:
        return tuple(a for a in self.auditors if a.covers(region))

    def department(self, name: str | None) -> Recipient | None:
        return None if name is None else self.departments.get(name)

    def recipient(self, rid: str) -> Recipient | None:
        found = next((a for a in self.auditors if a.id == rid), None)
        return found or next((d for d in self.departments.values() if d.id == rid), None)

    def evidence_link(self, facility: str, as_of: str, region: str, status: str) -> str | None:
        """The evidence_url with its placeholders filled in, each percent-encoded (UTF-8, ``/`` too): a Chinese
        region (``浙江省/丽水市/缙云县``) reaches Grafana's variable whole, and a mail program links the whole URL."""
        if self.evidence_url is None:
            return None
        values = {"facility": facility, "as_of": as_of, "region": region, "status": status}
        return re.sub(r"{(\w+)}", lambda m: quote(values[m.group(1)], safe=""), self.evidence_url)


def uncovered(directory: Directory, facilities: list[Facility]) -> list[str]:
    """Facility ids that no auditor covers: their idle alerts would reach nobody."""
    return [f.id for f in facilities if not directory.auditors_for(f.region)]


_KEYS = {
    "top": ("auditors", "departments", "evidence_url"),
    "entry": ("id", "name", "regions", "email", "webhook", "allow_http", "allow_private", "mqtt", "digest",
              "webhook_secret_env", "webhook_secret_file", "language"),
}


def _label(data: Mapping[str, Any], loc: Loc) -> tuple[str, Loc]:
    """``auditors[1] (wz-audit)`` or ``departments[鹿城区文广旅体局]`` and the rest of the location."""
    if len(loc) >= 2 and loc[0] == "auditors" and isinstance(loc[1], int):
        try:
            rid = data["auditors"][loc[1]]["id"]
        except (KeyError, IndexError, TypeError):
            rid = None
        label = f"auditors[{loc[1]}]" + (f" ({rid})" if isinstance(rid, str) and is_valid_id(rid) else "")
        return label, loc[2:]
    if len(loc) >= 2 and loc[0] == "departments":
        return f"departments[{loc[1]}]", loc[2:]
    return "", loc


def _keys_at(loc: Loc) -> tuple[str, ...]:
    return _KEYS["entry"] if len(loc) > 2 else _KEYS["top"]


def parse_auditors(data: object, source: str = "<auditors>") -> Directory:
    """Validate what the YAML held; every problem in one AuditorsError, each naming the entry and field."""
    if not isinstance(data, Mapping):
        raise AuditorsError(f"{source}: the top level must be a mapping with 'auditors:' and/or 'departments:'")
    try:
        return Directory.model_validate(data)
    except ValidationError as exc:
        raise AuditorsError(problems(exc, lambda loc: _label(data, loc), _keys_at), source) from None


def load_auditors(path: str | os.PathLike[str]) -> Directory:
    """Read and validate the auditors file at ``path``."""
    source = os.fspath(path)
    try:
        data = read_yaml_file(source)
    except RegistryError as exc:
        raise AuditorsError(str(exc)) from None
    directory = parse_auditors(data, source)
    unreadable = secret_problems(directory)
    if unreadable:
        raise AuditorsError(unreadable, source)
    return directory


def secret_problems(directory: Directory) -> list[str]:
    """Webhook secrets that cannot be read now: an unsigned POST would be refused by the receiver."""
    entries: list[tuple[str, Recipient]] = [(f"auditors ({a.id})", a) for a in directory.auditors]
    entries += [(f"departments[{name}]", d) for name, d in directory.departments.items()]
    found = []
    for where, entry in entries:
        try:
            entry.webhook_secret()
        except SecretError as exc:
            found.append(f"{where}: {exc}")
    return found
