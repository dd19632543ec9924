"""The model registry: imports every domain's tables so the metadata is complete for Alembic and
create_all. It lives above the domains (db/ is infrastructure and imports none of them)."""

from warroom.alerts.models import Alert
from warroom.catalog.models import ApiToken, Integration, Service, Team, User
from warroom.db.base import Base
from warroom.incidents.models import (
    Incident,
    IncidentRole,
    StatusUpdate,
    StatusUpdateRevision,
    Task,
    TimelineEvent,
)
from warroom.instance import InstanceSetting
from warroom.maintenance.models import MaintenanceWindow
from warroom.notify.models import ContactMethod, Notification, NotificationRule
from warroom.oncall.models import (
    EscalationPolicy,
    EscalationStep,
    EscalationTarget,
    LayerMember,
    Schedule,
    ScheduleLayer,
    ScheduleOverride,
)
from warroom.statuspage.models import Component, ComponentGroup, ComponentStatusChange
from warroom.timers.models import Timer
from warroom.web.models import LoginAttempt, WebSession

__all__ = [
    "Component",
    "ComponentGroup",
    "ComponentStatusChange",
    "MaintenanceWindow",
    "StatusUpdate",
    "StatusUpdateRevision",
    "Alert",
    "ContactMethod",
    "EscalationPolicy",
    "EscalationStep",
    "EscalationTarget",
    "LayerMember",
    "LoginAttempt",
    "Notification",
    "NotificationRule",
    "Schedule",
    "ScheduleLayer",
    "ScheduleOverride",
    "Timer",
    "WebSession",
    "ApiToken",
    "Base",
    "Incident",
    "IncidentRole",
    "InstanceSetting",
    "Integration",
    "Service",
    "Task",
    "Team",
    "TimelineEvent",
    "User",
]
