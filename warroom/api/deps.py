"""Request dependencies: the database session and the authenticated user with their role."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy import select, update
from sqlalchemy.exc import DataError, SQLAlchemyError
from sqlalchemy.orm import Session

from warroom.catalog.models import ApiToken, User
from warroom.common.schemas import MAX_ID
from warroom.db.base import utcnow
from warroom.db.engine import Database
from warroom.errors import ApiError, unavailable
from warroom.security import token_digest

ROLE_RANK = {"stakeholder": 0, "responder": 1, "admin": 2}
# last_used_at is informative; writing it on every call would turn reads into writes.
TOKEN_TOUCH_INTERVAL = timedelta(minutes=5)


def get_db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


# An id beyond the column's range fails in the driver (OverflowError on SQLite, DataError on
# PostgreSQL); that is the client's mistake, not a 500.
def _out_of_range() -> ApiError:
    return ApiError(422, "a value in the request is out of range (an id that cannot exist?)")


def write_session(request: Request, db: Annotated[Database, Depends(get_db)]) -> Iterator[Session]:
    """The request's unit of work: committed after the endpoint returned and its reply was
    built, and before the reply is sent (the dependency's scope is "function"), so a 2xx
    always means stored. A commit that fails answers 503 and nothing of the request stays."""
    session = db.open_session()
    try:
        try:
            yield session
        except (OverflowError, DataError):
            raise _out_of_range() from None
        try:
            session.commit()
        except SQLAlchemyError as exc:
            logging.getLogger("warroom").warning("commit failed: %s", exc)
            raise unavailable(
                "the change could not be stored (the database did not accept the commit); "
                "nothing was changed, try again"
            ) from None
    finally:
        session.close()  # rolls back whatever was not committed
    # A write may have created due work (a declared incident's first page, a mobilisation).
    request.app.state.wake()


def read_session(db: Annotated[Database, Depends(get_db)]) -> Iterator[Session]:
    with db.read_session() as session:
        try:
            yield session
        except (OverflowError, DataError):
            raise _out_of_range() from None


@dataclass(frozen=True)
class Principal:
    id: int
    username: str
    name: str
    role: str

    def at_least(self, role: str) -> bool:
        return ROLE_RANK[self.role] >= ROLE_RANK[role]


def authenticate(request: Request, db: Annotated[Database, Depends(get_db)]) -> Principal:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    unauthorized = {"WWW-Authenticate": "Bearer"}
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(
            401,
            "authentication required: send 'Authorization: Bearer <API token>'",
            headers=unauthorized,
        )
    digest = token_digest(token.strip())
    with db.read_session() as session:
        row = session.execute(
            select(
                ApiToken.id,
                ApiToken.last_used_at,
                User.id,
                User.username,
                User.name,
                User.role,
                User.active,
            )
            .join(User, User.id == ApiToken.user_id)
            .where(ApiToken.token_hash == digest, ApiToken.revoked_at.is_(None))
        ).first()
    if row is None or not row[6]:
        raise ApiError(401, "invalid or revoked API token", headers=unauthorized)
    now = utcnow()
    if row[1] is None or now - row[1] > TOKEN_TOUCH_INTERVAL:
        touch_token(db, row[0], now)
    return Principal(row[2], row[3], row[4], row[5])


def touch_token(db: Database, token_id: int, now: datetime) -> None:
    """Records when a token was last used, best effort: only if the writer lock is free at
    once (a read must not queue behind intake's commits for an informative column) and never
    failing the request (a locked or full database still lets reads answer)."""
    stale = now - TOKEN_TOUCH_INTERVAL
    try:
        with db.session(writer_wait=0) as session:
            # Only if still due (parallel requests of one client write once, not each), and
            # skipping a row another transaction has locked (PostgreSQL; a revocation, say).
            due = (
                select(ApiToken.id)
                .where(
                    ApiToken.id == token_id,
                    (ApiToken.last_used_at.is_(None)) | (ApiToken.last_used_at < stale),
                )
                .with_for_update(skip_locked=True)
            )
            session.execute(update(ApiToken).where(ApiToken.id.in_(due)).values(last_used_at=now))
    except SQLAlchemyError as exc:
        logging.getLogger("warroom").debug("token last_used_at not written: %s", exc)


def require(role: str):  # type: ignore[no-untyped-def]
    def check(principal: Annotated[Principal, Depends(authenticate)]) -> Principal:
        if not principal.at_least(role):
            raise ApiError(403, f"this needs the {role} role; you are a {principal.role}")
        return principal

    check.__name__ = f"require_{role}"
    return check


Reader = Annotated[Principal, Depends(require("stakeholder"))]
Responder = Annotated[Principal, Depends(require("responder"))]
Admin = Annotated[Principal, Depends(require("admin"))]
ReadDB = Annotated[Session, Depends(read_session)]
# scope="function": the commit runs before the reply is sent. With the default ("request") the
# installed FastAPI runs it after the reply, and a failed commit would still have answered 2xx.
WriteDB = Annotated[Session, Depends(write_session, scope="function")]


def path_id(params: dict[str, Any], name: str) -> int:
    """A path id read before FastAPI validates the path (this dependency runs first): the same
    bounds as `PathId`, and the same 422 instead of an error deep in the database."""
    try:
        value = int(params[name])
    except (TypeError, ValueError):
        raise ApiError(422, f"{name} must be a whole number") from None
    if not 1 <= value <= MAX_ID:
        raise ApiError(422, f"{name} must be between 1 and {MAX_ID}")
    return value


def _service_manager(request: Request, principal: Responder, session: ReadDB) -> Principal:
    """An admin, or a responder of the team owning the service of the path (its service_id,
    or its integration_id's service). A dependency: it refuses before the body is read."""
    from warroom.catalog import service as catalog
    from warroom.catalog.models import Integration

    params = request.path_params
    if "service_id" in params:
        service_id = path_id(params, "service_id")
    else:
        integ = session.get(Integration, path_id(params, "integration_id"))
        if integ is None:
            raise ApiError(404, f"integration {params['integration_id']} does not exist")
        service_id = integ.service_id
    svc = catalog.get_service(session, service_id)
    catalog.check_service_manager(session, svc, principal.id, principal.role)
    return principal


# Path routes of a service's setup (ADR 10).
ServiceManager = Annotated[Principal, Depends(_service_manager)]
