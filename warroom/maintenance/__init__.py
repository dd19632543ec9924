"""Maintenance windows: when a service is expected to be disturbed, so paging is suppressed and
the status page can announce it."""
