"""Incidents: human-managed disruptions, their lifecycle, priority, roles, tasks, timeline."""
