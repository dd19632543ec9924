"""Secrets: argon2 password hashes, API tokens (stored as SHA-256) and routing keys."""

from __future__ import annotations

import hashlib
import re
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()
TOKEN_PREFIX = "wr_"  # noqa: S105 - a public prefix, not a secret
# Intake URLs and heartbeat ping URLs carry their credential in the path.
_ROUTING_KEY_URL = re.compile(r"(/integrations/[a-z]+/|/ping/|/logs/)[^/?\s\"]+")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    if not password_hash:
        return False
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def new_api_token() -> str:
    # 256 bits from the OS CSPRNG; the prefix lets secret scanners recognise a leaked token.
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_routing_key() -> str:
    """32 hex characters (128 bits), the shape PagerDuty integration keys have."""
    return secrets.token_hex(16)


def redact_routing_keys(text: str) -> str:
    """Routing keys in intake URLs are credentials: keep them out of logs."""
    return _ROUTING_KEY_URL.sub(r"\1[redacted]", text)
