"""On-call: schedules, overrides and escalation policies."""
