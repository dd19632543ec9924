"""Per-installation secrets, shared by every process on the same database."""

from __future__ import annotations

import secrets

from sqlalchemy import String, Text, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from warroom.db.base import Base
from warroom.db.engine import Database


class InstanceSetting(Base):
    __tablename__ = "instance_settings"
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


def secret_key(db: Database, configured: str = "") -> str:
    """WARROOM_SECRET_KEY if set; otherwise one generated at first start and kept in the
    database, so every API and engine process signs and verifies links with the same key."""
    if configured:
        return configured
    with db.read_session() as session:
        found = session.scalar(
            select(InstanceSetting.value).where(InstanceSetting.name == "secret_key")
        )
    if found:
        return found
    try:
        with db.session() as session:
            session.add(InstanceSetting(name="secret_key", value=secrets.token_urlsafe(48)))
    except IntegrityError:
        pass  # another process created it first; read theirs
    with db.read_session() as session:
        return session.scalars(
            select(InstanceSetting.value).where(InstanceSetting.name == "secret_key")
        ).one()
