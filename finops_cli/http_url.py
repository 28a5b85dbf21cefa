"""A backend's base URL taken apart once, and what is unsafe about using it.

Separate from ``http_client`` so that the client module holds the sending, and this one the
decisions about where requests go: the parts of a configured URL (userinfo and query kept out of
what is shown) and the warnings for credentials over plain http and TLS verification turned off.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, unquote, urlsplit

import httpx

from finops_cli.errors import UsageError

__all__ = ["BaseUrl", "is_loopback", "parse_base_url", "security_warnings"]


@dataclass(frozen=True)
class BaseUrl:
    """A configured base URL, taken apart once.

    ``target`` is what requests go to (a path is appended) and ``shown`` what messages print:
    neither holds the userinfo or the query, which may carry a password or an API key.
    """

    target: str
    shown: str
    scheme: str
    host: str
    params: list[tuple[str, str]] = field(default_factory=list)
    username: str | None = None
    password: str = ""
    query: str = ""


def parse_base_url(url: str, bad_url: UsageError) -> BaseUrl:
    """``url`` as a :class:`BaseUrl`, or ``bad_url`` (which must not echo the URL) when it is
    not an http(s) URL with a host httpx can encode."""
    try:
        parts = urlsplit(url.strip())
        hostport = parts.netloc.rpartition("@")[2]
        username = unquote(parts.username) if parts.username else None
        password = unquote(parts.password or "")
        host = parts.hostname or ""
    except ValueError:
        raise bad_url from None
    if parts.scheme not in ("http", "https") or not hostport:
        raise bad_url
    shown = f"{parts.scheme}://{hostport}{parts.path.rstrip('/')}"
    try:  # a host name IDNA cannot encode (☃.net, full-width letters) fails only here
        httpx.URL(shown)
    except (httpx.InvalidURL, ValueError):
        raise bad_url from None
    params = parse_qsl(parts.query, keep_blank_values=True)
    return BaseUrl(shown, shown, parts.scheme, host, params, username, password, parts.query)


def is_loopback(host: str) -> bool:
    """True for localhost names and loopback addresses, where plain http never leaves the host."""
    name = host.strip("[]").rstrip(".").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def security_warnings(
    where: str, base: BaseUrl, *, sends_secret: bool, verify_off: bool
) -> list[str]:
    """What is unsafe about talking to ``base`` this way, as warning lines (none when safe).

    A credential over plain http can be read by anyone on the network path, unless the host is
    loopback (a port-forward, a sidecar). Verification off lets anyone on the path pose as the
    server, and read whatever credentials are sent to it.
    """
    found = []
    if base.scheme == "http" and sends_secret and not is_loopback(base.host):
        found.append(
            f"credentials for {where} are sent over plain http:// and can be read on the "
            "network path; use https://"
        )
    if base.scheme == "https" and verify_off:
        found.append(
            f"TLS certificate verification is off for {where} (--insecure-skip-tls-verify): "
            "anyone on the network path can pose as the server"
        )
    return found
