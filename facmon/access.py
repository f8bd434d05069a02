"""Who may do what on the broker and in InfluxDB: accounts, Mosquitto's ACL and configuration, InfluxDB grants.

The integrators file names each broker account, where its password comes from (an environment variable or a
file, never the YAML itself) and the facilities it serves. This module checks that file against the registry and
turns it into the text of Mosquitto's ACL and mosquitto.conf. It does no I/O: reading secrets, hashing them with
mosquitto_passwd and writing files happen in facmon.brokerconfig, so the rules can be tested without a disk.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, StrictStr, ValidationError, model_validator

from ingest.influxql import ident
from sensors.contract import ID_PATTERN, is_valid_id
from sensors.registry import Registry, explain, field_path

DEFAULT_INGEST_USER = "facmon-ingest"
DEFAULT_ANALYTICS_USER = "facmon-analytics"
USERNAME_PATTERN = r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}"
_USERNAME_RE = re.compile(USERNAME_PATTERN)
_ENV_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")
_REGION_RE = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}(?:/[a-z0-9][a-z0-9_-]{0,62})*")
_PREFIX_RE = re.compile(r"[A-Za-z0-9_.-]+(?:/[A-Za-z0-9_.-]+)*")
_NO_SECRETS = "secrets do not belong in this file: name an environment variable (password_env) or a file"
_SECRET_FIELDS = frozenset({"password_env", "password_file"})

Access = Literal["read", "write"]
Role = Literal["ingester", "analytics", "integrator"]


class AccessError(ValueError):
    """The integrators file is unusable; ``str()`` gives one problem per line, each prefixed with the source."""

    def __init__(self, problems: str | Iterable[str], source: str | None = None) -> None:
        self.problems: tuple[str, ...] = (problems,) if isinstance(problems, str) else tuple(problems)
        prefix = f"{source}: " if source else ""
        super().__init__("\n".join(prefix + problem for problem in self.problems))


def _check_username(value: str) -> str:
    # Mosquitto's password file splits at ':' and its ACL reads the rest of a `user` line: no spaces, colons, '#'.
    if not _USERNAME_RE.fullmatch(value):
        raise ValueError(f"must match {USERNAME_PATTERN}: letters, digits, '.', '_' and '-' (at most 64)")
    return value


def _check_env_name(value: str) -> str:
    # Never echo the value: someone may have pasted the password itself here.
    if not _ENV_NAME_RE.fullmatch(value):
        raise ValueError("must be the name of an environment variable (letters, digits and _), not a password")
    return value


def _check_path(value: str) -> str:
    if not value.strip() or any(c in value for c in "\n\r\x00"):
        raise ValueError("must be a file path on one line")
    return value


def _check_facility(value: str) -> str:
    if not is_valid_id(value):
        raise ValueError(f"must be a facility id matching {ID_PATTERN} (got {value[:64]!r})")
    return value


def _check_region(value: str) -> str:
    prefix = value.strip("/")
    if not _REGION_RE.fullmatch(prefix):
        raise ValueError(f"must be a region path like zhejiang/wenzhou (got {value[:64]!r})")
    return prefix


Username = Annotated[StrictStr, AfterValidator(_check_username)]
EnvName = Annotated[StrictStr, AfterValidator(_check_env_name)]
FilePath = Annotated[StrictStr, AfterValidator(_check_path)]
FacilityId = Annotated[StrictStr, AfterValidator(_check_facility)]
RegionPrefix = Annotated[StrictStr, AfterValidator(_check_region)]


class PasswordSource(BaseModel):
    """Where an account's password is read when the files are generated: exactly one of env var or file."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    password_env: EnvName | None = None
    password_file: FilePath | None = None

    @model_validator(mode="before")
    @classmethod
    def _no_inline_secret(cls, data: object) -> object:
        inline = [key for key in ("password", "passwd", "secret") if isinstance(data, Mapping) and key in data]
        if inline:
            raise ValueError(f"{inline[0]}: {_NO_SECRETS}")
        return data

    @model_validator(mode="after")
    def _exactly_one(self) -> PasswordSource:
        if (self.password_env is None) == (self.password_file is None):
            raise ValueError("give exactly one of password_env (an environment variable) or password_file")
        return self

    def describe(self) -> str:
        """Where the password comes from, for messages (never the password)."""
        if self.password_env is not None:
            return f"environment variable {self.password_env}"
        return f"file {self.password_file}"


class IngesterAccount(PasswordSource):
    username: Username = DEFAULT_INGEST_USER


class AnalyticsAccount(PasswordSource):
    username: Username = DEFAULT_ANALYTICS_USER


class Integrator(PasswordSource):
    """A device integrator's account and the facilities (by id, or all of a region) whose sensors it runs."""

    username: Username
    facilities: tuple[FacilityId, ...] = ()
    regions: tuple[RegionPrefix, ...] = ()

    @model_validator(mode="after")
    def _serves_something(self) -> Integrator:
        if not self.facilities and not self.regions:
            raise ValueError("serves nothing: list its facilities (ids) or regions (path prefixes)")
        return self


class IntegratorsFile(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    ingester: IngesterAccount
    analytics: AnalyticsAccount
    integrators: tuple[Integrator, ...] = ()


@dataclass(frozen=True)
class Account:
    """One broker account as it will be written: name, role, password source, facilities and ACL rules."""

    username: str
    role: Role
    secret: PasswordSource
    label: str
    facilities: tuple[str, ...] = ()


def _label(data: object, index: int) -> str:
    try:
        name = data["integrators"][index]["username"]  # type: ignore[index]
    except (KeyError, IndexError, TypeError):
        return f"integrators[{index}]"
    shown = name if isinstance(name, str) and _USERNAME_RE.fullmatch(name) else "username invalid"
    return f"integrators[{index}] ({shown})"


def parse_integrators(data: object, source: str = "<integrators>") -> IntegratorsFile:
    """Validate what the YAML parser returned; every problem names the entry and the field."""
    if not isinstance(data, Mapping):
        raise AccessError("the top level must be a mapping with ingester:, analytics: and integrators:", source)
    try:
        parsed = IntegratorsFile.model_validate(data)
    except ValidationError as exc:
        problems = []
        for loc, message in explain(exc):
            if _SECRET_FIELDS.intersection(map(str, loc)):
                message = message.split(" (got ", 1)[0]  # what was written there may be a pasted password
            if len(loc) >= 2 and loc[0] == "integrators" and isinstance(loc[1], int):
                where = " ".join(filter(None, (_label(data, loc[1]), field_path(loc[2:]))))
            else:
                where = field_path(loc)
            problems.append(f"{where}: {message}" if where else message)
        raise AccessError(problems, source) from None
    return parsed


def resolve_accounts(config: IntegratorsFile, registry: Registry, source: str = "<integrators>") -> list[Account]:
    """Check names and facilities against the registry; expand regions; refuse unknown facilities."""
    problems: list[str] = []
    accounts = [
        Account(config.ingester.username, "ingester", config.ingester, f"ingester ({config.ingester.username})"),
        Account(config.analytics.username, "analytics", config.analytics, f"analytics ({config.analytics.username})"),
    ]
    for index, entry in enumerate(config.integrators):
        label = f"integrators[{index}] ({entry.username})"
        served: dict[str, None] = {}
        for i, facility in enumerate(entry.facilities):
            if facility in registry:
                served[facility] = None
            else:
                problems.append(f"{label} facilities[{i}]: unknown facility {facility!r} (not in the registry)")
        for i, region in enumerate(entry.regions):
            matches = [f.id for f in registry if f.region_matches(region)]
            if not matches:
                problems.append(f"{label} regions[{i}]: no facility of the registry is in region {region!r}")
            served.update(dict.fromkeys(matches))
        accounts.append(Account(entry.username, "integrator", entry, label, tuple(sorted(served))))
    seen: dict[str, str] = {}
    for account in accounts:
        if account.username in seen:
            other = seen[account.username]
            problems.append(f"{account.label} username: {account.username!r} is already used by {other}")
        seen.setdefault(account.username, account.label)
    if problems:
        raise AccessError(problems, source)
    return accounts


def check_prefix(prefix: str) -> str:
    """The topic prefix as it goes into ACL lines: plain topic levels, no wildcards, no spaces."""
    if not _PREFIX_RE.fullmatch(prefix):
        raise ValueError(f"topic prefix {prefix!r} must be levels of letters, digits, '_', '.', '-' separated by '/'")
    return prefix


def acl_rules(account: Account, prefix: str) -> list[tuple[Access, str]]:
    """The topics one account may read or write; every id is checked again right here, before it is written."""
    check_prefix(prefix)
    if account.role == "ingester":
        return [
            ("read", f"{prefix}/#"),
            ("write", f"{prefix}/+/+/rejected"),
            ("write", f"{prefix}/_rejected"),
            ("write", f"{prefix}/alerts/#"),
        ]
    if account.role == "analytics":
        return [("write", f"{prefix}/alerts/#")]
    rules: list[tuple[Access, str]] = []
    for facility in account.facilities:
        if not is_valid_id(facility) or facility == "alerts":
            raise ValueError(f"{account.label}: facility id {facility!r} cannot go into an ACL")
        rules += [
            ("write", f"{prefix}/{facility}/+/reading"),
            ("write", f"{prefix}/{facility}/+/status"),
            ("read", f"{prefix}/{facility}/+/rejected"),
        ]
    return rules


def acl_text(accounts: Sequence[Account], prefix: str, header: str = "") -> str:
    """Mosquitto's acl_file. No rule precedes the first `user` line, so anonymous clients may do nothing."""
    lines = [f"# {line}" if line else "#" for line in header.splitlines()]
    lines.append("# Anything not granted here is denied. Generated: rerun `facmon broker-config` instead of editing.")
    for account in accounts:
        _check_username(account.username)
        count = len(account.facilities)
        lines += ["", f"# {account.role}" + (f": {count} facilit{'y' if count == 1 else 'ies'}" if count else "")]
        lines.append(f"user {account.username}")
        lines += [f"topic {access} {topic}" for access, topic in acl_rules(account, prefix)]
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class Listener:
    """The broker's listener as mosquitto.conf will declare it; TLS when certfile and keyfile are given."""

    port: int = 1883
    bind: str | None = None
    certfile: str | None = None
    keyfile: str | None = None
    cafile: str | None = None

    def lines(self) -> list[str]:
        for value in (self.bind, self.certfile, self.keyfile, self.cafile):
            if value is not None:
                _check_path(value)
        if not 0 < self.port < 65536:
            raise ValueError(f"port {self.port} is not a TCP port")
        if (self.certfile is None) != (self.keyfile is None):
            raise ValueError("TLS needs both a certificate file and a key file")
        lines = [f"listener {self.port}" + (f" {self.bind}" if self.bind else "")]
        if self.certfile and self.keyfile:
            if self.cafile:
                lines.append(f"cafile {self.cafile}")
            lines += [f"certfile {self.certfile}", f"keyfile {self.keyfile}", "tls_version tlsv1.2"]
        return lines


def mosquitto_conf_text(listener: Listener, password_file: str, acl_file: str, shipped: str, header: str = "") -> str:
    """A complete mosquitto.conf: the listener, authentication on, and the shipped facmon.conf settings inlined.

    Mosquitto has no include for single files (only include_dir), so the shipped settings are copied in.
    """
    for path in (password_file, acl_file):
        _check_path(path)
    lines = [f"# {line}" if line else "#" for line in header.splitlines()]
    lines += [
        "# Set per deployment: persistence_location, log_dest (and `user` if not `mosquitto`).",
        "per_listener_settings false",
        *listener.lines(),
        "",
        "# Every client logs in; the ACL grants each account only its own topics.",
        "allow_anonymous false",
        f"password_file {password_file}",
        f"acl_file {acl_file}",
        "",
        "# ---- deploy/mosquitto/facmon.conf ----",
        shipped.rstrip("\n"),
    ]
    return "\n".join(lines) + "\n"


def influx_grants(
    database: str, ingest_user: str, analytics_user: str, evidence_database: str | None = None
) -> list[str]:
    """InfluxQL an admin runs once users exist and both databases do (analytics.evidence).

    The ingester writes the readings database and has no grant on the evidence database; analytics (and the
    auditors' tools, which log in as it) may only READ the readings and does everything on the evidence. InfluxDB
    1.x lets WRITE also DELETE and DROP SERIES, which is why the two must not share a database.
    """
    for user in (ingest_user, analytics_user):
        _check_username(user)
    evidence = evidence_database or f"{database}_evidence"
    if evidence == database:
        raise ValueError("the evidence database must not be the readings database")
    db, ev = ident(database), ident(evidence)
    return [f"GRANT WRITE ON {db} TO {ident(ingest_user)}", f"GRANT READ ON {db} TO {ident(analytics_user)}",
            f"GRANT ALL ON {ev} TO {ident(analytics_user)}"]
