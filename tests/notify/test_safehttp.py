"""safehttp: internal destinations refused at connect time, redirects not followed, allow-list."""

from __future__ import annotations

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
    ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "::ffff:8.8.8.8", "2002:808:808::1"],
)
def test_public_addresses_pass_the_check(address: str) -> None:
    assert check_address(address) is None


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("64:ff9b::7f00:1", "loopback"),  # NAT64 form of 127.0.0.1
        ("2002:7f00:1::", "loopback"),  # 6to4 form of 127.0.0.1
        ("::7f00:1", "reserved"),  # deprecated IPv4-compatible form
        ("fd00:ec2::254", "metadata"),
        ("255.255.255.255", "broadcast"),
        ("fe80::1%1", "link-local"),
    ],
)
def test_embedded_and_unusual_forms_are_refused(address: str, reason: str) -> None:
    found = check_address(address)
    assert found is not None and reason in found


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
