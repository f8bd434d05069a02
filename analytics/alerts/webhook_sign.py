"""Signed webhooks: a receiver can tell a notice from facmon from a forged or replayed one.

Each POST carries ``X-Facmon-Timestamp`` (Unix seconds when sent) and ``X-Facmon-Signature: sha256=HEX``, the
HMAC-SHA256 of ``timestamp + "." + body`` under the endpoint's own secret. Signing the timestamp with the body
means a captured request cannot be sent again later with a fresh timestamp; the receiver refuses one whose
timestamp is outside its tolerance window (``verify``, docs/auditors.md). The secret is read from an environment
variable or a file named in the auditors file (``webhook_secret_env`` / ``webhook_secret_file``), never written
inline, so the file can be shared and versioned without it. Pure apart from ``load_secret``.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from pathlib import Path

from facmon.core.errors import ConfigError

TIMESTAMP_HEADER = "X-Facmon-Timestamp"
SIGNATURE_HEADER = "X-Facmon-Signature"
TOLERANCE_SECONDS = 300
MIN_SECRET_BYTES = 16


class SecretError(ConfigError, ValueError):
    """The configured secret cannot be read or is too short; the message names where it was looked for."""


def signature(secret: bytes, timestamp: int, body: bytes) -> str:
    """``sha256=`` and the hex HMAC-SHA256 of ``timestamp.body``."""
    mac = hmac.new(secret, str(timestamp).encode("ascii") + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def headers(secret: bytes, timestamp: int, body: bytes) -> dict[str, str]:
    return {TIMESTAMP_HEADER: str(timestamp), SIGNATURE_HEADER: signature(secret, timestamp, body)}


def verify(secret: bytes, timestamp: str, signed: str, body: bytes, now: float,
           tolerance: int = TOLERANCE_SECONDS) -> bool:
    """What a receiver does: the timestamp is recent (a replay of an old request fails) and the signature
    matches, compared in constant time."""
    try:
        sent = int(timestamp)
    except ValueError:
        return False
    if abs(now - sent) > tolerance:
        return False
    return hmac.compare_digest(signature(secret, sent, body), signed.strip())


def load_secret(env: str | None, file: str | None) -> bytes | None:
    """The secret named by ``webhook_secret_env`` or ``webhook_secret_file`` (None when neither is set)."""
    if env is not None:
        value = os.environ.get(env, "")
        if not value.strip():
            raise SecretError(f"webhook_secret_env: the environment variable {env} is not set or empty")
        secret = value.strip().encode()
    elif file is not None:
        try:
            secret = Path(file).read_bytes().strip()
        except OSError as exc:
            raise SecretError(f"webhook_secret_file: cannot read {file}: {exc.strerror or exc}") from None
    else:
        return None
    if len(secret) < MIN_SECRET_BYTES:
        raise SecretError(f"webhook secret from {env or file} is shorter than {MIN_SECRET_BYTES} bytes")
    return secret
