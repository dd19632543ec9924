"""Outgoing HTTP to user-supplied URLs that cannot be aimed at the network Warroom runs in.

Webhook and SMS/voice targets are typed in by users, so every request to them is a potential
server-side request forgery: Grafana OnCall's CVE-2024-5526 let a webhook read the cloud metadata
service and internal admin APIs. Checking the URL's host before sending is not enough: a name can
resolve to a public address at check time and to 127.0.0.1 a moment later (DNS rebinding), and a
public server can redirect to an internal one. So the check lives in the network backend that
opens the TCP connection: it resolves the name itself, checks every resolved address, and connects
to a checked IP literal; TLS still uses the original host name for SNI and certificate checks,
because httpcore passes that to ``start_tls`` separately from the address it connected to.

Refused destinations raise `BlockedDestination` before any packet is sent to them. Redirects are
never followed by clients built here; were a caller to follow one anyway, the new connection
goes through the same check. An admin may allow networks explicitly (say ``["127.0.0.0/8"]`` for
a webhook receiver on the same host); nothing else private is reachable.

Limits: name resolution itself (``getaddrinfo``) is not bounded by the timeout, and proxies are
not supported (environment proxy variables are ignored), since a proxy would connect on our
behalf and bypass the check.
"""

from __future__ import annotations

import socket
import ssl
import time
import typing
from collections.abc import Callable, Iterable, Sequence
from functools import lru_cache
from ipaddress import (
    IPv4Address,
    IPv4Network,
    IPv6Address,
    IPv6Network,
    ip_address,
    ip_network,
)

import httpcore
import httpx

__all__ = [
    "DEFAULT_TIMEOUT",
    "BlockedDestination",
    "GuardedBackend",
    "SafeTransport",
    "build_client",
    "check_address",
    "parse_allowed_networks",
]

IPAddress = IPv4Address | IPv6Address
IPNetwork = IPv4Network | IPv6Network
# getaddrinfo's shape: (family, type, proto, canonname, sockaddr); sockaddr[0] is the IP text.
AddrInfo = tuple[int, int, int, str, tuple[typing.Any, ...]]
Resolver = Callable[[str, int], Sequence[AddrInfo]]

# Seconds one delivery attempt may take from connect to the last byte of the response.
DEFAULT_TIMEOUT = 10.0

# Checked in order, so a specific entry (the metadata address) wins over its enclosing range.
_BLOCKED: tuple[tuple[IPNetwork, str], ...] = tuple(
    (ip_network(net), reason)
    for net, reason in (
        ("169.254.169.254/32", "cloud metadata service (link-local)"),
        ("0.0.0.0/8", "unspecified / 'this network' (0.0.0.0 reaches the local host)"),
        ("10.0.0.0/8", "private network (RFC 1918)"),
        ("100.64.0.0/10", "carrier-grade NAT (RFC 6598)"),
        ("127.0.0.0/8", "loopback"),
        ("169.254.0.0/16", "link-local"),
        ("172.16.0.0/12", "private network (RFC 1918)"),
        ("192.0.0.0/24", "IETF protocol assignments (reserved)"),
        ("192.0.2.0/24", "documentation range (reserved)"),
        ("192.88.99.0/24", "6to4 relay anycast (reserved)"),
        ("192.168.0.0/16", "private network (RFC 1918)"),
        ("198.18.0.0/15", "benchmarking range (reserved)"),
        ("198.51.100.0/24", "documentation range (reserved)"),
        ("203.0.113.0/24", "documentation range (reserved)"),
        ("224.0.0.0/4", "multicast"),
        ("255.255.255.255/32", "broadcast"),
        ("240.0.0.0/4", "reserved"),
        ("::/128", "unspecified"),
        ("::1/128", "loopback"),
        ("fd00:ec2::254/128", "cloud metadata service (IPv6)"),
        ("fc00::/7", "private network (unique local, RFC 4193)"),
        ("fe80::/10", "link-local"),
        ("fec0::/10", "site-local (deprecated, private)"),
        ("ff00::/8", "multicast"),
        ("100::/64", "discard-only (reserved)"),
        ("2001:db8::/32", "documentation range (reserved)"),
    )
)
# IPv6 forms that carry an IPv4 address the kernel or a relay may deliver to: checking only the
# outer IPv6 address would let ::ffff:127.0.0.1 or 64:ff9b::a00:1 through.
_NAT64 = IPv6Network("64:ff9b::/96")


class BlockedDestination(Exception):
    """A connection was refused because its address is not a public Internet address."""

    def __init__(self, host: str, address: str, reason: str) -> None:
        self.host = host
        self.address = address
        self.reason = reason
        shown = address if host == address else f"{host} ({address})"
        super().__init__(f"refused to connect to {shown}: {reason}")


def parse_allowed_networks(values: Iterable[str]) -> tuple[IPNetwork, ...]:
    """Parse the admin allow-list; a typo must fail loudly rather than silently allow nothing."""
    networks: list[IPNetwork] = []
    for value in values:
        try:
            networks.append(ip_network(value.strip(), strict=False))
        except ValueError as exc:
            raise ValueError(f"invalid allowed network {value!r}: {exc}") from None
    return tuple(networks)


def _embedded_ipv4(address: IPAddress) -> tuple[IPv4Address, bool] | None:
    """The IPv4 address an IPv6 address carries, and whether the IPv6 form is only an encoding.

    IPv4-mapped (::ffff:a.b.c.d) and NAT64 (64:ff9b::a.b.c.d) addresses are delivered to the
    IPv4 address, so only that one matters; a 6to4 address (2002:aabb:ccdd::) is checked both ways.
    """
    if not isinstance(address, IPv6Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped, True
    if address in _NAT64:
        return IPv4Address(int(address) & 0xFFFFFFFF), True
    if address.sixtofour is not None:
        return address.sixtofour, False
    return None


def _reason_blocked(address: IPAddress) -> str | None:
    for network, reason in _BLOCKED:
        if address.version == network.version and address in network:
            return reason
    # The table above names the usual suspects; the stdlib flags catch whatever it misses
    # (and ranges IANA adds later) with a less specific reason.
    if address.is_multicast:
        return "multicast"
    if address.is_loopback:
        return "loopback"
    if address.is_link_local:
        return "link-local"
    if address.is_unspecified:
        return "unspecified"
    if address.is_private:
        return "private network"
    if address.is_reserved:
        return "reserved"
    if not address.is_global:
        return "not a globally routable address"
    return None


def check_address(address: str | IPAddress, allowed: Sequence[IPNetwork] = ()) -> str | None:
    """Return why `address` may not be connected to, or None if it may.

    An address is allowed when it, or the IPv4 address it embeds, lies in an allowed network;
    otherwise both forms must be public.
    """
    ip = ip_address(address) if isinstance(address, str) else address
    if isinstance(ip, IPv6Address) and ip.scope_id:
        ip = IPv6Address(str(ip).split("%", 1)[0])
    embedded = _embedded_ipv4(ip)
    candidates: list[IPAddress] = [ip] if embedded is None else [ip, embedded[0]]
    for candidate in candidates:
        if any(candidate.version == n.version and candidate in n for n in allowed):
            return None
    if embedded is not None:
        inner, encoding_only = embedded
        reason = _reason_blocked(inner)
        if reason is not None:
            return f"IPv6 form of {inner}: {reason}"
        if encoding_only:
            return None
    return _reason_blocked(ip)


def _system_resolver(host: str, port: int) -> Sequence[AddrInfo]:
    return socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)


class _DeadlineStream(httpcore.NetworkStream):
    """Caps every I/O call by what is left of one attempt's budget.

    httpx timeouts bound each read or write, so a server dripping one byte at a time could hold
    a delivery worker forever; this turns them into a bound on the whole attempt.
    """

    def __init__(self, inner: httpcore.NetworkStream, deadline: float) -> None:
        self._inner = inner
        self._deadline = deadline

    def _budget(self, timeout: float | None, exc: type[Exception]) -> float:
        left = self._deadline - time.monotonic()
        if left <= 0:
            raise exc("delivery attempt exceeded its time budget")
        return left if timeout is None else min(timeout, left)

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, self._budget(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, self._budget(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        budget = self._budget(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(
            self._inner.start_tls(ssl_context, server_hostname, budget), self._deadline
        )

    def get_extra_info(self, info: str) -> typing.Any:
        return self._inner.get_extra_info(info)


class GuardedBackend(httpcore.SyncBackend):
    """httpcore's sync backend, connecting only to checked IP addresses.

    Everything after the address check is the stock backend, called with an IP literal so that
    it performs no second (possibly different) resolution.
    """

    def __init__(
        self,
        allowed_networks: Iterable[str] = (),
        *,
        attempt_timeout: float | None = DEFAULT_TIMEOUT,
        resolver: Resolver = _system_resolver,
    ) -> None:
        self.allowed = parse_allowed_networks(allowed_networks)
        self.attempt_timeout = attempt_timeout
        self._resolve = resolver

    def resolve_checked(self, host: str, port: int) -> list[str]:
        """Resolve `host` and return its addresses, or raise if any of them is refused.

        One refused address refuses the name: a name that mixes public and internal addresses
        is either misconfigured or an attack, and failing is easier to reason about than
        silently picking the public one.
        """
        try:
            infos = self._resolve(host, port)
        except (socket.gaierror, UnicodeError) as exc:
            raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from exc
        addresses: list[str] = []
        for family, _type, _proto, _canon, sockaddr in infos:
            if family not in (socket.AF_INET, socket.AF_INET6):
                continue
            address = str(sockaddr[0])
            reason = check_address(address, self.allowed)
            if reason is not None:
                raise BlockedDestination(host, address, reason)
            if address not in addresses:
                addresses.append(address)
        if not addresses:
            raise httpcore.ConnectError(f"{host} has no IPv4 or IPv6 address")
        return addresses

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        deadline = time.monotonic() + (
            self.attempt_timeout if self.attempt_timeout is not None else float("inf")
        )
        addresses = self.resolve_checked(host, port)
        last_error: Exception | None = None
        for address in addresses:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            try:
                stream = super().connect_tcp(
                    address,
                    port,
                    timeout=left if timeout is None else min(timeout, left),
                    local_address=local_address,
                    socket_options=list(socket_options or ()),
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last_error = exc
                continue
            return _DeadlineStream(stream, deadline)
        if last_error is not None:
            raise last_error
        raise httpcore.ConnectTimeout(f"connecting to {host} exceeded the attempt time budget")

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        raise BlockedDestination(path, path, "unix sockets are never reachable from user URLs")


@lru_cache(maxsize=1)
def _default_ssl_context() -> ssl.SSLContext:
    # Loading the CA bundle takes tens of milliseconds; do it once, not per delivery.
    return httpx.create_ssl_context()


class SafeTransport(httpx.HTTPTransport):
    """httpx's standard transport, with its connection pool built on `GuardedBackend`.

    httpx 0.28 has no public argument for the network backend (encode/httpx PR #3749 proposes
    one), so the pool httpx built is replaced by an identical one that uses the guarded backend.
    Everything else (request/response mapping, exception mapping) stays httpx's own code. If a
    future httpx renames the pool attribute, construction fails instead of sending unguarded.
    """

    def __init__(
        self,
        backend: GuardedBackend,
        *,
        verify: ssl.SSLContext | bool = True,
        max_connections: int = 10,
    ) -> None:
        context = _default_ssl_context() if verify is True else httpx.create_ssl_context(verify)
        # No keep-alive: each delivery is its own connection, so the attempt budget in
        # `_DeadlineStream` is per attempt and every request re-runs the address check.
        limits = httpx.Limits(max_connections=max_connections, max_keepalive_connections=0)
        super().__init__(verify=context, trust_env=False, limits=limits, retries=0)
        if not isinstance(getattr(self, "_pool", None), httpcore.ConnectionPool):
            raise RuntimeError("unsupported httpx version: cannot install the address guard")
        self._pool.close()
        self._pool = httpcore.ConnectionPool(
            ssl_context=context,
            max_connections=limits.max_connections,
            max_keepalive_connections=0,
            network_backend=backend,
        )
        self.backend = backend


def build_client(
    allowed_networks: Iterable[str] = (),
    *,
    timeout: float = DEFAULT_TIMEOUT,
    verify: ssl.SSLContext | bool = True,
    headers: dict[str, str] | None = None,
    resolver: Resolver | None = None,
) -> httpx.Client:
    """A sync client for user-supplied URLs: guarded connects, no redirects, bounded attempts.

    `timeout` bounds each connect/read/write and, through the backend, the whole attempt.
    `resolver` replaces ``getaddrinfo`` (tests use it to simulate DNS rebinding).
    """
    backend = GuardedBackend(
        allowed_networks,
        attempt_timeout=timeout,
        resolver=resolver if resolver is not None else _system_resolver,
    )
    return httpx.Client(
        transport=SafeTransport(backend, verify=verify),
        timeout=httpx.Timeout(timeout),
        follow_redirects=False,
        trust_env=False,
        headers=headers,
    )
