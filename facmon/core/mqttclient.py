"""One way to make a paho client from the settings: MQTT 3.1.1, the callback API of paho 2, the credentials and
the TLS context of FACMON_MQTT_URL and FACMON_MQTT_CA_FILE. Every part of facmon that talks to the broker (the
ingester, the simulator, alert delivery, check-config, the demo) starts here; what each does with the client
(session, will, in-flight window, callbacks) stays with it.
"""

from __future__ import annotations

import socket
import ssl
from typing import Any, TypeVar, overload

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from facmon.core.errors import ConfigError
from facmon.core.settings import Settings

ClientT = TypeVar("ClientT", bound=paho.Client)


class MqttSetupError(ConfigError, ValueError, OSError):
    """The MQTT settings cannot be used as they are (the CA file does not load); retrying will not help. An OSError
    too, as the ssl error it replaces, for callers that treat every connection failure alike."""


def tls_context(settings: Settings) -> ssl.SSLContext:
    """A verifying TLS context trusting FACMON_MQTT_CA_FILE, or the system CAs when it is not set."""
    cafile = settings.mqtt_ca_file
    try:
        return ssl.create_default_context(cafile=str(cafile) if cafile else None)
    except OSError as exc:  # ssl.SSLError is an OSError too
        reason = exc.strerror or getattr(exc, "reason", None) or str(exc)
        raise MqttSetupError(f"cannot load CA certificates from FACMON_MQTT_CA_FILE {cafile}: {reason}") from None


def explain_connect_error(exc: OSError) -> str:
    """Why a connection attempt failed, in words that point at the setting to fix."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        return (
            f"the broker's TLS certificate is not trusted ({exc.verify_message}); check FACMON_MQTT_CA_FILE and "
            "that FACMON_MQTT_URL names the host the certificate was issued for"
        )
    if isinstance(exc, ssl.SSLError):
        return f"TLS handshake failed ({exc.reason or exc}); is the port a TLS listener?"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused: no broker listens on that host and port"
    if isinstance(exc, socket.gaierror):
        return f"unknown host ({exc.strerror})"
    if isinstance(exc, TimeoutError):
        return "no answer (timed out)"
    if isinstance(exc, ConnectionResetError | BrokenPipeError):
        return "the broker closed the connection at once (mqtts:// to a plain listener?)"
    return exc.strerror or str(exc) or type(exc).__name__


@overload
def new_client(settings: Settings, client_id: str, *, clean_session: bool = True, tls: bool = True,
               cls: type[ClientT], **options: Any) -> ClientT: ...


@overload
def new_client(settings: Settings, client_id: str, *, clean_session: bool = True, tls: bool = True,
               **options: Any) -> paho.Client: ...


def new_client(settings: Settings, client_id: str, *, clean_session: bool = True, tls: bool = True,
               cls: type[paho.Client] = paho.Client, **options: Any) -> paho.Client:
    """A client of `cls` (paho's, or a subclass such as ingest.mqtt.BufferedClient; `options` go to it) logged in
    with the settings' credentials and, for mqtts://, their TLS context; `tls=False` leaves TLS to the caller.
    Not yet connected. MqttSetupError when the CA file does not load."""
    url = settings.mqtt
    client = cls(callback_api_version=CallbackAPIVersion.VERSION2, client_id=client_id, protocol=paho.MQTTv311,
                 clean_session=clean_session, **options)
    if url.username:
        client.username_pw_set(url.username, url.password.get_secret_value() if url.password else None)
    if url.tls and tls:
        client.tls_set_context(tls_context(settings))
    return client
