"""Alerts: machine signals deduplicated by key and grouped into incidents."""
