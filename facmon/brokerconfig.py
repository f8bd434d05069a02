"""The edge of `facmon broker-config`: read secrets, hash them with mosquitto_passwd, write the broker's files.

Passwords are read from environment variables or files named in the integrators file, handed to the real
`mosquitto_passwd -U` in a private temporary directory (tmpfs when there is one) outside the output directory,
and only the hashed file is written there. `-U` is used rather than `-b`, because `-b` puts each password on a
command line that every local user can read in /proc while it runs. No message ever contains a password.
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from facmon.access import (
    AccessError,
    Account,
    Listener,
    PasswordSource,
    acl_text,
    check_prefix,
    mosquitto_conf_text,
    parse_integrators,
    resolve_accounts,
)
from facmon.localstack import SHIPPED_MOSQUITTO_CONF, require_binary
from sensors.registry import Registry, RegistryError, read_yaml_file

MIN_PASSWORD_LENGTH = 12
PASSWORD_FILE, ACL_FILE, CONF_FILE = "passwd", "acl", "mosquitto.conf"
_HASHED_LINE = re.compile(r"[^:\n]+:\$[67]\$[^\n]+")


class BrokerConfigError(RuntimeError):
    """The files cannot be generated; the message says why in plain words, without any secret."""


@dataclass(frozen=True)
class Generated:
    """What was written, for the one-line report."""

    directory: Path
    accounts: int
    integrators: int
    facilities: int
    loose_secret_files: tuple[str, ...] = ()


def load_integrators(path: Path, registry: Registry) -> list[Account]:
    """Read and check the integrators file against the registry; AccessError lists every problem."""
    source = os.fspath(path)
    try:
        data = read_yaml_file(path)
    except RegistryError as exc:
        raise AccessError(exc.problems, source) from None
    return resolve_accounts(parse_integrators(data, source), registry, source)


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


def _write(path: Path, text: str, mode: int) -> None:
    """Write atomically with the given mode: a reloading broker never sees half a file."""
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def generate(
    registry: Registry,
    integrators_path: Path,
    out_dir: Path,
    prefix: str,
    listener: Listener,
    install_dir: str | None = None,
    env: Mapping[str, str] | None = None,
) -> Generated:
    """Check everything first, then write passwd (0600), acl and mosquitto.conf into out_dir."""
    prefix = check_prefix(prefix)
    accounts = load_integrators(integrators_path, registry)
    secrets = [(account.username, read_secret(account, os.environ if env is None else env)) for account in accounts]
    there = (install_dir or str(out_dir.resolve())).rstrip("/") or "/"
    header = (
        f"Generated by `facmon broker-config` from {integrators_path.name} and the registry "
        f"({len(registry)} facilities), topic prefix {prefix}."
    )
    acl = acl_text(accounts, prefix, header)
    conf = mosquitto_conf_text(
        listener, f"{there}/{PASSWORD_FILE}", f"{there}/{ACL_FILE}", SHIPPED_MOSQUITTO_CONF.read_text(), header
    )
    hashed = hash_passwords(secrets)
    out_dir.mkdir(parents=True, exist_ok=True)
    _write(out_dir / PASSWORD_FILE, hashed, 0o600)
    _write(out_dir / ACL_FILE, acl, 0o644)
    _write(out_dir / CONF_FILE, conf, 0o644)
    integrators = [a for a in accounts if a.role == "integrator"]
    served = {facility for account in integrators for facility in account.facilities}
    return Generated(out_dir, len(accounts), len(integrators), len(served), tuple(loose_secret_files(accounts)))
