"""safehttp: internal destinations refused at connect time, redirects not followed, allow-list."""

from __future__ import annotations

import ipaddress
import os
import socket
import ssl
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import httpx
import pytest

from tests.notify.conftest import LocalHTTPServer
from warroom.notify.safehttp import (
    AddrInfo,
    BlockedDestination,
    Resolver,
    build_client,
    check_address,
    guarded_requests,
    host_problem,
    parse_allowed_networks,
)

LOOPBACK = ["127.0.0.0/8"]


@pytest.mark.parametrize(
    ("url", "address", "reason"),
    [
        ("http://127.0.0.1:{port}/", "127.0.0.1", "loopback"),
        ("http://localhost:{port}/", None, "loopback"),
        ("http://[::1]:{port}/", "::1", "loopback"),
        ("http://[::ffff:127.0.0.1]:{port}/", "::ffff:127.0.0.1", "loopback"),
        ("http://10.0.0.1/", "10.0.0.1", "private"),
        ("http://172.16.5.4/", "172.16.5.4", "private"),
        ("http://192.168.1.1/", "192.168.1.1", "private"),
        ("http://[fd12::1]/", "fd12::1", "private"),
        ("http://169.254.169.254/latest/meta-data/", "169.254.169.254", "metadata"),
        ("http://[fe80::1]/", "fe80::1", "link-local"),
        ("http://0.0.0.0:{port}/", "0.0.0.0", "unspecified"),
        ("http://100.64.0.1/", "100.64.0.1", "carrier-grade NAT"),
        ("http://224.0.0.1/", "224.0.0.1", "multicast"),
        ("http://240.0.0.1/", "240.0.0.1", "reserved"),
        ("http://[::ffff:10.0.0.1]/", "::ffff:10.0.0.1", "private"),
        ("https://[::ffff:169.254.169.254]/", "::ffff:169.254.169.254", "metadata"),
    ],
)
def test_internal_destinations_are_refused_before_connecting(
    http_server: LocalHTTPServer,
    connect_log: list[str],
    url: str,
    address: str | None,
    reason: str,
) -> None:
    # A live server on the loopback port shows the refusal is ours, not a closed port.
    with build_client() as client, pytest.raises(BlockedDestination) as caught:
        client.get(url.format(port=http_server.port))
    if address is not None:
        assert caught.value.address == address
        assert address in str(caught.value)
    else:  # localhost: whichever loopback address the resolver listed first
        assert caught.value.host == "localhost"
    assert reason in caught.value.reason
    assert connect_log == []
    assert http_server.requests == []


def test_allow_list_permits_loopback(http_server: LocalHTTPServer) -> None:
    http_server.answer(200, b"hello")
    with build_client(LOOPBACK) as client:
        first = client.get(f"{http_server.url}/one")
    # "localhost" may also resolve to ::1, which must then be allowed too (and is tried first
    # when listed first: the server only listens on IPv4, so the backend moves on).
    with build_client([*LOOPBACK, "::1/128"]) as client:
        second = client.get(f"http://localhost:{http_server.port}/two")
    assert (first.status_code, first.text) == (200, "hello")
    assert second.status_code == 200
    assert [r.path for r in http_server.requests] == ["/one", "/two"]


def test_allow_list_opens_nothing_else(connect_log: list[str]) -> None:
    with build_client(LOOPBACK) as client, pytest.raises(BlockedDestination):
        client.get("http://10.0.0.1/")
    assert connect_log == []


def test_redirect_to_private_address_is_not_followed(
    http_server: LocalHTTPServer, connect_log: list[str]
) -> None:
    http_server.answer(302, location="http://10.0.0.1/admin")
    with build_client(LOOPBACK) as client:
        response = client.get(http_server.url)
        assert response.status_code == 302
        assert response.next_request is not None  # httpx saw the redirect and left it alone
        # Even a caller that opts into redirects cannot get past the connect-time check.
        with pytest.raises(BlockedDestination):
            client.get(http_server.url, follow_redirects=True)
    assert len(http_server.requests) == 2
    assert set(connect_log) == {"127.0.0.1"}


def _resolver(*answers: Sequence[str]) -> Resolver:
    """A stand-in DNS that gives each lookup the next answer (as an attacker's DNS would)."""
    calls = iter(answers)

    def resolve(host: str, port: int) -> list[AddrInfo]:
        return [
            (socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (ip, port))
            for ip in next(calls)
        ]

    return resolve


def test_dns_rebinding_is_checked_on_every_connection(
    http_server: LocalHTTPServer, connect_log: list[str]
) -> None:
    resolver = _resolver(["127.0.0.1"], ["10.0.0.1"])
    url = f"http://rebind.test:{http_server.port}/"
    with build_client(LOOPBACK, resolver=resolver) as client:
        assert client.get(url).status_code == 200
        with pytest.raises(BlockedDestination) as caught:
            client.get(url)
    assert (caught.value.host, caught.value.address) == ("rebind.test", "10.0.0.1")
    assert connect_log == ["127.0.0.1"]
    # The Host header still names the site, though the connection went to a checked IP.
    assert http_server.requests[0].headers["Host"] == f"rebind.test:{http_server.port}"


def test_one_internal_address_refuses_the_whole_name(
    http_server: LocalHTTPServer, connect_log: list[str]
) -> None:
    resolver = _resolver(["127.0.0.1", "169.254.169.254"])
    with build_client(LOOPBACK, resolver=resolver) as client, pytest.raises(BlockedDestination):
        client.get(f"http://mixed.test:{http_server.port}/")
    assert connect_log == []


def test_attempt_time_budget_covers_a_dripping_server(http_server: LocalHTTPServer) -> None:
    def drip(handler: BaseHTTPRequestHandler) -> None:
        # Each byte comes well within the per-read timeout; only a whole-attempt budget stops it.
        try:
            handler.wfile.write(b"HTTP/1.1 200 OK\r\n")
            for _ in range(40):
                handler.wfile.write(b"X-Drip: 1\r\n")
                handler.wfile.flush()
                time.sleep(0.05)
        except OSError:
            pass

    http_server.raw = drip
    started = time.monotonic()
    with build_client(LOOPBACK, timeout=0.4) as client, pytest.raises(httpx.ReadTimeout):
        client.get(http_server.url)
    assert time.monotonic() - started < 1.5


def test_connection_refused_is_an_ordinary_connect_error(closed_port: int) -> None:
    with build_client(LOOPBACK) as client, pytest.raises(httpx.ConnectError):
        client.get(f"http://127.0.0.1:{closed_port}/")


def test_unresolvable_name_is_a_connect_error() -> None:
    def nxdomain(host: str, port: int) -> list[AddrInfo]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    with build_client(resolver=nxdomain) as client, pytest.raises(httpx.ConnectError):
        client.get("http://nowhere.test/")


@pytest.mark.parametrize(
    "address",
    [
        "8.8.8.8",
        "1.1.1.1",
        "2606:4700:4700::1111",
        "::ffff:8.8.8.8",
        "2002:808:808::1",  # 6to4 form of 8.8.8.8
        "64:ff9b::808:808",  # NAT64 form of 8.8.8.8
        "2001:0:808:808::fefe:fefe",  # Teredo: server 8.8.8.8, client 1.1.1.1
    ],
)
def test_public_addresses_pass_the_check(address: str) -> None:
    assert check_address(address) is None


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("64:ff9b::7f00:1", "IPv6 form of 127.0.0.1: loopback"),  # NAT64
        ("2002:7f00:1::", "IPv6 form of 127.0.0.1: loopback"),  # 6to4
        ("2002:0a00:0001::", "IPv6 form of 10.0.0.1: private"),  # 6to4
        ("::ffff:169.254.169.254", "IPv6 form of 169.254.169.254: cloud metadata"),  # mapped
        ("2001:0:808:808::f5ff:fffe", "IPv6 form of 10.0.0.1: private"),  # Teredo client
        ("2001:0:a9fe:a9fe::fefe:fefe", "IPv6 form of 169.254.169.254: cloud metadata"),
        ("64:ff9b:1::808:808", "local-use NAT64"),  # the site's own layout: never guessed
        ("::7f00:1", "reserved"),  # deprecated IPv4-compatible form
        ("2001:db8::1", "documentation"),
        ("3fff::1", "documentation"),
        ("2001:2::1", "IETF protocol assignments"),
        ("4000::1", "outside the global unicast range"),
        ("fd00:ec2::254", "metadata"),
        ("255.255.255.255", "broadcast"),
        ("fe80::1%1", "link-local"),
    ],
)
def test_embedded_and_unusual_forms_are_refused(address: str, reason: str) -> None:
    found = check_address(address)
    assert found is not None and reason in found, found


def test_allow_list_covers_the_embedded_address() -> None:
    assert check_address("64:ff9b::7f00:1", parse_allowed_networks(["127.0.0.0/8"])) is None
    assert check_address("64:ff9b:1::a00:1", parse_allowed_networks(["64:ff9b:1::/48"])) is None
    assert check_address("2002:a00:1::", parse_allowed_networks(["127.0.0.0/8"])) is not None


def test_the_policy_does_not_depend_on_the_interpreters_address_flags(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Python releases disagree on is_private & co. (Debian's 3.11.2 puts 2002::/16 in it,
    3.11.7 does not): the guard must not consult them at all, so it decides alike on both."""
    samples = [
        "8.8.8.8",
        "10.1.2.3",
        "127.0.0.1",
        "169.254.169.254",
        "2002:808:808::1",
        "2002:a00:1::",
        "64:ff9b::7f00:1",
        "::ffff:169.254.169.254",
        "2606:4700:4700::1111",
        "fd12::1",
        "2001:0:808:808::fefe:fefe",
    ]
    before = [check_address(a) for a in samples]

    def consulted(self: object) -> bool:
        raise AssertionError("the guard consulted the interpreter's address flags")

    flags = ("is_private", "is_global", "is_reserved", "is_loopback", "is_link_local",
             "is_multicast", "is_unspecified", "is_site_local", "ipv4_mapped", "sixtofour",
             "teredo")  # fmt: skip
    for cls in (ipaddress.IPv4Address, ipaddress.IPv6Address):
        for flag in flags:
            if hasattr(cls, flag):
                monkeypatch.setattr(cls, flag, property(consulted))
    assert [check_address(a) for a in samples] == before
    assert before[0] is None and before[4] is None and before[8] is None
    assert all(before[i] is not None for i in (1, 2, 3, 5, 6, 7, 9))


@pytest.mark.parametrize(
    ("host", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("localhost", "loopback"),
        ("pager.localhost", "loopback"),
        ("LOCALHOST.", "loopback"),
        ("2130706433", "loopback"),  # 127.0.0.1 as one number: getaddrinfo accepts it
        ("0x7f.1", "loopback"),
        ("[::1]", "loopback"),
        ("169.254.169.254", "metadata"),
        ("0xa9fea9fe", "metadata"),
        ("10.0.0.1", "private"),
        ("[::ffff:192.168.1.1]", "private"),
    ],
)
def test_hosts_refused_when_a_url_is_saved(host: str, reason: str) -> None:
    found = host_problem(host)
    assert found is not None and reason in found and host in found


def test_names_are_left_to_the_connect_time_check() -> None:
    # No DNS when saving: what a name resolves to then says nothing about send time.
    assert host_problem("hooks.example.com") is None
    assert host_problem("8.8.8.8") is None
    assert host_problem("127.0.0.1", ["127.0.0.0/8"]) is None
    assert host_problem("localhost", ["127.0.0.0/8", "::1/128"]) is None


def test_allowed_networks_are_validated() -> None:
    assert [str(n) for n in parse_allowed_networks([" 127.0.0.0/8 ", "::1"])] == [
        "127.0.0.0/8",
        "::1/128",
    ]
    with pytest.raises(ValueError, match="invalid allowed network"):
        parse_allowed_networks(["localhost"])


def _self_signed(tmp_path: Path, name: str) -> tuple[Path, Path]:
    x509 = pytest.importorskip("cryptography.x509")
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def test_tls_uses_the_host_name_while_connecting_to_the_checked_ip(
    http_server: LocalHTTPServer, tmp_path: Path, connect_log: list[str]
) -> None:
    # The certificate names only hooks.warroom.test (no IP): the handshake succeeds only if
    # SNI and certificate checks use the URL's host, not the address we connected to.
    cert, key = _self_signed(tmp_path, "hooks.warroom.test")
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(cert, key)
    sni: list[str | None] = []
    server_context.sni_callback = lambda sock, name, ctx: sni.append(name)
    assert http_server.server is not None
    http_server.server.socket = server_context.wrap_socket(
        http_server.server.socket, server_side=True
    )
    trust = ssl.create_default_context(cafile=str(cert))
    resolver = _resolver(["127.0.0.1"], ["127.0.0.1"])
    with build_client(LOOPBACK, verify=trust, resolver=resolver) as client:
        good = client.get(f"https://hooks.warroom.test:{http_server.port}/secure")
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED|match"):
            client.get(f"https://other.warroom.test:{http_server.port}/")
    assert good.status_code == 200
    assert sni[0] == "hooks.warroom.test"
    assert set(connect_log) == {"127.0.0.1"}


# --- the same guard under requests (Apprise's HTTP stack) ---------------------------------------


def test_requests_inside_the_guard_cannot_reach_internal_addresses(
    http_server: LocalHTTPServer, connect_log: list[str]
) -> None:
    requests = pytest.importorskip("requests")
    with guarded_requests() as guard, pytest.raises(BlockedDestination):
        requests.post(f"{http_server.url}/hook", data=b"x", timeout=2)
    assert http_server.requests == [] and connect_log == []
    assert [e.address for e in guard.refused] == ["127.0.0.1"]
    # Outside a guarded block requests is left alone (Warroom's other users of it, if any).
    assert requests.get(http_server.url, timeout=2).status_code == 200
    assert len(http_server.requests) == 1


def test_requests_guard_checks_each_connection_and_pins_the_checked_address(
    http_server: LocalHTTPServer, connect_log: list[str]
) -> None:
    requests = pytest.importorskip("requests")
    resolver = _resolver(["127.0.0.1"], ["169.254.169.254"])
    url = f"http://rebind.test:{http_server.port}/"
    with guarded_requests(LOOPBACK, resolver=resolver) as guard:
        assert requests.get(url, timeout=2).status_code == 200
        with pytest.raises(BlockedDestination):
            requests.get(url, timeout=2)  # same name, rebound to the metadata address
    assert guard.connections == 1 and [e.address for e in guard.refused] == ["169.254.169.254"]
    assert connect_log == ["127.0.0.1"]
    assert http_server.requests[0].headers["Host"] == f"rebind.test:{http_server.port}"


def test_requests_guard_follows_no_redirect_inward(
    http_server: LocalHTTPServer, connect_log: list[str]
) -> None:
    requests = pytest.importorskip("requests")
    http_server.answer(302, location="http://10.0.0.1/admin")
    with guarded_requests(LOOPBACK), pytest.raises(BlockedDestination):
        requests.get(http_server.url, timeout=2)  # requests follows redirects by default
    assert len(http_server.requests) == 1 and set(connect_log) == {"127.0.0.1"}


def test_requests_guard_ignores_environment_proxies(
    http_server: LocalHTTPServer, closed_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A proxy would connect on our behalf, past the check: guarded requests go direct."""
    requests = pytest.importorskip("requests")
    proxy = f"http://127.0.0.1:{closed_port}"
    for name in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy"):
        monkeypatch.setenv(name, proxy)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    assert os.environ["HTTP_PROXY"] == proxy
    with pytest.raises(requests.exceptions.ProxyError):
        requests.get(http_server.url, timeout=2)  # unguarded: requests uses the proxy
    with guarded_requests(LOOPBACK):
        assert requests.get(http_server.url, timeout=2).status_code == 200
    assert len(http_server.requests) == 1


def test_requests_guard_keeps_tls_checks_on_the_host_name(
    http_server: LocalHTTPServer, tmp_path: Path, connect_log: list[str]
) -> None:
    # As for httpx above: connected to the checked IP, verified against the URL's host.
    requests = pytest.importorskip("requests")
    cert, key = _self_signed(tmp_path, "chat.warroom.test")
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(cert, key)
    sni: list[str | None] = []
    server_context.sni_callback = lambda sock, name, ctx: sni.append(name)
    assert http_server.server is not None
    http_server.server.socket = server_context.wrap_socket(
        http_server.server.socket, server_side=True
    )
    resolver = _resolver(["127.0.0.1"], ["127.0.0.1"])
    with guarded_requests(LOOPBACK, resolver=resolver):
        good = requests.get(f"https://chat.warroom.test:{http_server.port}/", verify=str(cert))
        with pytest.raises(requests.exceptions.SSLError):
            requests.get(f"https://other.warroom.test:{http_server.port}/", verify=str(cert))
    assert good.status_code == 200 and sni[0] == "chat.warroom.test"
    assert set(connect_log) == {"127.0.0.1"}
