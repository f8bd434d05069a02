"""The edge of `facmon broker-config`: read secrets, hash them with mosquitto_passwd, write the broker's files.

Passwords are read from environment variables or files named in the integrators file, handed to the real
`mosquitto_passwd -U` in a private temporary directory (tmpfs when there is one) outside the output directory,
and only the hashed file is written there. `-U` is used rather than `-b`, because `-b` puts each password on a
command line that every local user can read in /proc while it runs. No message ever contains a password.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import secrets as random_bytes
import stat
import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from facmon import resources
from facmon.access.rules import (
    SIMULATOR_PASSWORD_ENV,
    AccessError,
    Account,
    BrokerFiles,
    BrokerLimits,
    Listener,
    PasswordSource,
    acl_text,
    check_prefix,
    dynsec_config,
    mosquitto_conf_text,
    parse_integrators,
    resolve_accounts,
)
from facmon.core.binaries import require_binary
from facmon.core.errors import FacmonError
from facmon.core.files import write_atomic
from facmon.core.settings import EXAMPLE_PASSWORD_HINT, is_example_password
from sensors.registry import Registry, RegistryError, read_yaml_file

MIN_PASSWORD_LENGTH = 12
PASSWORD_FILE, ACL_FILE, DYNSEC_FILE, CONF_FILE = "passwd", "acl", "dynsec.json", "mosquitto.conf"
#: PBKDF2 rounds for the dynamic-security plugin's hashes: what mosquitto_passwd and mosquitto_ctrl use, so a
#: login costs the broker the same on both listeners.
DYNSEC_ITERATIONS = 101
_HASHED_LINE = re.compile(r"[^:\n]+:\$[67]\$[^\n]+")


class BrokerConfigError(FacmonError, RuntimeError):
    """The files cannot be generated; the message says why in plain words, without any secret."""


@dataclass(frozen=True)
class Generated:
    """What was written, for the one-line report."""

    directory: Path
    accounts: int
    integrators: int
    facilities: int
    loose_secret_files: tuple[str, ...] = ()
    integrator_logins: int = 0


def load_integrators(path: Path, registry: Registry, simulator: bool = False) -> list[Account]:
    """Read and check the integrators file against the registry; AccessError lists every problem."""
    source = os.fspath(path)
    try:
        data = read_yaml_file(path)
    except RegistryError as exc:
        raise AccessError(exc.problems, source) from None
    extra = PasswordSource(password_env=SIMULATOR_PASSWORD_ENV) if simulator else None
    return resolve_accounts(parse_integrators(data, source), registry, source, extra)


def read_secret(account: Account, env: Mapping[str, str]) -> str:
    """The account's password from its environment variable or file (one trailing newline dropped)."""
    source: PasswordSource = account.secret
    where = f"{account.label}: {source.describe()}"
    if source.password_env is not None:
        value = env.get(source.password_env)
        if value is None:
            raise BrokerConfigError(f"{where} is not set")
    else:
        path = Path(str(source.password_file))
        try:
            value = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise BrokerConfigError(f"{where} cannot be read: {getattr(exc, 'strerror', None) or exc}") from None
        value = value.removesuffix("\n").removesuffix("\r")
    if any(c in value for c in "\n\r\x00"):
        raise BrokerConfigError(f"{where} must hold the password on one line")
    if len(value) < MIN_PASSWORD_LENGTH:
        raise BrokerConfigError(f"{where} holds a password shorter than {MIN_PASSWORD_LENGTH} characters")
    if is_example_password(value):
        raise BrokerConfigError(f"{where} holds {EXAMPLE_PASSWORD_HINT}")
    return value


def loose_secret_files(accounts: list[Account]) -> list[str]:
    """Password files that other users can read: worth a warning, since they hold plaintext."""
    loose = []
    for account in accounts:
        name = account.secret.password_file
        if name is not None and Path(name).stat().st_mode & 0o077:
            loose.append(name)
    return loose


def _private_tempdir() -> tempfile.TemporaryDirectory[str]:
    """A 0700 directory, in memory (/dev/shm) when the machine has it, so plaintext never reaches a disk."""
    shm = Path("/dev/shm")  # noqa: S108 (a private 0700 directory is made inside it)
    base = str(shm) if shm.is_dir() and os.access(shm, os.W_OK) else None
    return tempfile.TemporaryDirectory(prefix="facmon-pw-", dir=base)


def hash_passwords(entries: list[tuple[str, str]]) -> str:
    """The password file's text: `user:$7$...` lines made by the real `mosquitto_passwd -U`."""
    tool = require_binary("mosquitto_passwd")
    with _private_tempdir() as tmp:
        plain = Path(tmp) / "passwd"
        fd = os.open(plain, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.writelines(f"{user}:{password}\n" for user, password in entries)
        result = subprocess.run(
            [tool, "-U", str(plain)], capture_output=True, text=True, timeout=60, check=False, cwd=tmp
        )
        hashed = plain.read_text(encoding="utf-8")
    lines = hashed.splitlines()
    if result.returncode != 0 or len(lines) != len(entries) or not all(map(_HASHED_LINE.fullmatch, lines)):
        # mosquitto_passwd reports line numbers, not contents; still, say nothing of the file's text.
        reason = (result.stderr or result.stdout).strip().splitlines()[:1]
        raise BrokerConfigError(
            f"mosquitto_passwd -U failed (exit {result.returncode}){': ' + reason[0] if reason else ''}"
        )
    return hashed


def dynsec_hash(password: str) -> dict[str, object]:
    """A password record as the dynamic-security plugin stores it: PBKDF2-HMAC-SHA512, 12-byte salt, base64."""
    salt = random_bytes.token_bytes(12)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode("utf-8"), salt, DYNSEC_ITERATIONS, 64)
    return {
        "password": base64.b64encode(digest).decode("ascii"),
        "salt": base64.b64encode(salt).decode("ascii"),
        "iterations": DYNSEC_ITERATIONS,
    }


def _open_directory(out_dir: Path) -> int:
    """The output directory as a file descriptor; a symbolic link planted in its place is refused."""
    out_dir.mkdir(parents=True, exist_ok=True, mode=0o750)
    try:
        return os.open(out_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except OSError as exc:
        raise BrokerConfigError(f"{out_dir}: cannot use it as the output directory ({exc.strerror}; "
                                "a symbolic link is refused)") from None


def _refuse_links(dir_fd: int, out_dir: Path, names: list[str]) -> None:
    """A symbolic link where a generated file goes means someone wants it written elsewhere: stop, write nothing."""
    planted = []
    for name in names:
        try:
            if stat.S_ISLNK(os.lstat(name, dir_fd=dir_fd).st_mode):
                planted.append(name)
        except FileNotFoundError:
            pass
    if planted:
        raise BrokerConfigError(f"{out_dir}: {', '.join(planted)} is a symbolic link; remove it (nothing was written)")


@dataclass(frozen=True)
class Listeners:
    """The integrators' listener, the services' listener, and the limits (see facmon.access.rules)."""

    integrators: Listener
    services: Listener
    limits: BrokerLimits = field(default_factory=BrokerLimits)


def generate(
    registry: Registry,
    integrators_path: Path,
    out_dir: Path,
    prefix: str,
    listeners: Listeners,
    install_dir: str | None = None,
    env: Mapping[str, str] | None = None,
    simulator: bool = False,
    plugin: str | None = None,
) -> Generated:
    """Check everything first, then write passwd and dynsec.json (0600), acl and mosquitto.conf (0640)."""
    prefix = check_prefix(prefix)
    accounts = load_integrators(integrators_path, registry, simulator)
    environ = os.environ if env is None else env
    secrets = {account.username: read_secret(account, environ) for account in accounts}
    there = (install_dir or str(out_dir.resolve())).rstrip("/") or "/"
    header = (
        f"Generated by `facmon broker-config` from {integrators_path.name} and the registry "
        f"({len(registry)} facilities), topic prefix {prefix}."
    )
    acl = acl_text(accounts, prefix, header)
    files = BrokerFiles(f"{there}/{PASSWORD_FILE}", f"{there}/{ACL_FILE}", f"{there}/{DYNSEC_FILE}",
                        *([plugin] if plugin else []))
    conf = mosquitto_conf_text(listeners.integrators, listeners.services, files,
                               resources.mosquitto_conf().read_text(), listeners.limits, header)
    hashed = hash_passwords([(a.username, secrets[a.username]) for a in accounts if a.is_service])
    integrators = [a for a in accounts if not a.is_service]
    records = {login: dynsec_hash(secrets[a.username]) for a in integrators for login in a.usernames}
    dynsec = json.dumps(dynsec_config(accounts, prefix, records), indent=2) + "\n"
    dir_fd = _open_directory(out_dir)
    try:
        _refuse_links(dir_fd, out_dir, [PASSWORD_FILE, DYNSEC_FILE, ACL_FILE, CONF_FILE])
        write_atomic(dir_fd, PASSWORD_FILE, hashed, 0o600)
        write_atomic(dir_fd, DYNSEC_FILE, dynsec, 0o600)
        write_atomic(dir_fd, ACL_FILE, acl, 0o640)
        write_atomic(dir_fd, CONF_FILE, conf, 0o640)
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    served = {facility for account in integrators for facility in account.facilities}
    logins = sum(len(account.usernames) for account in integrators)
    return Generated(out_dir, len(accounts), len(integrators), len(served), tuple(loose_secret_files(accounts)),
                     logins)
