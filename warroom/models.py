"""The model registry: imports every domain's tables so the metadata is complete for Alembic and
create_all. It lives above the domains (db/ is infrastructure and imports none of them)."""

from warroom.alerts.models import Alert
from warroom.catalog.models import ApiToken, Integration, Service, Team, User
from warroom.db.base import Base
from warroom.incidents.models import (
    Incident,
    IncidentRole,
    MajorIncidentSetting,
    StatusUpdate,
    StatusUpdateRevision,
    Task,
    TimelineEvent,
)
from warroom.instance import InstanceSetting
from warroom.maintenance.models import MaintenanceWindow
from warroom.monitors.models import Check, CheckResult, Heartbeat, HeartbeatPing, LogRule
from warroom.notify.models import ContactMethod, Notification, NotificationRule
from warroom.notify.stakeholders import StakeholderList, StakeholderMember
from warroom.oncall.models import (
    EscalationPolicy,
    EscalationStep,
    EscalationTarget,
    LayerMember,
    Schedule,
    ScheduleLayer,
    ScheduleOverride,
)
from warroom.reports.models import UserReport
from warroom.reviews.models import (
    ActionItem,
    ResponderFeedback,
    Review,
    ReviewReviewer,
    StarredEntry,
)
from warroom.statuspage.models import Component, ComponentGroup, ComponentStatusChange
from warroom.timers.models import Timer
from warroom.web.models import LoginAttempt, WebSession

__all__ = [
    "ActionItem",
    "ResponderFeedback",
    "Review",
    "ReviewReviewer",
    "StarredEntry",
    "Component",
    "ComponentGroup",
    "ComponentStatusChange",
    "MaintenanceWindow",
    "StatusUpdate",
    "StatusUpdateRevision",
    "Alert",
    "Check",
    "CheckResult",
    "Heartbeat",
    "HeartbeatPing",
    "ContactMethod",
    "EscalationPolicy",
    "EscalationStep",
    "EscalationTarget",
    "LayerMember",
    "LogRule",
    "LoginAttempt",
    "Notification",
    "NotificationRule",
    "Schedule",
    "StakeholderList",
    "StakeholderMember",
    "ScheduleLayer",
    "ScheduleOverride",
    "Timer",
    "WebSession",
    "ApiToken",
    "Base",
    "Incident",
    "MajorIncidentSetting",
    "IncidentRole",
    "InstanceSetting",
    "Integration",
    "Service",
    "Task",
    "Team",
    "TimelineEvent",
    "User",
    "UserReport",
]
