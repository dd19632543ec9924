"""indexes at scale (issue 4)

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28 09:00:00.000000

Indexes for the pages and lists at 10,000 incidents and 1,000,000 alerts (docs/performance.md,
"Pages at scale"):

- alerts (incident_id, id) replaces (incident_id): an incident's newest alerts are a short walk
  down the index (the war room's alerts panel, /alerts?incident=, the API's ?incident_id=).
  With (incident_id) alone PostgreSQL walked the primary key backwards past every newer alert
  of other incidents: 0.13-0.5 s for a storm some weeks old. SQLite's index already ended in
  the rowid; the replacement keeps the number of indexes intake maintains the same.
- incident_services (service_id, incident_id): "incidents of a service" (dashboard and API
  filters, the service page, open counts per service) without reading the whole table.
- incident_roles (user_id, incident_id): the dashboard's "mine" filter, and deleting a user.
- timeline_events (incident_id, kind, at): the last priority change of each incident (where the
  SLA clocks restart) without reading every event of its timeline.

On PostgreSQL each CREATE INDEX blocks writes to its table while it builds (the whole migration
took 0.6 s with a million alerts); it runs in one transaction, so CONCURRENTLY is not available.
"""

from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_alerts_incident_id', 'alerts', ['incident_id', 'id'], unique=False)
    op.drop_index('ix_alerts_incident', table_name='alerts')
    op.create_index(
        'ix_incident_services_service', 'incident_services', ['service_id', 'incident_id'],
        unique=False,
    )
    op.create_index(
        'ix_incident_roles_user', 'incident_roles', ['user_id', 'incident_id'], unique=False
    )
    op.create_index(
        'ix_timeline_incident_kind', 'timeline_events', ['incident_id', 'kind', 'at'],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index('ix_timeline_incident_kind', table_name='timeline_events')
    op.drop_index('ix_incident_roles_user', table_name='incident_roles')
    op.drop_index('ix_incident_services_service', table_name='incident_services')
    op.create_index('ix_alerts_incident', 'alerts', ['incident_id'], unique=False)
    op.drop_index('ix_alerts_incident_id', table_name='alerts')
