"""Webhook signatures and signed action links."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from warroom.notify.signing import (
    ActionClaim,
    BadSignature,
    ExpiredLink,
    InvalidLink,
    StaleSignature,
    make_action_token,
    read_action_token,
    sign_webhook,
    verify_webhook_signature,
)

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
SECRET = "whsec_test_secret"
KEY = "instance-secret-key"
BODY = b'{"type":"incident.notification","incident_id":7}'


# --- webhook signatures -------------------------------------------------------------------


def test_signature_header_format_and_round_trip() -> None:
    header = sign_webhook(SECRET, BODY, T0)
    assert re.fullmatch(r"t=\d+,v1=[0-9a-f]{64}", header)
    assert header.startswith(f"t={int(T0.timestamp())},")
    verify_webhook_signature(SECRET, header, BODY, now=T0 + timedelta(seconds=3))


def test_altered_body_or_wrong_secret_is_rejected() -> None:
    header = sign_webhook(SECRET, BODY, T0)
    with pytest.raises(BadSignature):
        verify_webhook_signature(SECRET, header, BODY.replace(b"7", b"8"), now=T0)
    with pytest.raises(BadSignature):
        verify_webhook_signature("another-secret", header, BODY, now=T0)


def test_timestamp_is_covered_by_the_signature() -> None:
    header = sign_webhook(SECRET, BODY, T0)
    moved = re.sub(r"t=\d+", f"t={int(T0.timestamp()) + 600}", header)
    with pytest.raises(BadSignature):
        verify_webhook_signature(SECRET, moved, BODY, now=T0 + timedelta(seconds=600))


def test_replayed_request_is_rejected_as_stale() -> None:
    header = sign_webhook(SECRET, BODY, T0)
    verify_webhook_signature(SECRET, header, BODY, now=T0 + timedelta(seconds=300))
    with pytest.raises(StaleSignature):
        verify_webhook_signature(SECRET, header, BODY, now=T0 + timedelta(seconds=301))
    with pytest.raises(StaleSignature):  # from the future, beyond clock skew
        verify_webhook_signature(SECRET, header, BODY, now=T0 - timedelta(minutes=10))
    verify_webhook_signature(SECRET, header, BODY, now=T0 + timedelta(hours=1), tolerance=3600)


@pytest.mark.parametrize(
    "header",
    [None, "", "garbage", "t=abc,v1=00", "v1=" + "0" * 64, "t=1700000000", "t=١٢٣,v1=00"],
)
def test_malformed_headers_are_rejected(header: str | None) -> None:
    with pytest.raises(BadSignature):
        verify_webhook_signature(SECRET, header, BODY, now=T0)


def test_several_signatures_allow_secret_rotation() -> None:
    old = sign_webhook("old-secret", BODY, T0)
    new = sign_webhook(SECRET, BODY, T0)
    header = f"{old},v1={new.split('v1=')[1]}"
    verify_webhook_signature(SECRET, header, BODY, now=T0)
    verify_webhook_signature("old-secret", header, BODY, now=T0)


def test_naive_times_and_empty_secrets_are_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        sign_webhook(SECRET, BODY, datetime(2025, 1, 1))
    with pytest.raises(ValueError):
        sign_webhook("", BODY, T0)


# --- action links -------------------------------------------------------------------------


def _token(action: str = "ack", expires: datetime = T0 + timedelta(hours=1)) -> str:
    return make_action_token(KEY, action, 42, 1337, expires)  # type: ignore[arg-type]


def test_action_token_round_trip() -> None:
    token = _token()
    assert re.fullmatch(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+", token)  # URL-safe as it stands
    claim = read_action_token(KEY, token, now=T0, action="ack")
    assert claim == ActionClaim("ack", 42, 1337, T0 + timedelta(hours=1))
    assert read_action_token(KEY, _token("view"), now=T0).action == "view"


def test_altered_token_is_invalid() -> None:
    token = _token()
    payload, mac = token.split(".")
    forged_payload = make_action_token(KEY, "resolve", 42, 1337, T0).split(".")[0]
    for bad in (
        f"{forged_payload}.{mac}",  # other claim, old MAC
        f"{payload}.{mac[:-2]}{'A' if mac[-2] != 'A' else 'B'}{mac[-1]}",  # one MAC char changed
        f"{payload[:-1]}{'A' if payload[-1] != 'A' else 'B'}.{mac}",  # one payload char changed
        f"{payload}.{mac}=",
        f"{payload}{mac}",
        "",
        "not a token",
    ):
        with pytest.raises(InvalidLink):
            read_action_token(KEY, bad, now=T0)


def test_wrong_key_is_invalid() -> None:
    with pytest.raises(InvalidLink):
        read_action_token("some-other-key", _token(), now=T0)


def test_expired_token_is_reported_as_expired() -> None:
    expires = T0 + timedelta(minutes=30)
    token = _token(expires=expires)
    read_action_token(KEY, token, now=expires - timedelta(seconds=1))
    with pytest.raises(ExpiredLink) as caught:
        read_action_token(KEY, token, now=expires)
    assert caught.value.claim.incident_id == 1337
    assert not isinstance(caught.value, InvalidLink)


def test_token_for_another_action_is_invalid() -> None:
    with pytest.raises(InvalidLink, match="view"):
        read_action_token(KEY, _token("view"), now=T0, action="resolve")


def test_unknown_action_and_bad_ids_cannot_be_signed() -> None:
    with pytest.raises(ValueError, match="unknown action"):
        _token("delete")
    with pytest.raises(ValueError):
        make_action_token(KEY, "ack", -1, 1, T0)
    with pytest.raises(ValueError):
        make_action_token("", "ack", 1, 1, T0)
