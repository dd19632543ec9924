"""What the war room's status updates panel reads: the updates with their history, when the next
one is due (and whether it is overdue), the template text for the incident's priority and the
components an update can name."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from warroom.catalog.models import Service
from warroom.incidents.comms import STAGE_LABELS, overdue, template_for
from warroom.incidents.models import OPEN_STATUSES, Incident, incident_services
from warroom.incidents.updates import UpdateView, list_updates, load_cadence, update_due_at
from warroom.statuspage.models import Component
from warroom.web.queries.refs import Ref


@dataclass
class UpdatesPanel:
    updates: list[UpdateView]
    due: datetime | None
    overdue: bool
    every: timedelta | None  # this priority's cadence
    template: str
    components: list[Ref]
    component_names: dict[int, str]
    stages: dict[str, str]


def updates_panel(
    session: Session, incident: Incident, now: datetime, configured_cadence: str
) -> UpdatesPanel:
    cadence = load_cadence(session, configured_cadence)
    due = update_due_at(session, incident, cadence)
    names = list(
        session.scalars(
            select(Service.name)
            .join(incident_services, incident_services.c.service_id == Service.id)
            .where(incident_services.c.incident_id == incident.id)
            .order_by(Service.name)
        )
    )
    components = [
        Ref(cid, name)
        for cid, name in session.execute(
            select(Component.id, Component.name).order_by(Component.position, Component.name)
        )
    ]
    return UpdatesPanel(
        updates=list_updates(session, incident.id),
        due=due,
        overdue=overdue(due, now, incident.status in OPEN_STATUSES),
        every=cadence.get(incident.priority),
        template=template_for(incident.priority, names),
        components=components,
        component_names={c.id: c.name for c in components},
        stages=STAGE_LABELS,
    )
