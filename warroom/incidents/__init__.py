"""Incidents: the human-managed disruptions, their lifecycle, priority, roles, tasks and timeline."""
