"""Tables of on-call: schedules, their layers and members, overrides, escalation policies."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from warroom.db.base import Base, JSONType, UTCDateTime, utcnow

ROTATIONS = ("hourly", "daily", "weekly", "custom")
OVERRIDE_KINDS = ("add", "remove", "replace")
TARGET_TYPES = ("user", "schedule", "team")


class Schedule(Base):
    __tablename__ = "schedules"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    time_zone: Mapped[str] = mapped_column(String(64))
    team_id: Mapped[int | None] = mapped_column(
        ForeignKey("teams.id", ondelete="SET NULL"), default=None
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ScheduleLayer(Base):
    """A rotation; a higher position wins over lower ones where it has someone on call."""

    __tablename__ = "schedule_layers"
    __table_args__ = (
        CheckConstraint(f"rotation IN {ROTATIONS!r}", name="rotation"),
        CheckConstraint("shift_seconds IS NULL OR shift_seconds > 0", name="shift_positive"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    schedule_id: Mapped[int] = mapped_column(
        ForeignKey("schedules.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(120), default="")
    rotation: Mapped[str] = mapped_column(String(8))
    # Custom rotations: the shift length in wall-clock seconds.
    shift_seconds: Mapped[int | None] = mapped_column(Integer, default=None)
    # Anchor of the rotation (first handoff), wall-clock time in the schedule's zone,
    # ISO "YYYY-MM-DDTHH:MM[:SS]" without offset; the handoff time of day comes from it.
    start_local: Mapped[str] = mapped_column(String(32))
    end_local: Mapped[str | None] = mapped_column(String(32), default=None)
    # [{"weekdays": [0..6], "start": "HH:MM", "end": "HH:MM"}], Monday = 0.
    restrictions: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)


class LayerMember(Base):
    __tablename__ = "layer_members"
    __table_args__ = (UniqueConstraint("layer_id", "position"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    layer_id: Mapped[int] = mapped_column(
        ForeignKey("schedule_layers.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(Integer)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))


class ScheduleOverride(Base):
    __tablename__ = "schedule_overrides"
    __table_args__ = (
        CheckConstraint(f"kind IN {OVERRIDE_KINDS!r}", name="kind"),
        CheckConstraint("end_at > start_at", name="positive"),
        Index("ix_overrides_schedule_end", "schedule_id", "end_at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    schedule_id: Mapped[int] = mapped_column(ForeignKey("schedules.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(8))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    replacement_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), default=None
    )
    start_at: Mapped[datetime] = mapped_column(UTCDateTime)
    end_at: Mapped[datetime] = mapped_column(UTCDateTime)
    note: Mapped[str] = mapped_column(Text, default="")
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class EscalationPolicy(Base):
    __tablename__ = "escalation_policies"
    __table_args__ = (CheckConstraint("repeat BETWEEN 0 AND 9", name="repeat"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    team_id: Mapped[int | None] = mapped_column(
        ForeignKey("teams.id", ondelete="SET NULL"), default=None
    )
    # How many more times the whole list of steps runs if nobody acknowledges.
    repeat: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class EscalationStep(Base):
    __tablename__ = "escalation_steps"
    __table_args__ = (
        UniqueConstraint("policy_id", "position"),
        CheckConstraint("delay_seconds >= 0", name="delay"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    policy_id: Mapped[int] = mapped_column(
        ForeignKey("escalation_policies.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(Integer)
    # Time to wait for an acknowledgement before the next step is paged.
    delay_seconds: Mapped[int] = mapped_column(Integer, default=300)


class EscalationTarget(Base):
    __tablename__ = "escalation_targets"
    __table_args__ = (CheckConstraint(f"target_type IN {TARGET_TYPES!r}", name="target_type"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    step_id: Mapped[int] = mapped_column(
        ForeignKey("escalation_steps.id", ondelete="CASCADE"), index=True
    )
    target_type: Mapped[str] = mapped_column(String(8))
    # A user, schedule or team id; kept without a foreign key because it points at one of
    # three tables; deleting a target is checked by the service layer.
    target_id: Mapped[int] = mapped_column(Integer)
