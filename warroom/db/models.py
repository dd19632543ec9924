"""Imports every table so the metadata is complete for Alembic and create_all."""

from warroom.alerts.models import Alert
from warroom.catalog.models import ApiToken, Integration, Service, Team, User
from warroom.db.base import Base
from warroom.incidents.models import Incident, IncidentRole, Task, TimelineEvent

__all__ = [
    "Alert",
    "ApiToken",
    "Base",
    "Incident",
    "IncidentRole",
    "Integration",
    "Service",
    "Task",
    "Team",
    "TimelineEvent",
    "User",
]
