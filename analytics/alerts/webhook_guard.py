"""Where a webhook may point: public https addresses, unless its auditors-file entry explicitly allows more.

A webhook URL is a request facmon makes on someone's say-so from inside the network it runs in. Without a
check, an auditors file could point it at the InfluxDB next door (``http://127.0.0.1:8086/query?q=DROP ...``),
a cloud metadata service (169.254.169.254) or any service on the private network. So:

- the scheme must be ``https`` unless the entry says ``allow_http: true``;
- every address the host stands for must be global (not loopback, private, link-local, unspecified,
  multicast, reserved, shared/CGNAT 100.64.0.0/10, IPv6 unique-local, nor an IPv4-mapped form of one of those)
  unless the entry says ``allow_private: true``.

The URL is checked when the file is loaded (scheme, and the host when it is an address or a local name) and
again when sending, after DNS resolution: the connection then goes to the very address that was checked, so a
name that resolves differently the second time (DNS rebinding) cannot slip through. Redirects are never followed
(http.client does not follow them; a 3xx counts as a failed delivery), so a public endpoint cannot bounce the
POST inside either. Pure apart from resolve().
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from facmon.core.errors import FacmonError

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_LOCAL_NAMES = ("localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback")


class WebhookRefused(FacmonError, ValueError):
    """The URL or an address it resolves to is not allowed for this entry; the message says why in one line."""


def non_global(address: Address) -> str | None:
    """Why an address is not a public one (loopback, private, …), or None when it is global."""
    if isinstance(address, ipaddress.IPv6Address):
        mapped = address.ipv4_mapped or address.sixtofour
        if mapped is not None:
            reason = non_global(mapped)
            return f"IPv4-mapped {reason}" if reason else None
    checks = (("unspecified", address.is_unspecified), ("loopback", address.is_loopback),
              ("link-local", address.is_link_local), ("multicast", address.is_multicast),
              ("shared (CGNAT)", isinstance(address, ipaddress.IPv4Address) and address in _CGNAT),
              ("reserved", address.is_reserved),
              ("unique-local" if address.version == 6 else "private", address.is_private))
    for name, hit in checks:
        if hit:
            return name
    return None if address.is_global else "not global"


def webhook_target(url: str) -> str:
    """The part of a webhook URL that may be logged and stored: scheme, host and port (the path often holds a
    token)."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    try:
        port = parts.port
    except ValueError:
        port = None
    return f"{parts.scheme}://{host}" + (f":{port}" if port else "")


def check_url(url: str, allow_http: bool = False, allow_private: bool = False) -> None:
    """What can be checked without DNS: the scheme, and the host when it is an address or a local name."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise WebhookRefused("must be an https:// URL")
    if parts.scheme == "http" and not allow_http:
        raise WebhookRefused("must be https:// (set allow_http: true on this entry to allow plain http)")
    try:
        parts.port  # noqa: B018 (raises on a bad port)
    except ValueError:
        raise WebhookRefused("has an invalid port") from None
    if allow_private:
        return
    host = parts.hostname.rstrip(".").lower()
    if host in _LOCAL_NAMES or host.endswith(".localhost"):
        raise WebhookRefused(f"points at this machine ({host}); set allow_private: true on this entry to allow it")
    try:
        address = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return  # a name: checked after resolution, when sending
    reason = non_global(address)
    if reason:
        raise WebhookRefused(f"points at a {reason} address ({address}); set allow_private: true on this entry to "
                             "allow it")


def resolve(host: str, port: int) -> list[Address]:
    """Every address the host resolves to (TCP), in the resolver's order."""
    found: list[Address] = []
    for *_, sockaddr in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM):
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if address not in found:
            found.append(address)
    return found


def pick_address(host: str, addresses: list[Address], allow_private: bool) -> Address:
    """The address to connect to; refused when any of them is not global (and private ones are not allowed)."""
    if not addresses:
        raise WebhookRefused(f"{host} resolves to no address")
    if not allow_private:
        for address in addresses:
            reason = non_global(address)
            if reason:
                raise WebhookRefused(f"{host} resolves to a {reason} address ({address}); set allow_private: true "
                                     "on this entry to allow it")
    return addresses[0]
