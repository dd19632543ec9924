"""Inbound email as an intake format: one message is one signal of an "email" integration.

The routing key is the recipient's local part (`<key>@warroom.example`); the subject is the
summary, the plain-text body (or the HTML one, as text) the details; the dedup key comes from
a rule (`WARROOM_EMAIL_DEDUP`): the subject with its numbers stripped (the default, so
"Disk 91% full on db-1" and "Disk 95% full on db-1" are one alert), the whole subject, or the
Message-ID (every mail its own alert); a leading state word (PROBLEM, RECOVERY, ...) is not
part of the key. A subject starting with RESOLVED, RECOVERY or OK
resolves the alert of the same key, as many monitoring tools write their recovery mails.

Mail to `<key>+report@…` is a user report on the integration's service instead of an alert
("something is wrong with …" from a person, not a tool): subject and body are its description,
the sender's address is where they are told when the incident resolves.
"""

from __future__ import annotations

import hashlib
import re
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any

from warroom.alerts.logic import Signal
from warroom.intake.common import MAX_DEDUP_KEY, MAX_SUMMARY, IntakeError, ParsedRequest

SOURCE_TYPE = "email"
DEDUP_RULES = ("subject_without_numbers", "subject", "message_id")
MAX_BODY_CHARS = 10_000
_RESOLVED = re.compile(r"^\W*(?:re:\s*)?(?:resolved|recovery|recovered|ok)\b", re.IGNORECASE)
# The state words monitoring mails put first ("PROBLEM: x" and "RECOVERY: x" are one alert).
_STATE_PREFIX = re.compile(
    r"^\W*(?:re:\s*)?(?:problem|recovery|recovered|resolved|ok|alert|firing)\b\W*", re.IGNORECASE
)
_NUMBERS = re.compile(r"\d+(?:[.,]\d+)*")
_TAGS = re.compile(r"<[^>]*>")
_SPACE = re.compile(r"\s+")
_CRITICAL = re.compile(r"\b(?:critical|crit|emergency|sev-?1|p1)\b", re.IGNORECASE)
_WARNING = re.compile(r"\b(?:warning|warn)\b", re.IGNORECASE)


REPORT_TAG = "report"
MAX_REPORT_CHARS = 5000  # as the API's ReportIn.description


def is_report_address(address: str) -> bool:
    """`<key>+report@host`: a person's report, not a tool's alert."""
    local = address.strip().strip("<>").rpartition("@")[0] or address
    _, plus, tag = local.partition("+")
    return bool(plus) and tag.strip().lower() == REPORT_TAG


def parse_report(data: bytes) -> tuple[str, str, str]:
    """(description, reporter name, reporter address) of a report by mail; IntakeError when
    it says nothing."""
    from email.utils import parseaddr

    msg = BytesParser(policy=policy.default).parsebytes(data)
    assert isinstance(msg, EmailMessage)
    subject = _SPACE.sub(" ", str(msg.get("subject", "") or "")).replace("\x00", "").strip()
    body = _text(msg)
    description = "\n\n".join(part for part in (subject, body) if part)[:MAX_REPORT_CHARS]
    if not description.strip():
        raise IntakeError(400, "the report has neither a subject nor a text", [])
    name, address = parseaddr(str(msg.get("reply-to", "") or msg.get("from", "") or ""))
    address = address if "@" in address and len(address) <= 320 else ""
    return description, (name or address or "Someone by mail")[:200], address


def routing_key_of(address: str) -> str:
    """The local part of `key@host` (lower-cased: mail systems may change its case; keys are
    lower-case hex)."""
    local = address.strip().strip("<>").rpartition("@")[0] or address
    return local.split("+", 1)[0].strip().lower()


def _text(msg: EmailMessage) -> str:
    part = msg.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    try:
        content = part.get_content()
    except (LookupError, ValueError):
        payload = part.get_payload(decode=True)
        content = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
    if not isinstance(content, str):
        return ""
    if part.get_content_subtype() == "html":
        content = _SPACE.sub(" ", _TAGS.sub(" ", content))
    return content.replace("\x00", "").strip()


def dedup_key(rule: str, subject: str, message_id: str) -> str:
    if rule == "message_id" and message_id:
        base = message_id
    elif rule == "subject":
        base = subject
    else:
        base = _SPACE.sub(" ", _NUMBERS.sub("#", subject)).strip()
    base = _STATE_PREFIX.sub("", base).strip() or base
    key = "email:" + base.lower()
    if len(key) > MAX_DEDUP_KEY:
        key = "email:" + hashlib.sha256(base.encode()).hexdigest()
    return key


def parse(data: bytes, recipient: str, rule: str = DEDUP_RULES[0]) -> ParsedRequest:
    msg = BytesParser(policy=policy.default).parsebytes(data)
    assert isinstance(msg, EmailMessage)
    subject = _SPACE.sub(" ", str(msg.get("subject", "") or "")).replace("\x00", "").strip()
    if not subject:
        raise IntakeError(400, "the message has no subject (it becomes the alert's summary)", [])
    message_id = str(msg.get("message-id", "") or "").strip()
    body = _text(msg)
    attachments: list[dict[str, Any]] = [
        {"filename": part.get_filename() or "", "type": part.get_content_type()}
        for part in msg.iter_attachments()
    ]
    resolved = _RESOLVED.match(subject) is not None
    severity = (
        "critical"
        if _CRITICAL.search(subject)
        else "warning"
        if _WARNING.search(subject)
        else "error"
    )
    signal = Signal(
        action="resolve" if resolved else "trigger",
        dedup_key=dedup_key(rule, subject, message_id),
        severity=severity,
        summary=subject[:MAX_SUMMARY],
        source=str(msg.get("from", "") or "")[:255],
        details={
            "from": str(msg.get("from", "") or ""),
            "to": recipient,
            "message_id": message_id,
            "body": body[:MAX_BODY_CHARS],
            "body_truncated": len(body) > MAX_BODY_CHARS,
            "attachments": attachments[:20],
        },
    )
    return ParsedRequest(SOURCE_TYPE, routing_key_of(recipient), [signal])
