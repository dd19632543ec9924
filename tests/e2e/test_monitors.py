"""Monitors in the real server process: `curl` pings a heartbeat; a check watches a local HTTP
server that the test turns off."""

from __future__ import annotations

import smtplib
import subprocess
import time
from collections.abc import Iterator
from email.message import EmailMessage
from typing import Any

import httpx
import pytest

from tests.e2e.server import Server, run_server
from tests.monitors.conftest import Website, serve_website
from tests.pgserver import free_port

# The demo's services; the first one is enough.
ALLOW_LOCAL = {"WARROOM_OUTBOUND_ALLOW_NETWORKS": "127.0.0.0/8"}


@pytest.fixture
def website() -> Iterator[Website]:
    with serve_website() as site:
        yield site


def _service_id(server: Server) -> int:
    r = httpx.get(f"{server.base_url}/api/v1/services", headers=server.auth(), timeout=10)
    return int(r.json()["items"][0]["id"])


def _alerts(server: Server, dedup_key: str) -> list[dict[str, Any]]:
    r = httpx.get(f"{server.base_url}/api/v1/alerts?limit=200", headers=server.auth(), timeout=10)
    return [a for a in r.json()["items"] if a["dedup_key"] == dedup_key]


def _curl(*args: str) -> str:
    done = subprocess.run(
        ["curl", "-fsS", "--max-time", "10", *args], capture_output=True, text=True, check=True
    )
    return done.stdout


def _wait(predicate: Any, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError("timed out waiting")


def test_curl_pings_a_heartbeat_and_a_check_sees_the_site_go_down(
    own_database_url: str, website: Website
) -> None:
    with run_server(own_database_url, env=ALLOW_LOCAL, timeout=90) as server:
        service_id = _service_id(server)
        hb = httpx.post(
            f"{server.base_url}/api/v1/heartbeats",
            json={"service_id": service_id, "name": "backup", "period_seconds": 3600},
            headers=server.auth(),
        ).json()
        url = hb["ping_url"]
        assert _curl(url) == "OK"
        assert _curl("-X", "POST", "--data-binary", "exit 1: disk full", url + "/1") == "OK"
        key = f"heartbeat:{hb['id']}"
        [alert] = _alerts(server, key)
        assert alert["status"] == "triggered" and alert["incident_id"]
        assert _curl("-I", url).startswith("HTTP/1.1 200")  # HEAD works too
        assert _alerts(server, key)[0]["status"] == "resolved"
        unknown = subprocess.run(
            ["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", url + "x"],
            capture_output=True,
            text=True,
        )
        assert unknown.stdout == "404"
        # The access log never shows the ping key.
        assert hb["ping_url"].rsplit("/", 1)[1] not in server.output()

        check = httpx.post(
            f"{server.base_url}/api/v1/checks",
            json={
                "service_id": service_id,
                "name": "shop",
                "kind": "http",
                "target": website.url,
                "interval_seconds": 10,
                "confirm_failures": 1,
                "confirm_window": 1,
                "timeout_seconds": 2,
            },
            headers=server.auth(),
        ).json()
        check_url = f"{server.base_url}/api/v1/checks/{check['id']}"

        def status() -> str:
            return str(httpx.get(check_url, headers=server.auth()).json()["status"])

        _wait(lambda: status() == "up")
        assert website.hits
        website.turn_off()
        _wait(lambda: status() == "down", timeout=40)
        [alert] = _alerts(server, f"check:{check['id']}")
        assert alert["status"] == "triggered" and "shop" in alert["summary"]


def test_logger_sends_to_the_syslog_port_and_smtplib_to_the_mail_port(
    own_database_url: str,
) -> None:
    """util-linux `logger` over UDP (RFC 5424) and TCP (RFC 3164, octet counting); Python's
    smtplib to the inbound SMTP listener."""
    udp_port, tcp_port, smtp_port = free_port(), free_port(), free_port()
    env = {
        "WARROOM_SYSLOG_UDP_PORT": str(udp_port),
        "WARROOM_SYSLOG_TCP_PORT": str(tcp_port),
        "WARROOM_INBOUND_SMTP_PORT": str(smtp_port),
    }
    with run_server(own_database_url, env=env, timeout=90) as server:
        service_id = _service_id(server)
        rule = httpx.post(
            f"{server.base_url}/api/v1/log-rules",
            json={
                "service_id": service_id,
                "name": "payment errors",
                "conditions": [
                    {"field": "app", "op": "eq", "value": "payments"},
                    {"field": "message", "op": "regex", "value": "declined|timeout"},
                ],
                "threshold": 2,
                "window_seconds": 60,
                "group_by": "host",
            },
            headers=server.auth(),
        ).json()
        time.sleep(6)  # the receiver reloads its rules every 5 s
        base = ["logger", "-n", "127.0.0.1", "-t", "payments", "--id=42"]
        subprocess.run([*base, "-d", "-P", str(udp_port), "--rfc5424", "card declined"], check=True)
        subprocess.run(
            [*base, "-T", "-P", str(tcp_port), "--rfc3164", "--octet-count", "gateway timeout"],
            check=True,
        )
        subprocess.run([*base, "-d", "-P", str(udp_port), "all fine"], check=True)

        def alerts() -> list[dict[str, Any]]:
            r = httpx.get(f"{server.base_url}/api/v1/alerts", headers=server.auth())
            return [a for a in r.json()["items"] if a["dedup_key"].startswith("logrule:")]

        _wait(lambda: len(alerts()) == 1)
        [alert] = alerts()
        assert alert["dedup_key"].startswith(f"logrule:{rule['id']}:")
        assert "payment errors" in alert["summary"]

        mail = httpx.post(
            f"{server.base_url}/api/v1/integrations",
            json={"service_id": service_id, "type": "email", "name": "mail"},
            headers=server.auth(),
        ).json()
        msg = EmailMessage()
        msg["From"] = "cron@example.com"
        msg["Subject"] = "PROBLEM: backup 3 failed"
        msg.set_content("rsync exited with 23")
        with smtplib.SMTP("127.0.0.1", smtp_port, timeout=10) as smtp:
            smtp.send_message(msg, to_addrs=[f"{mail['routing_key']}@warroom.example"])
            msg.replace_header("Subject", "RECOVERY: backup 4 failed")
            with pytest.raises(smtplib.SMTPRecipientsRefused):
                smtp.send_message(msg, to_addrs=["nobody@warroom.example"])
        r = httpx.get(f"{server.base_url}/api/v1/alerts", headers=server.auth())
        [mailed] = [a for a in r.json()["items"] if a["dedup_key"].startswith("email:")]
        assert mailed["summary"] == "PROBLEM: backup 3 failed" and mailed["status"] == "triggered"
