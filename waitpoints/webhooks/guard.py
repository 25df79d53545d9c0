"""The SSRF guard: webhook URLs must reach the public internet, checked when an endpoint is
saved and again, on the resolved address that is then used, at every send (DNS rebinding).

Unless WAITPOINTS_WEBHOOKS_ALLOW_PRIVATE is on (local development, tests), an address that is
loopback, private, link-local (cloud metadata, 169.254.169.254), shared (100.64/10), reserved,
multicast or unspecified is refused; IPv4-mapped IPv6 addresses are judged as IPv4.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from waitpoints.conf import waitpoints_settings

MAX_URL_LENGTH = 2048


class UnsafeURL(ValueError):
    """Why a URL may not be called (the message is shown to the API caller)."""


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    path: str  # path and query, as sent in the request line


def parse(url: str) -> Target:
    """Syntax only: an absolute http(s) URL with a host and no credentials."""
    if len(url) > MAX_URL_LENGTH:
        raise UnsafeURL(f"must be at most {MAX_URL_LENGTH} characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UnsafeURL(f"is not a valid URL ({exc})") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UnsafeURL("must be an absolute http:// or https:// URL")
    if parts.username is not None or parts.password is not None:
        raise UnsafeURL("must not contain credentials")
    if any(character.isspace() or ord(character) < 32 for character in url):
        raise UnsafeURL("must not contain spaces or control characters")
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return Target(
        scheme=parts.scheme,
        host=parts.hostname,
        port=port or (443 if parts.scheme == "https" else 80),
        path=path,
    )


def is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def resolve(target: Target) -> list[str]:
    """The addresses to connect to, all of them allowed; UnsafeURL otherwise."""
    try:
        infos = socket.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise UnsafeURL(f"its host {target.host!r} cannot be resolved") from None
    addresses = list(dict.fromkeys(info[4][0] for info in infos))
    if not addresses:
        raise UnsafeURL(f"its host {target.host!r} cannot be resolved")
    if waitpoints_settings.webhooks_allow_private:
        return addresses
    refused = [address for address in addresses if not is_public(address)]
    if refused:
        raise UnsafeURL(
            f"resolves to a loopback, private, link-local or metadata address ({refused[0]}); "
            "webhooks must reach the public internet"
        )
    return addresses


def check(url: str) -> Target:
    """Parse and resolve: what saving an endpoint requires. UnsafeURL says why not."""
    target = parse(url)
    resolve(target)
    return target
