"""The inbound SMTP listener (aiosmtpd): off unless `WARROOM_INBOUND_SMTP_PORT` is set.

Refusals happen at the SMTP level, so the sending server keeps (and bounces) what Warroom did
not take: an unknown recipient is 550 at RCPT, a message over `WARROOM_INBOUND_SMTP_MAX_BYTES`
is 552 while it is being sent (aiosmtpd stops reading it), a message without a subject is 550
at the end of DATA. A message is answered 250 only after its alert is committed through the
group committer; 451 (try again later) when intake is overloaded or the database is down.
A message to `<key>+report@…` is stored as a user report on the key's service (reports/
service.py, handed in by the app: reports sit above intake) and answered 250 once committed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from sqlalchemy import select

from warroom.alerts.service import IngestResult
from warroom.catalog.models import Integration, Service
from warroom.db.engine import Database
from warroom.errors import ApiError
from warroom.intake import email
from warroom.intake.committer import IntakeUnavailable
from warroom.intake.common import IntakeError, ParsedRequest

log = logging.getLogger("warroom.intake.email")
# Stores one report by mail and commits it: (service id, description, name, address).
ReportSink = Callable[[int, str, str, str], None]
MAX_RECIPIENTS = 20


class Handler:
    def __init__(
        self,
        db: Database,
        submit: Callable[[ParsedRequest], Awaitable[IngestResult]],
        dedup_rule: str,
        report: ReportSink | None = None,
    ) -> None:
        self.db = db
        self.submit = submit
        self.dedup_rule = dedup_rule
        self.report = report
        self.received = 0

    def _service_of(self, key: str) -> tuple[int, bool] | None:
        """(service id, archived) of an email integration's key; None for no such key."""
        with self.db.read_session() as session:
            found = session.execute(
                select(Service.id, Service.archived_at)
                .join(Integration, Integration.service_id == Service.id)
                .where(Integration.routing_key == key, Integration.type == email.SOURCE_TYPE)
            ).first()
        return None if found is None else (found[0], found[1] is not None)

    def _known(self, key: str) -> bool | None:
        """Whether the key is an email integration's; None if its service is archived."""
        found = self._service_of(key)
        if found is None:
            return False
        return None if found[1] else True

    def _store_report(self, recipient: str, data: bytes) -> str:
        """Store one report by mail: "" when committed, else the SMTP answer saying why not."""
        try:
            description, name, address = email.parse_report(data)
        except IntakeError as exc:
            return f"550 5.6.0 {exc.message}"
        found = self._service_of(email.routing_key_of(recipient))
        if found is None:
            return "550 5.1.1 No such integration"
        if found[1]:
            return "550 5.7.1 The service of this address is archived: it accepts no mail"
        if self.report is None:
            return "550 5.5.1 This Warroom takes no reports by mail"
        try:
            self.report(found[0], description, name, address)
        except ApiError as exc:
            return f"550 5.7.1 {exc.message}"
        except Exception:
            log.exception("a report by mail could not be stored")
            return "451 4.3.0 Warroom cannot store the report now; try again later"
        return ""

    async def handle_RCPT(  # noqa: N802 - aiosmtpd's hook name
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        if len(envelope.rcpt_tos) >= MAX_RECIPIENTS:
            return "452 4.5.3 Too many recipients"
        known = self._known(email.routing_key_of(address))
        if known is None:
            return "550 5.7.1 The service of this address is archived: it accepts no mail"
        if not known:
            return "550 5.1.1 No such integration: the local part is an email integration's key"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(  # noqa: N802
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        data = envelope.original_content or envelope.content or b""
        if isinstance(data, str):
            data = data.encode("utf-8", "replace")
        for recipient in envelope.rcpt_tos:
            if email.is_report_address(recipient):
                answer = await asyncio.to_thread(self._store_report, recipient, data)
                if answer:
                    return answer
                continue
            try:
                parsed = email.parse(data, recipient, self.dedup_rule)
            except IntakeError as exc:
                return f"550 5.6.0 {exc.message}"
            try:
                result = await self.submit(parsed)
            except IntakeUnavailable:
                return "451 4.3.0 Warroom cannot store the message now; try again later"
            if result.archived:
                return "550 5.7.1 The service of this address is archived: it accepts no mail"
            if result.refused is not None:
                return "550 5.1.1 No such integration"
        self.received += 1
        return "250 OK: stored"


class MailListener:
    def __init__(
        self,
        db: Database,
        submit: Callable[[ParsedRequest], Awaitable[IngestResult]],
        *,
        host: str,
        port: int,
        max_bytes: int,
        dedup_rule: str,
        report: ReportSink | None = None,
    ) -> None:
        self.handler = Handler(db, submit, dedup_rule, report)
        self.controller = Controller(
            self.handler,
            hostname=host,
            port=port,
            data_size_limit=max_bytes,
            server_hostname="warroom",
            ready_timeout=10,
        )

    @property
    def port(self) -> int:
        server = getattr(self.controller, "server", None)
        sockets = getattr(server, "sockets", None)
        if sockets:
            return int(sockets[0].getsockname()[1])
        return int(self.controller.port)

    def start(self) -> None:
        self.controller.start()
        log.info("inbound SMTP listener on %s:%s", self.controller.hostname, self.port)

    def stop(self) -> None:
        self.controller.stop()
