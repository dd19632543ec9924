"""Tables of reviews: the review of an incident, its reviewers, starred timeline entries,
action items and responder feedback.

The review stores only what people wrote (the blameless template, the workflow); everything
drawn from the record (key times, roles, pages, alerts) is read again each time the draft is
shown, so a correction (the impact start is the incident's own, corrected through the incidents
service) moves the durations.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from warroom.db.base import Base, BigId, UTCDateTime, utcnow

REVIEW_STATUSES = ("draft", "in_review", "published")
ACTION_ITEM_STATUSES = ("open", "in_progress", "done")
# The blameless template, in the order the review shows it: (field, heading, prompt).
SECTIONS = (
    (
        "summary",
        "Summary",
        "What happened, in two or three sentences, for someone who was not there.",
    ),
    ("what_happened", "What happened", "The story in order; the timeline below has the times."),
    (
        "contributing_factors",
        "Contributing factors",
        "Conditions that made this possible or worse (not who).",
    ),
    ("went_well", "What went well", ""),
    ("went_badly", "What went badly", ""),
    ("got_lucky", "Where we got lucky", ""),
    ("lessons", "Lessons", "What we take away; each change we commit to is an action item."),
    (
        "public_summary",
        "Public summary (status page)",
        "Shown with this incident on the public status page once the review is published, "
        "for customers: what they saw, why, what we changed. Leave empty to publish nothing.",
    ),
)
SECTION_FIELDS = tuple(name for name, _h, _p in SECTIONS)


class Review(Base):
    __tablename__ = "reviews"
    __table_args__ = (
        CheckConstraint(f"status IN {REVIEW_STATUSES!r}", name="status"),
        Index("ix_reviews_status_due", "status", "due_at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    # One review per incident.
    incident_id: Mapped[int] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), unique=True
    )
    status: Mapped[str] = mapped_column(String(16), default="draft")
    summary: Mapped[str] = mapped_column(Text, default="")
    what_happened: Mapped[str] = mapped_column(Text, default="")
    contributing_factors: Mapped[str] = mapped_column(Text, default="")
    went_well: Mapped[str] = mapped_column(Text, default="")
    went_badly: Mapped[str] = mapped_column(Text, default="")
    got_lucky: Mapped[str] = mapped_column(Text, default="")
    lessons: Mapped[str] = mapped_column(Text, default="")
    public_summary: Mapped[str] = mapped_column(Text, default="", server_default="")
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    published_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )


class ReviewReviewer(Base):
    __tablename__ = "review_reviewers"
    review_id: Mapped[int] = mapped_column(
        ForeignKey("reviews.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    added_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class StarredEntry(Base):
    """A timeline entry starred for the review, with an optional note (the entry itself is
    append-only and never changes)."""

    __tablename__ = "review_starred_entries"
    __table_args__ = (UniqueConstraint("review_id", "timeline_event_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    review_id: Mapped[int] = mapped_column(ForeignKey("reviews.id", ondelete="CASCADE"))
    timeline_event_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("timeline_events.id", ondelete="CASCADE")
    )
    note: Mapped[str] = mapped_column(Text, default="")
    starred_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    starred_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ActionItem(Base):
    __tablename__ = "action_items"
    __table_args__ = (
        CheckConstraint(f"status IN {ACTION_ITEM_STATUSES!r}", name="status"),
        CheckConstraint("priority BETWEEN 1 AND 4", name="priority"),
        Index("ix_action_items_status_due", "status", "due_at"),
        Index("ix_action_items_owner", "owner_id", "status"),
        Index("ix_action_items_incident", "incident_id", "id"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    review_id: Mapped[int | None] = mapped_column(
        ForeignKey("reviews.id", ondelete="SET NULL"), default=None
    )
    title: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text, default="")
    owner_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    team_id: Mapped[int | None] = mapped_column(
        ForeignKey("teams.id", ondelete="SET NULL"), default=None
    )
    priority: Mapped[int] = mapped_column(Integer, default=3)
    status: Mapped[str] = mapped_column(String(16), default="open")
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class ResponderFeedback(Base):
    """How one responder found the handling of one incident: 1-5 and a comment."""

    __tablename__ = "responder_feedback"
    __table_args__ = (
        UniqueConstraint("incident_id", "user_id"),
        CheckConstraint("rating BETWEEN 1 AND 5", name="rating"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    rating: Mapped[int] = mapped_column(Integer)
    comment: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
