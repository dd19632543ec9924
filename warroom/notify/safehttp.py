"""Outgoing HTTP to user-supplied URLs that cannot be aimed at the network Warroom runs in.

Webhook, Apprise and SMS/voice targets are typed in by users, so every request to them is a
potential server-side request forgery: Grafana OnCall's CVE-2024-5526 let a webhook read the
cloud metadata service and internal admin APIs. Checking the URL's host before sending is not
enough: a name can resolve to a public address at check time and to 127.0.0.1 a moment later
(DNS rebinding), and a public server can redirect to an internal one. So the check lives where
the TCP connection is opened: it resolves the name itself, checks every resolved address, and
connects to a checked IP literal; TLS still uses the original host name for SNI and certificate
checks, because httpcore (and urllib3) pass that to the TLS layer separately from the address.

There is one check for every outbound request Warroom makes to a user-supplied URL: httpx
clients from `build_client` (webhook, SMS, voice) use it as their network backend, and
`requests` (Apprise's HTTP stack) uses it inside `guarded_requests()` (end of this module). The
policy, `check_address`, is an explicit table of refused ranges, so it decides the same on
every Python version; IPv6 forms that embed an IPv4 address are decided by that address.

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
import threading
import time
import typing
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
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
    "GuardUnavailable",
    "GuardedBackend",
    "RequestsGuard",
    "SafeTransport",
    "build_client",
    "check_address",
    "embedded_ipv4",
    "guarded_requests",
    "host_problem",
    "parse_allowed_networks",
]

IPAddress = IPv4Address | IPv6Address
IPNetwork = IPv4Network | IPv6Network
# getaddrinfo's shape: (family, type, proto, canonname, sockaddr); sockaddr[0] is the IP text.
AddrInfo = tuple[int, int, int, str, tuple[typing.Any, ...]]
Resolver = Callable[[str, int], Sequence[AddrInfo]]

# Seconds one delivery attempt may take from connect to the last byte of the response.
DEFAULT_TIMEOUT = 10.0

# The address policy is this explicit table, never the interpreter's `is_private`/`is_global`:
# those flags change between Python releases (Debian's 3.11.2 backports the CVE-2024-4032 fix,
# which puts 6to4's 2002::/16 into `is_private`; upstream 3.11.7 does not), and a guard must
# decide the same on every Python. Sources: the IANA IPv4 and IPv6 special-purpose address
# registries; every range there that is not globally reachable is refused. Checked in order, so
# a specific entry (the metadata address) wins over its enclosing range.
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
        ("2001::/23", "IETF protocol assignments (reserved)"),
        ("2001:db8::/32", "documentation range (reserved)"),
        ("3fff::/20", "documentation range (reserved)"),
        ("5f00::/16", "segment routing SIDs (not globally reachable)"),
    )
)
# All global unicast IPv6 lies in 2000::/3; anything else that is not an encoding handled below
# (IPv4-compatible ::a.b.c.d, unassigned space) is refused.
_IPV6_GLOBAL_UNICAST = IPv6Network("2000::/3")

# IPv6 forms that carry an IPv4 address, each decided by the IPv4 address it carries (checking
# only the outer address would let ::ffff:127.0.0.1 or 64:ff9b::a00:1 through, and refusing
# them all would refuse public hosts reached through 6to4 or NAT64):
# - IPv4-mapped ::ffff:a.b.c.d: the kernel connects to a.b.c.d.
# - NAT64 64:ff9b::a.b.c.d (RFC 6052 well-known prefix): a translator connects to a.b.c.d.
# - 6to4 2002:aabb:ccdd::/48: a relay delivers to the IPv4 host aa.bb.cc.dd.
# - Teredo 2001:0::/32: the packet goes to the Teredo server (bits 32-63) and on to the client
#   (the last 32 bits, inverted); both must be public.
# The local-use NAT64 prefix 64:ff9b:1::/48 (RFC 8215) is refused unless allowed: where the IPv4
# address sits depends on the prefix length the site's translator uses (RFC 6052 allows six
# layouts), so no reading of it is safe.
_MAPPED = IPv6Network("::ffff:0:0/96")
_NAT64 = IPv6Network("64:ff9b::/96")
_NAT64_LOCAL = IPv6Network("64:ff9b:1::/48")
_SIXTOFOUR = IPv6Network("2002::/16")
_TEREDO = IPv6Network("2001::/32")


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


def embedded_ipv4(address: IPAddress) -> tuple[IPv4Address, ...]:
    """The IPv4 addresses an IPv6 address carries (see above); empty for any other address."""
    if not isinstance(address, IPv6Address):
        return ()
    if address in _MAPPED or address in _NAT64:
        return (IPv4Address(int(address) & 0xFFFFFFFF),)
    if address in _SIXTOFOUR:
        return (IPv4Address((int(address) >> 80) & 0xFFFFFFFF),)
    if address in _TEREDO:
        server = IPv4Address((int(address) >> 64) & 0xFFFFFFFF)
        client = IPv4Address(~int(address) & 0xFFFFFFFF)
        return (server, client)
    return ()


def _reason_blocked(address: IPAddress) -> str | None:
    for network, reason in _BLOCKED:
        if address.version == network.version and address in network:
            return reason
    if isinstance(address, IPv6Address) and address not in _IPV6_GLOBAL_UNICAST:
        return "reserved (outside the global unicast range 2000::/3)"
    return None


def _allowed(address: IPAddress, allowed: Sequence[IPNetwork]) -> bool:
    return any(address.version == n.version and address in n for n in allowed)


def check_address(address: str | IPAddress, allowed: Sequence[IPNetwork] = ()) -> str | None:
    """Return why `address` may not be connected to, or None if it may.

    An address is allowed when it, or an IPv4 address it embeds, lies in an allowed network.
    Otherwise an IPv6 form that embeds IPv4 is decided by the embedded address(es) alone, and
    any other address must not lie in a refused range. The decision uses only the tables above.
    """
    ip = ip_address(address) if isinstance(address, str) else address
    if isinstance(ip, IPv6Address) and ip.scope_id:
        ip = IPv6Address(str(ip).split("%", 1)[0])
    inner = embedded_ipv4(ip)
    if _allowed(ip, allowed) or any(_allowed(v4, allowed) for v4 in inner):
        return None
    for v4 in inner:
        reason = _reason_blocked(v4)
        if reason is not None:
            return f"IPv6 form of {v4}: {reason}"
    if inner:
        return None
    if isinstance(ip, IPv6Address) and ip in _NAT64_LOCAL:
        return "local-use NAT64 (RFC 8215): its IPv4 layout is the site's choice"
    return _reason_blocked(ip)


def _ipv4_shorthand(host: str) -> IPv4Address | None:
    # inet_aton's forms that name an IPv4 address without four dotted decimals: "2130706433",
    # "0x7f.1", "127.1". The system resolver accepts them, so they are addresses, not names.
    if not host or not all(c in "0123456789abcdefxABCDEFX." for c in host):
        return None
    try:
        return IPv4Address(socket.inet_aton(host))
    except OSError:
        return None


def host_problem(
    host: str, allowed_networks: Iterable[str] = (), *, shorthand: bool = True
) -> str | None:
    """Why a URL's host is refused before any connection, or None: for checks when a URL is saved.

    Only what the host text itself says: IP literals (and, with `shorthand`, inet_aton's other
    IPv4 forms) and the names RFC 6761 reserves for the local host. Other names are not resolved
    here: DNS may answer differently at send time, so the connect-time guard decides for them.
    """
    allowed = parse_allowed_networks(allowed_networks)
    name = host.strip("[]").rstrip(".").lower()
    if name == "localhost" or name.endswith(".localhost"):
        candidates: list[IPAddress] = [IPv4Address("127.0.0.1"), IPv6Address("::1")]
    else:
        try:
            candidates = [ip_address(name)]
        except ValueError:
            v4 = _ipv4_shorthand(name) if shorthand else None
            candidates = [v4] if v4 is not None else []
    for candidate in candidates:
        reason = check_address(candidate, allowed)
        if reason is not None:
            return f"{host} is refused: {reason}"
    return None


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


# --- the same guard under `requests` (Apprise's HTTP stack) ---------------------------------
#
# Apprise's plugins send with `requests`, which opens every connection through urllib3's
# `urllib3.util.connection.create_connection`. While a `guarded_requests()` block runs, that
# function resolves through `GuardedBackend.resolve_checked` and connects to the checked IP
# literals only; TLS keeps verifying against the URL's host name, which urllib3 passes to the TLS
# layer separately. Outside such a block both hooks call the originals unchanged, so other users
# of `requests` in the process are unaffected. The block is a context variable: Apprise 2 runs
# services on worker threads with a copy of the caller's context, so the guard goes with them.


class GuardUnavailable(RuntimeError):
    """The guard's hooks are not in place, so nothing may be sent through `requests`."""


@dataclass
class RequestsGuard:
    """One guarded block: the check to apply, and what it saw (for the caller's verdict)."""

    backend: GuardedBackend
    refused: list[BlockedDestination] = field(default_factory=list)
    connections: int = 0


_REQUESTS_GUARD: ContextVar[RequestsGuard | None] = ContextVar(
    "warroom_requests_guard", default=None
)
_install_lock = threading.Lock()
_originals: dict[str, Callable[..., typing.Any]] = {}


def _guarded_create_connection(
    address: tuple[str, int], *args: typing.Any, **kwargs: typing.Any
) -> socket.socket:
    original = _originals["create_connection"]
    guard = _REQUESTS_GUARD.get()
    if guard is None:
        return typing.cast(socket.socket, original(address, *args, **kwargs))
    host, port = address
    host = host.strip("[]")
    try:
        addresses = guard.backend.resolve_checked(host, port)
    except BlockedDestination as exc:
        # Not an OSError on purpose: urllib3 and requests do not retry it, and the refusal
        # reaches the caller through `guard.refused` whatever the plugin does with the error.
        guard.refused.append(exc)
        raise
    except httpcore.ConnectError as exc:
        raise socket.gaierror(socket.EAI_NONAME, str(exc)) from exc
    last_error: OSError | None = None
    for checked in addresses:
        try:
            sock = original((checked, port), *args, **kwargs)
        except OSError as exc:
            last_error = exc
            continue
        guard.connections += 1
        return typing.cast(socket.socket, sock)
    assert last_error is not None  # resolve_checked returns at least one address
    raise last_error


def _guarded_adapter_send(
    self: typing.Any, request: typing.Any, *args: typing.Any, **kwargs: typing.Any
) -> typing.Any:
    if _REQUESTS_GUARD.get() is not None:
        # A proxy would connect on our behalf, past the check: guarded requests go direct, as
        # safehttp's own clients do (requests would otherwise take HTTPS_PROXY from the
        # environment, on redirects too).
        if len(args) >= 5:
            args = (*args[:4], {}, *args[5:])
        else:
            kwargs["proxies"] = {}
    return _originals["adapter_send"](self, request, *args, **kwargs)


def _install_requests_guard() -> None:
    import requests.adapters
    import urllib3.connection
    import urllib3.util.connection

    with _install_lock:
        if not _originals:
            _originals["create_connection"] = urllib3.util.connection.create_connection
            _originals["adapter_send"] = requests.adapters.HTTPAdapter.send
            urllib3.util.connection.create_connection = _guarded_create_connection
            requests.adapters.HTTPAdapter.send = _guarded_adapter_send  # type: ignore[method-assign]
    # Fail closed: if a future urllib3 or requests opens connections some other way, refuse to
    # send rather than send unguarded.
    if (
        getattr(urllib3.connection, "connection", None) is not urllib3.util.connection
        or urllib3.util.connection.create_connection is not _guarded_create_connection
        or requests.adapters.HTTPAdapter.send is not _guarded_adapter_send
    ):
        raise GuardUnavailable(
            "unsupported requests/urllib3 version: cannot install the address guard"
        )


@contextmanager
def guarded_requests(
    allowed_networks: Iterable[str] = (), *, resolver: Resolver | None = None
) -> Iterator[RequestsGuard]:
    """Within this block, every connection `requests` opens (in this context) is checked."""
    _install_requests_guard()
    guard = RequestsGuard(
        GuardedBackend(
            allowed_networks,
            attempt_timeout=None,
            resolver=resolver if resolver is not None else _system_resolver,
        )
    )
    token = _REQUESTS_GUARD.set(guard)
    try:
        yield guard
    finally:
        _REQUESTS_GUARD.reset(token)
