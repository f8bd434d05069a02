"""Who may do what on the broker and in InfluxDB: accounts, Mosquitto's ACL and configuration, InfluxDB grants.

The integrators file names each broker account, where its password comes from (an environment variable or a
file, never the YAML itself) and the facilities it serves. This module checks that file against the registry and
turns it into the text of Mosquitto's files. It does no I/O: reading secrets, hashing them and writing files
happen in facmon.access.brokerconfig, so the rules can be tested without a disk.

The broker has two listeners (docs/security.md). The services (ingester, analytics, the simulator when asked for)
log in on their own listener, whose password file and ACL hold only them. Integrators log in on the other, where
Mosquitto replaces every client id by the login's username (`use_username_as_clientid`) and the dynamic-security
plugin checks logins and ACLs, subscriptions included. Mosquitto 2.0 binds no client id to an account and its
acl_file grants every subscription, so without this an integrator could take over the ingester's session by its
client id, or join its share group; with it an integrator's client id is its username, which can never start with
the services' reserved prefix `facmon-`, and `$share/...` subscriptions match no ACL and are refused.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import AfterValidator, StrictStr, ValidationError, model_validator

from facmon.core.config import ConfigFileError, Loc, StrictModel, problems
from facmon.core.influxql import ident
from sensors.contract import ID_PATTERN, MAX_PACKET_BYTES, is_valid_id
from sensors.regions import check_region, normalize_prefix
from sensors.registry import Registry

DEFAULT_INGEST_USER = "facmon-ingest"
DEFAULT_ANALYTICS_USER = "facmon-analytics"
SIMULATOR_USER = "facmon-simulator"
SIMULATOR_PASSWORD_ENV = "FACMON_MQTT_SIMULATOR_PASSWORD"  # noqa: S105 (the name of a variable)
#: Client ids and usernames starting with this belong to facmon's services; no integrator login may take one.
RESERVED_PREFIX = "facmon-"
USERNAME_PATTERN = r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}"
_USERNAME_RE = re.compile(USERNAME_PATTERN)
_ENV_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")
_PREFIX_RE = re.compile(r"[A-Za-z0-9_.-]+(?:/[A-Za-z0-9_.-]+)*")
_NO_SECRETS = "secrets do not belong in this file: name an environment variable (password_env) or a file"
_SECRET_FIELDS = frozenset({"password_env", "password_file"})

Access = Literal["read", "write", "deny-write"]
Role = Literal["ingester", "analytics", "simulator", "integrator"]
SERVICE_ROLES: frozenset[str] = frozenset({"ingester", "analytics", "simulator"})


class AccessError(ConfigFileError):
    """The integrators file is unusable; ``str()`` gives one problem per line, each prefixed with the source."""


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
    return check_region(normalize_prefix(value))


Username = Annotated[StrictStr, AfterValidator(_check_username)]
EnvName = Annotated[StrictStr, AfterValidator(_check_env_name)]
FilePath = Annotated[StrictStr, AfterValidator(_check_path)]
FacilityId = Annotated[StrictStr, AfterValidator(_check_facility)]
RegionPrefix = Annotated[StrictStr, AfterValidator(_check_region)]


class PasswordSource(StrictModel):
    """Where an account's password is read when the files are generated: exactly one of env var or file."""

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
    logins: tuple[Username, ...] = ()  # further logins (one per gateway or device) sharing password and facilities
    facilities: tuple[FacilityId, ...] = ()
    regions: tuple[RegionPrefix, ...] = ()

    @model_validator(mode="after")
    def _serves_something(self) -> Integrator:
        if not self.facilities and not self.regions:
            raise ValueError("serves nothing: list its facilities (ids) or regions (path prefixes)")
        return self


class IntegratorsFile(StrictModel):

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
    logins: tuple[str, ...] = ()  # integrators: every username that logs in for this entry (username first)

    @property
    def is_service(self) -> bool:
        return self.role in SERVICE_ROLES

    @property
    def usernames(self) -> tuple[str, ...]:
        return self.logins or (self.username,)


def _where(data: object, loc: Loc) -> tuple[str, Loc]:
    """An integrator's entry by its index and username, and the rest of the location."""
    if len(loc) >= 2 and loc[0] == "integrators" and isinstance(loc[1], int):
        return _label(data, loc[1]), loc[2:]
    return "", loc


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
        # what was written under a secret's key may be a pasted password: never shown
        raise AccessError(problems(exc, lambda loc: _where(data, loc), hide_input=_SECRET_FIELDS), source) from None
    return parsed


def resolve_accounts(
    config: IntegratorsFile,
    registry: Registry,
    source: str = "<integrators>",
    simulator: PasswordSource | None = None,
) -> list[Account]:
    """Check names and facilities against the registry; expand regions; refuse unknown facilities.

    `simulator` adds the simulator's service account (every facility), which exists only when asked for.
    """
    problems: list[str] = []
    accounts = [
        Account(config.ingester.username, "ingester", config.ingester, f"ingester ({config.ingester.username})"),
        Account(config.analytics.username, "analytics", config.analytics, f"analytics ({config.analytics.username})"),
    ]
    if simulator is not None:
        every = tuple(sorted(f.id for f in registry))
        accounts.append(Account(SIMULATOR_USER, "simulator", simulator, f"simulator ({SIMULATOR_USER})", every))
    for index, entry in enumerate(config.integrators):
        label = f"integrators[{index}] ({entry.username})"
        logins = tuple(dict.fromkeys((entry.username, *entry.logins)))
        for i, login in enumerate(logins):
            if login.lower().startswith(RESERVED_PREFIX):
                where = "username" if i == 0 else f"logins[{entry.logins.index(login)}]"
                problems.append(f"{label} {where}: {login!r} starts with {RESERVED_PREFIX!r}, which is reserved for "
                                "facmon's services (their client ids)")
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
        accounts.append(Account(entry.username, "integrator", entry, label, tuple(sorted(served)), logins))
    seen: dict[str, str] = {}
    for account in accounts:
        for name in account.usernames:
            if name in seen:
                field = "username" if name == account.username else "logins"
                problems.append(f"{account.label} {field}: {name!r} is already used by {seen[name]}")
            seen.setdefault(name, account.label)
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
            ("write", f"{prefix}/+/_rejected"),
            ("write", f"{prefix}/_rejected"),
            ("write", f"{prefix}/alerts/#"),
        ]
    if account.role == "analytics":
        return [("write", f"{prefix}/alerts/#")]
    rules: list[tuple[Access, str]] = []
    if account.role == "simulator":  # every facility of the registry: one rule each way
        return [
            ("write", f"{prefix}/+/+/reading"),
            ("write", f"{prefix}/+/+/status"),
            ("read", f"{prefix}/+/+/rejected"),
            ("read", f"{prefix}/+/_rejected"),
        ]
    # An integrator may write anything below its own facilities, so that a topic mistake (`…/readings`, a sensor id
    # in capitals, a level too many) reaches the ingester and is answered with a notice instead of vanishing at the
    # broker; the facility id in capitals, as printed on labels, too. The notice topics stay the ingester's alone
    # (deny-write wins over write: dynamic security checks the higher priority first).
    for facility in account.facilities:
        if not is_valid_id(facility) or facility == "alerts":
            raise ValueError(f"{account.label}: facility id {facility!r} cannot go into an ACL")
        rules += [
            ("deny-write", f"{prefix}/{facility}/+/rejected"),
            ("deny-write", f"{prefix}/{facility}/_rejected"),
            ("write", f"{prefix}/{facility}/#"),
            ("read", f"{prefix}/{facility}/+/rejected"),
            ("read", f"{prefix}/{facility}/_rejected"),
        ]
        upper = facility.upper()
        if upper != facility:
            rules += [
                ("deny-write", f"{prefix}/{upper}/+/rejected"),
                ("deny-write", f"{prefix}/{upper}/_rejected"),
                ("write", f"{prefix}/{upper}/#"),
            ]
    return rules


def acl_text(accounts: Sequence[Account], prefix: str, header: str = "") -> str:
    """The services listener's acl_file (services only). No rule precedes the first `user` line."""
    lines = [f"# {line}" if line else "#" for line in header.splitlines()]
    lines.append("# Anything not granted here is denied. Generated: rerun `facmon broker-config` instead of editing.")
    for account in (account for account in accounts if account.is_service):
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


#: Where Debian's mosquitto package puts the dynamic-security plugin (the eclipse-mosquitto image: /usr/lib/).
DYNSEC_PLUGIN = "/usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so"
_DYNSEC_DENY_BY_DEFAULT = {
    "publishClientSend": False, "publishClientReceive": False, "subscribe": False, "unsubscribe": True,
}


def dynsec_config(
    accounts: Sequence[Account], prefix: str, hashes: Mapping[str, Mapping[str, object]]
) -> dict[str, object]:
    """The dynamic-security plugin's JSON for the integrators' listener: one role per integrator entry.

    `hashes` maps each login to its password record (`password`, `salt`, `iterations`: PBKDF2-SHA512, base64),
    made by facmon.access.brokerconfig. Everything is denied unless a role allows it. Subscriptions are allowed below
    the prefix only: a `$share/...` filter matches no pattern and is refused, so an integrator cannot join the
    ingesters' share group; what a subscription may deliver is still limited to the role's own notices. No
    client has the plugin's admin role, so nobody can change this over MQTT.
    """
    check_prefix(prefix)
    clients, roles = [], []
    for account in accounts:
        if account.is_service:
            continue
        role = f"integrator-{account.username}"
        acls = [{"acltype": "subscribePattern", "topic": f"{prefix}/#", "allow": True}]
        for access, topic in acl_rules(account, prefix):
            if access == "deny-write":
                acls.append({"acltype": "publishClientSend", "topic": topic, "priority": 10, "allow": False})
                continue
            kind = "publishClientSend" if access == "write" else "publishClientReceive"
            acls.append({"acltype": kind, "topic": topic, "allow": True})
        roles.append({"rolename": role, "acls": acls})
        for login in account.usernames:
            _check_username(login)
            clients.append({"username": login, "textname": account.label, **hashes[login],
                            "roles": [{"rolename": role}]})
    return {"defaultACLAccess": dict(_DYNSEC_DENY_BY_DEFAULT), "clients": clients, "groups": [], "roles": roles}


@dataclass(frozen=True)
class BrokerFiles:
    """Where the generated files will be on the broker host (paths as mosquitto.conf names them)."""

    password_file: str
    acl_file: str
    dynsec_file: str
    plugin: str = DYNSEC_PLUGIN


#: The broker's per-packet ceiling is the contract's (sensors.contract.MAX_PACKET_BYTES): the payload limit and
#: 4 KiB for header and topic. Every packet the broker takes reaches the ingester, and one whose payload is over
#: the limit gets an `oversize` notice; a larger packet makes Mosquitto drop the connection (issue 17: at 4 x the
#: payload limit, payloads between 256 KiB and 1 MiB got a notice and larger ones just a lost connection, while
#: the contract promised a notice for all).
#: Bytes Mosquitto queues per session beyond those in flight; with max_queued_messages (shipped facmon.conf,
#: 2,000,000) at 512 bytes each, far above a reading's size, so the ingester's backlog fits and nobody's grows
#: without bound (an integrator's persistent session piling up notices, say).
MAX_QUEUED_BYTES = 2_000_000 * 512
#: MQTT 5 clients asking for a longer keepalive (or none) are told to use this (Mosquitto refuses less than 10).
MAX_KEEPALIVE = 300
#: A persistent session nobody resumes is dropped after this long: FACMON_MAX_READING_AGE's default, beyond which
#: its queued readings would be refused anyway.
SESSION_EXPIRY = "35d"


@dataclass(frozen=True)
class BrokerLimits:
    """Connection and memory ceilings: per listener, and for the whole broker (docs/security.md, README)."""

    integrator_connections: int = 5_000
    service_connections: int = 64
    memory_limit_mib: int = 2_048

    def __post_init__(self) -> None:
        if min(self.integrator_connections, self.service_connections) < 1:
            raise ValueError("connection limits must be at least 1")
        if self.memory_limit_mib < 16:
            raise ValueError("the broker's memory limit must be at least 16 MiB")

    def global_lines(self) -> list[str]:
        return [
            f"max_packet_size {MAX_PACKET_BYTES}",
            f"max_queued_bytes {MAX_QUEUED_BYTES}",
            f"max_keepalive {MAX_KEEPALIVE}",
            f"persistent_client_expiration {SESSION_EXPIRY}",
            f"memory_limit {self.memory_limit_mib * 1024 * 1024}",
        ]


def mosquitto_conf_text(
    integrators: Listener,
    services: Listener,
    files: BrokerFiles,
    shipped: str,
    limits: BrokerLimits | None = None,
    header: str = "",
) -> str:
    """A complete mosquitto.conf: two listeners with their own logins, limits, and the shipped settings inlined.

    Mosquitto has no include for single files (only include_dir), so the shipped settings are copied in; the
    limits come after them and win.
    """
    limits = limits or BrokerLimits()
    for path in (files.password_file, files.acl_file, files.dynsec_file, files.plugin):
        _check_path(path)
    if integrators.port == services.port:
        raise ValueError(f"the integrators' and the services' listeners need two ports (both are {services.port})")
    lines = [f"# {line}" if line else "#" for line in header.splitlines()]
    lines += [
        "# Set per deployment: persistence_location, log_dest (and `user` if not `mosquitto`).",
        "# Each listener has its own logins and rules (docs/security.md).",
        "per_listener_settings true",
        "",
        "# facmon's services (ingester, analytics): only their accounts exist here. Keep it off the internet.",
        *services.lines(),
        "allow_anonymous false",
        f"password_file {files.password_file}",
        f"acl_file {files.acl_file}",
        f"max_connections {limits.service_connections}",
        "",
        "# Device integrators: a connection's client id is its login, so no integrator can take over a service's",
        "# session or another integrator's; logins and rules (subscriptions too) are checked by dynamic security.",
        *integrators.lines(),
        "allow_anonymous false",
        "use_username_as_clientid true",
        "allow_zero_length_clientid true",
        f"max_connections {limits.integrator_connections}",
        f"plugin {files.plugin}",
        f"plugin_opt_config_file {files.dynsec_file}",
        "",
        "# ---- facmon/resources/facmon.conf ----",
        shipped.rstrip("\n"),
        "",
        "# ---- limits (facmon.access.rules: derived from the contract's payload limit) ----",
        *limits.global_lines(),
    ]
    return "\n".join(lines) + "\n"


def influx_grants(
    database: str, ingest_user: str, analytics_user: str, evidence_database: str | None = None
) -> list[str]:
    """InfluxQL an admin runs once users exist and both databases do (analytics.analysis.evidence).

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
