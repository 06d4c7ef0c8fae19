"""Where the gateway may send service calls (SSRF guard): never to link-local, cloud-metadata or unspecified
addresses, whatever name points there; optionally only to an allow-list of hosts. Loopback and private
networks stay allowed (the microservices and simulators run there)."""

from __future__ import annotations

import functools
import ipaddress
import socket
from collections.abc import Callable, Sequence
from urllib.parse import urlsplit

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str], list[str]]

# Cloud metadata endpoints outside the link-local ranges (Alibaba, AWS over IPv6 on Nitro).
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a) for a in ("100.100.100.200", "fd00:ec2::254", "169.254.169.254", "fd00:ec2::23")
)


class ServiceHostRefused(ValueError):
    """The URL's host is, or resolves to, an address the gateway never calls."""


def resolve(host: str) -> list[str]:
    """Every address host resolves to (empty when it does not resolve now)."""
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError, OSError):
        return []
    return sorted({str(info[4][0]).split("%", 1)[0] for info in infos})


def blocked_reason(addr: IpAddress) -> str | None:
    """Why the gateway never calls addr, or None."""
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped:
        addr = addr.ipv4_mapped
    if addr in METADATA_ADDRESSES:
        return "a cloud metadata address"
    if addr.is_unspecified:
        return "the unspecified address"
    if addr.is_link_local:
        return "a link-local address"
    if addr.is_multicast or addr.is_reserved:
        return "a multicast or reserved address"
    return None


def _allowed(host: str, addrs: Sequence[IpAddress], allowlist: Sequence[str]) -> bool:
    for entry in allowlist:
        try:
            net = ipaddress.ip_network(entry, strict=False)
        except ValueError:
            if host.lower() == entry.lower():
                return True
            continue
        if addrs and all(a in net for a in addrs):
            return True
    return False


def check_url(url: str, allowlist: list[str] | None = None, resolver: Resolver = resolve) -> None:
    """Raises ServiceHostRefused when url's host is (or resolves to) a blocked address, or is not on a
    non-empty allow-list (host names, IP addresses or CIDR networks). A name that does not resolve now passes
    here; the adapter checks again before each call."""
    host = urlsplit(url).hostname or ""
    if not host:
        raise ServiceHostRefused(f"{url[:200]!r} has no host")
    allowed = tuple(allowlist or ())
    literal, refusal = _literal_verdict(host, allowed)
    if not literal:
        refusal = _refusal(host, tuple(ipaddress.ip_address(a) for a in resolver(host)), allowed)
    if refusal:
        raise ServiceHostRefused(refusal)


@functools.lru_cache(maxsize=1024)
def _literal_verdict(host: str, allowlist: tuple[str, ...]) -> tuple[bool, str | None]:
    """(whether host is an IP address, and if so why it is refused or None). An address in the URL cannot be
    re-pointed, so its verdict is kept; a name is resolved and judged at every call (DNS may change)."""
    try:
        addr = ipaddress.ip_address(host)
    except ValueError:
        return False, None
    return True, _refusal(host, (addr,), allowlist)


def _refusal(host: str, addrs: tuple[IpAddress, ...], allowlist: tuple[str, ...]) -> str | None:
    """Why the gateway refuses to call host at these addresses, or None."""
    for addr in addrs:
        reason = blocked_reason(addr)
        if reason:
            shown = host if str(addr) == host else f"{host} ({addr})"
            return f"service host {shown} is {reason}: the gateway never calls it"
    if allowlist and not _allowed(host, addrs, allowlist):
        return f"service host {host} is not on SERVICE_HOST_ALLOWLIST"
    return None


def parse_allowlist(value: str) -> list[str]:
    """SERVICE_HOST_ALLOWLIST: comma-separated host names, addresses or networks; empty = any allowed host."""
    return [item.strip() for item in (value or "").split(",") if item.strip()]
