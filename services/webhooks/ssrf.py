"""The SSRF guard: webhooks only go to public http(s) addresses, unless the operator allows more.

A tenant chooses where webhooks go, so without a guard it could make the
platform POST to its own internal network (a database admin page, the cloud
metadata service at 169.254.169.254). A URL is refused when it is not
http/https or when its host is, or resolves to, any address that is not
globally routable: loopback, private, link-local, multicast, reserved,
unspecified, shared (CGNAT) -- IPv4 and IPv6, including IPv4 addresses
mapped into IPv6. Every resolved address is checked, since a client may
connect to any of them. ``allowed`` CIDRs (``WebhookConfig.allowed_private_networks``)
are exempt: tests and on-premises installs deliver to 127.0.0.1 or a LAN.

The check runs when an endpoint is saved and again when each webhook is
sent: DNS can change after the URL was accepted. At send time
``guarded_resolver`` gives the HTTP client the addresses it connects to, each
checked, so a name that resolves differently between a check and the
connection cannot slip through.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
from collections.abc import Iterable
from urllib.parse import urlsplit

from libs.http import Resolver, getaddrinfo

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class UnsafeUrl(ValueError):
    """The URL may not receive webhooks; the message says why."""


class BlockedAddress(OSError):
    """A webhook host resolved to an address the guard refuses (raised inside the HTTP client)."""


def parse_networks(cidrs: Iterable[str]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(c, strict=False) for c in cidrs)


def is_blocked(address: IPAddress, allowed: tuple[Network, ...] = ()) -> bool:
    """Whether webhooks must not be sent to ``address``."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        # ::ffff:10.0.0.1 reaches 10.0.0.1: judge it as that address.
        address = address.ipv4_mapped
    if any(address in net for net in allowed):
        return False
    return (
        address.is_loopback
        or address.is_private
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        # Catches the ranges the flags above miss, e.g. 100.64.0.0/10 (CGNAT).
        or not address.is_global
    )


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


@functools.lru_cache(maxsize=4096)
def check_url_syntax(url: str, allowed: tuple[Network, ...] = ()) -> str:
    """The URL's host, after checking its scheme and (if the host is an IP) its address.

    Needs no DNS: a host name is checked by ``check_url`` or the resolver.
    Remembered (a refusal is not): it runs before every webhook, mostly for
    the same few URLs.
    """
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError as exc:
        raise UnsafeUrl(f"is not a valid URL: {exc}") from exc
    if parts.scheme not in ("http", "https"):
        raise UnsafeUrl("must be an http or https URL")
    if not host:
        raise UnsafeUrl("must name a host")
    literal = _literal(host)
    if literal is not None and is_blocked(literal, allowed):
        raise UnsafeUrl(f"must not point at a private or reserved address ({literal})")
    return host


# How long the check of a URL being saved waits for DNS: well within the
# caller's deadline (a resolver that drops a query makes glibc wait 5 s).
RESOLVE_TIMEOUT_S = 2.0


async def check_url(
    url: str,
    allowed: tuple[Network, ...] = (),
    *,
    timeout_s: float = RESOLVE_TIMEOUT_S,
    resolve: Resolver = getaddrinfo,
) -> None:
    """Raise ``UnsafeUrl`` unless every address ``url``'s host resolves to may get webhooks."""
    host = check_url_syntax(url, allowed)
    if _literal(host) is not None:
        return
    try:
        await asyncio.wait_for(guarded_resolver(allowed, resolve)(host, 0), timeout_s)
    except BlockedAddress as exc:
        raise UnsafeUrl(str(exc)) from exc
    except TimeoutError as exc:
        raise UnsafeUrl(f"host {host!r} could not be resolved in {timeout_s:g} s") from exc
    except OSError as exc:
        raise UnsafeUrl(f"host {host!r} could not be resolved") from exc


def guarded_resolver(
    allowed: tuple[Network, ...] = (), resolve: Resolver = getaddrinfo
) -> Resolver:
    """``resolve`` (the loop's getaddrinfo), refusing a host any of whose addresses is blocked.

    The HTTP client reports the ``BlockedAddress`` (an ``OSError``) as a
    ``ConnectError`` whose ``os_error`` it is.
    """

    async def checked(host: str, port: int) -> list[str]:
        try:
            addresses = await resolve(host, port)
        except UnicodeError as exc:
            raise OSError(f"host {host!r} could not be resolved: {exc}") from exc
        for literal in addresses:
            address = ipaddress.ip_address(literal.split("%")[0])
            if is_blocked(address, allowed):
                raise BlockedAddress(
                    f"host {host!r} resolves to a private or reserved address ({address})"
                )
        return list(addresses)

    return checked
