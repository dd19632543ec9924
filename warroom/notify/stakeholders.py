"""Stakeholder lists: who outside the response is told about incidents on a service or a team.

A list belongs to one service or one team and has a priority threshold (default P2): incidents
that reach it, and their public updates, are told to every member. A member is a person in
Warroom (reached through their own contact methods, low urgency) or an address of a channel
(email, webhook, Apprise URL), checked by the channel registry when it is saved. Webhook
members get a signing secret, shown once when they are added.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, Text, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from warroom.catalog.models import Service, Team, User
from warroom.db.base import Base, UTCDateTime
from warroom.errors import ApiError
from warroom.notify import channels

# Channels a member address may use: a list member is told, never paged, so no SMS/voice
# (a phone call about someone else's incident) and no demo console.
MEMBER_CHANNELS = ("email", "webhook", "apprise")
DEFAULT_THRESHOLD = 2


class StakeholderList(Base):
    __tablename__ = "stakeholder_lists"
    __table_args__ = (
        CheckConstraint(
            "(service_id IS NULL) <> (team_id IS NULL)", name="one_service_or_one_team"
        ),
        CheckConstraint("min_priority BETWEEN 1 AND 5", name="min_priority"),
        Index("ix_stakeholder_lists_service", "service_id"),
        Index("ix_stakeholder_lists_team", "team_id"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    service_id: Mapped[int | None] = mapped_column(
        ForeignKey("services.id", ondelete="CASCADE"), default=None
    )
    team_id: Mapped[int | None] = mapped_column(
        ForeignKey("teams.id", ondelete="CASCADE"), default=None
    )
    # Incidents of this priority or higher (P1 is highest) are told; P2 by default.
    min_priority: Mapped[int] = mapped_column(Integer, default=DEFAULT_THRESHOLD)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class StakeholderMember(Base):
    __tablename__ = "stakeholder_members"
    __table_args__ = (
        CheckConstraint("(user_id IS NULL) <> (address IS NULL)", name="one_person_or_one_address"),
        CheckConstraint(
            f"channel IS NULL OR channel IN {MEMBER_CHANNELS!r}", name="member_channel"
        ),
        Index("ix_stakeholder_members_list", "list_id"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    list_id: Mapped[int] = mapped_column(ForeignKey("stakeholder_lists.id", ondelete="CASCADE"))
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), default=None
    )
    channel: Mapped[str | None] = mapped_column(String(channels.NAME_LENGTH), default=None)
    address: Mapped[str | None] = mapped_column(Text, default=None)
    # Webhooks: the HMAC key the receiver verifies `Warroom-Signature` with.
    secret: Mapped[str | None] = mapped_column(String(128), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


def get_list(session: Session, list_id: int) -> StakeholderList:
    found = session.get(StakeholderList, list_id)
    if found is None:
        raise ApiError(404, f"stakeholder list {list_id} does not exist")
    return found


def _check_owner(session: Session, service_id: int | None, team_id: int | None) -> None:
    if (service_id is None) == (team_id is None):
        raise ApiError(422, "a stakeholder list belongs to exactly one service or one team")
    if service_id is not None and session.get(Service, service_id) is None:
        raise ApiError(422, f"service {service_id} does not exist")
    if team_id is not None and session.get(Team, team_id) is None:
        raise ApiError(422, f"team {team_id} does not exist")


def create_list(
    session: Session,
    now: datetime,
    *,
    name: str,
    service_id: int | None,
    team_id: int | None,
    min_priority: int = DEFAULT_THRESHOLD,
) -> StakeholderList:
    _check_owner(session, service_id, team_id)
    row = StakeholderList(
        name=name,
        service_id=service_id,
        team_id=team_id,
        min_priority=min_priority,
        created_at=now,
    )
    session.add(row)
    session.flush()
    return row


def update_list(session: Session, list_id: int, changes: dict[str, object]) -> StakeholderList:
    row = get_list(session, list_id)
    service_id = changes.get("service_id", row.service_id)
    team_id = changes.get("team_id", row.team_id)
    if "service_id" in changes or "team_id" in changes:
        _check_owner(
            session,
            service_id if isinstance(service_id, int) else None,
            team_id if isinstance(team_id, int) else None,
        )
    for name, value in changes.items():
        setattr(row, name, value)
    session.flush()
    return row


def delete_list(session: Session, list_id: int) -> None:
    """A list and its members (their secrets with them)."""
    session.delete(get_list(session, list_id))
    session.flush()


def add_member(
    session: Session,
    list_id: int,
    now: datetime,
    *,
    user_id: int | None,
    channel: str | None,
    address: str | None,
    allowed_networks: Sequence[str] = (),
) -> StakeholderMember:
    """A person in Warroom, or an address the channel registry accepts (a webhook member gets
    a new signing secret)."""
    get_list(session, list_id)
    if (user_id is None) == (address is None) or (user_id is not None and channel):
        raise ApiError(422, "a member is either a user_id or a channel and an address")
    secret = None
    if user_id is not None:
        user = session.get(User, user_id)
        if user is None or not user.active:
            raise ApiError(422, f"user {user_id} does not exist or is deactivated")
        channel = None
    else:
        if channel not in MEMBER_CHANNELS:
            raise ApiError(
                422,
                f"a member address is one of: {', '.join(MEMBER_CHANNELS)}",
                [{"field": "channel", "message": "not a stakeholder channel"}],
            )
        problem = channels.address_problem(channel, address or "", tuple(allowed_networks))
        if problem:
            raise ApiError(422, problem, [{"field": "address", "message": problem}])
        if channels.CHANNELS[channel].signed:
            secret = secrets.token_hex(32)
    member = StakeholderMember(
        list_id=list_id,
        user_id=user_id,
        channel=channel,
        address=address,
        secret=secret,
        created_at=now,
    )
    session.add(member)
    session.flush()
    return member


def remove_member(session: Session, list_id: int, member_id: int) -> None:
    member = session.get(StakeholderMember, member_id)
    if member is None or member.list_id != list_id:
        raise ApiError(404, f"member {member_id} is not on stakeholder list {list_id}")
    session.delete(member)


def members_of(session: Session, list_ids: Sequence[int]) -> list[StakeholderMember]:
    if not list_ids:
        return []
    return list(
        session.scalars(
            select(StakeholderMember)
            .where(StakeholderMember.list_id.in_(list_ids))
            .order_by(StakeholderMember.id)
        )
    )


def lists_for(
    session: Session, service_ids: Sequence[int], team_ids: Sequence[int]
) -> list[StakeholderList]:
    """The lists of these services and of these teams."""
    if not service_ids and not team_ids:
        return []
    return list(
        session.scalars(
            select(StakeholderList)
            .where(
                StakeholderList.service_id.in_(list(service_ids))
                | StakeholderList.team_id.in_(list(team_ids))
            )
            .order_by(StakeholderList.id)
        )
    )
