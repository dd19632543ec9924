"""Every route of the app has an access rule, and the rule holds.

The routes are enumerated from the app itself (app.routes, walking included routers, and the
OpenAPI paths), so a new route that is neither public nor in RULES makes these tests fail.
"""

from __future__ import annotations

import re
from typing import Any

import httpx
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.api.helpers import assert_error, pd_event, send_pd
from tests.conftest import World
from tests.oncall.helpers import oncall_objects

# Open without a user token: intake (authenticated by routing key), health, metrics, API docs.
PUBLIC: set[tuple[str, str]] = {
    ("POST", "/v2/enqueue"),
    ("POST", "/integrations/alertmanager"),
    ("POST", "/integrations/alertmanager/{routing_key}"),
    ("POST", "/integrations/generic"),
    ("POST", "/integrations/generic/{routing_key}"),
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/metrics"),
    ("GET", "/openapi.json"),
    ("GET", "/docs"),
    ("GET", "/docs/oauth2-redirect"),
    ("GET", "/redoc"),
    ("GET", "/docs/assets"),  # Swagger UI's and ReDoc's files (warroom/api/docs.py)
    # Signed action links from notifications: the signed, expiring token is the credential.
    ("GET", "/act/{token}"),
    ("POST", "/act/{token}"),
    # iCalendar feeds: calendar apps send no header; the HMAC token in the URL is the credential.
    ("GET", "/calendar/schedules/{schedule_id}.ics"),
    ("GET", "/calendar/users/{user_id}.ics"),
    # Heartbeat pings (issue 11): the ping key in the path is the credential, like a routing key.
    ("GET", "/ping/{key}"),
    ("POST", "/ping/{key}"),
    ("GET", "/ping/{key}/start"),
    ("POST", "/ping/{key}/start"),
    ("GET", "/ping/{key}/fail"),
    ("POST", "/ping/{key}/fail"),
    ("GET", "/ping/{key}/{exit_status}"),
    ("POST", "/ping/{key}/{exit_status}"),
    # The status page's public report form: rate-limited per address (warroom/reports/public.py).
    ("POST", "/status/report"),
    # JSON log lines: authenticated by the service's monitor integration routing key.
    ("POST", "/logs"),
    ("POST", "/logs/{routing_key}"),
    # The web app's sign-in form and its static files.
    ("GET", "/login"),
    ("POST", "/login"),
    ("GET", "/static"),
    # The public status page, its feeds and Statuspage-compatible JSON: public by design
    # (only public components, incidents with public updates and public maintenance show).
    ("GET", "/status"),
    ("GET", "/status/theme.css"),
    ("GET", "/status/history"),
    ("GET", "/status/history.rss"),
    ("GET", "/status/history.atom"),
    ("GET", "/status/incidents/{incident_id}"),
    ("GET", "/status/api/v2/summary.json"),
    ("GET", "/status/api/v2/status.json"),
    ("GET", "/status/api/v2/components.json"),
    ("GET", "/status/api/v2/incidents.json"),
    ("GET", "/status/api/v2/incidents/unresolved.json"),
    ("GET", "/status/api/v2/scheduled-maintenances.json"),
    ("GET", "/status/api/v2/scheduled-maintenances/upcoming.json"),
    ("GET", "/status/api/v2/scheduled-maintenances/active.json"),
    # Subscribing (rate-limited; email needs the confirmation link) and the signed links.
    ("GET", "/status/subscribe"),
    ("POST", "/status/subscribe"),
    ("GET", "/status/confirm/{token}"),
    ("POST", "/status/confirm/{token}"),
    ("GET", "/status/unsubscribe/{token}"),
    ("POST", "/status/unsubscribe/{token}"),
    # Reporting a problem from the page: a signed form token, the reports API's rate limit.
    ("GET", "/status/report"),
    ("POST", "/status/report/form"),
    ("GET", "/status/report/thanks"),
}

# The web app's pages and forms (session cookie, CSRF token on every POST): the least role.
# "self" = any signed-in user, on their own account (sign out, change one's password).
WEB: dict[tuple[str, str], str] = {
    ("GET", "/"): "stakeholder",
    ("GET", "/dashboard.fragment"): "stakeholder",
    ("GET", "/events/stream"): "stakeholder",
    ("GET", "/events/versions"): "stakeholder",
    ("GET", "/alerts"): "stakeholder",
    ("GET", "/alerts/{alert_id}"): "stakeholder",
    ("POST", "/alerts/{alert_id}/{action}"): "responder",
    ("GET", "/services"): "stakeholder",
    ("GET", "/services/{service_id}"): "stakeholder",
    ("GET", "/teams"): "stakeholder",
    ("GET", "/incidents/{incident_id}"): "stakeholder",
    ("GET", "/incidents/{incident_id}/panels.fragment"): "stakeholder",
    ("GET", "/incidents/{incident_id}/timeline.fragment"): "stakeholder",
    ("GET", "/account"): "stakeholder",
    ("GET", "/oncall"): "stakeholder",
    ("GET", "/oncall/schedules/{schedule_id}"): "stakeholder",
    ("GET", "/report"): "stakeholder",
    ("POST", "/report"): "self",
    ("POST", "/account/password"): "self",
    # One's own settings (web/config_account.py): any signed-in user, on their own account.
    ("POST", "/account/profile"): "self",
    ("POST", "/account/contact-methods"): "self",
    ("POST", "/account/contact-methods/{method_id}/delete"): "self",
    ("POST", "/account/contact-methods/{method_id}/test"): "self",
    ("POST", "/account/rules"): "self",
    ("POST", "/account/rules/{rule_id}/delete"): "self",
    ("POST", "/account/quiet-hours"): "self",
    ("POST", "/account/tokens"): "self",
    ("POST", "/account/tokens/{token_id}/revoke"): "self",
    ("POST", "/logout"): "self",
    ("GET", "/incidents/new"): "responder",
    ("POST", "/incidents/new"): "responder",
    ("POST", "/incidents/{incident_id}/actions/{action}"): "responder",
    ("POST", "/incidents/{incident_id}/priority"): "responder",
    ("POST", "/incidents/{incident_id}/notes"): "responder",
    ("POST", "/incidents/{incident_id}/roles/{role}"): "responder",
    ("POST", "/incidents/{incident_id}/roles/{role}/release"): "responder",
    ("POST", "/incidents/{incident_id}/tasks"): "responder",
    ("POST", "/incidents/{incident_id}/tasks/{task_id}"): "responder",
    ("POST", "/incidents/{incident_id}/mobilise"): "responder",
    # Accept or reject a major incident: the service then allows only the commander or an admin.
    ("POST", "/incidents/{incident_id}/major"): "responder",
    ("POST", "/incidents/{incident_id}/merge"): "responder",
    ("POST", "/incidents/{incident_id}/status-updates"): "responder",
    ("POST", "/incidents/{incident_id}/status-updates/{update_id}"): "responder",
    # Overrides: responders, as in the API (deleting is a POST: HTML forms cannot DELETE).
    # Building schedules in the browser: admins, as the API's schedule routes (ADR 10).
    ("GET", "/oncall/schedules/new"): "admin",
    ("POST", "/oncall/schedules/new"): "admin",
    ("GET", "/oncall/schedules/{schedule_id}/edit"): "admin",
    ("POST", "/oncall/schedules/{schedule_id}/edit"): "admin",
    ("POST", "/oncall/schedules/{schedule_id}/overrides"): "responder",
    ("POST", "/oncall/schedules/{schedule_id}/overrides/{override_id}/delete"): "responder",
    # Reviews, action items and the metrics page (warroom/web/review_pages.py).
    ("GET", "/incidents/{incident_id}/review"): "stakeholder",
    ("GET", "/incidents/{incident_id}/review.md"): "stakeholder",
    ("GET", "/incidents/{incident_id}/review.pdf"): "stakeholder",
    ("GET", "/incidents/{incident_id}/review/chart.svg"): "stakeholder",
    ("GET", "/reviews"): "stakeholder",
    ("GET", "/action-items"): "stakeholder",
    ("GET", "/analytics"): "stakeholder",
    ("GET", "/analytics/{table}.csv"): "stakeholder",
    ("GET", "/analytics/charts/{name}.svg"): "stakeholder",
    ("POST", "/incidents/{incident_id}/review"): "responder",
    ("POST", "/incidents/{incident_id}/review/edit"): "responder",
    ("POST", "/incidents/{incident_id}/review/workflow/{action}"): "responder",
    ("POST", "/incidents/{incident_id}/review/stars/{event_id}"): "responder",
    ("POST", "/incidents/{incident_id}/action-items"): "responder",
    ("POST", "/action-items/{item_id}"): "responder",
    ("POST", "/incidents/{incident_id}/feedback"): "responder",
    # Setting services up (ADR 10): "team" = an admin, or a responder of the owning team.
    ("GET", "/services/new"): "admin",
    ("POST", "/services/new"): "admin",
    ("GET", "/services/{service_id}/edit"): "team",
    ("POST", "/services/{service_id}/edit"): "team",
    ("POST", "/services/{service_id}/integrations"): "team",
    ("POST", "/services/{service_id}/integrations/{integration_id}/rotate"): "team",
    ("POST", "/services/{service_id}/integrations/{integration_id}/delete"): "team",
    ("GET", "/services/{service_id}/integrations/{integration_id}/mapping"): "team",
    ("POST", "/services/{service_id}/integrations/{integration_id}/mapping"): "team",
    ("POST", "/services/{service_id}/policy"): "team",
    ("POST", "/services/{service_id}/archive"): "admin",
    ("POST", "/services/{service_id}/unarchive"): "admin",
    ("POST", "/services/{service_id}/grouping-rules"): "team",
    ("POST", "/services/{service_id}/grouping-rules/{grouping_rule_id}/delete"): "team",
    ("GET", "/policies"): "stakeholder",
    ("GET", "/policies/{policy_id}"): "stakeholder",
    ("GET", "/policies/new"): "admin",
    ("POST", "/policies/new"): "admin",
    ("POST", "/policies/{policy_id}"): "admin",
    ("POST", "/policies/{policy_id}/delete"): "admin",
    # Silences and maintenance windows (warroom/web/noise_pages.py).
    ("GET", "/silences"): "stakeholder",
    ("POST", "/silences"): "responder",
    ("POST", "/silences/{silence_id}/expire"): "responder",
    ("POST", "/silences/inhibit-rules"): "responder",
    ("POST", "/silences/inhibit-rules/{inhibit_rule_id}/delete"): "responder",
    ("POST", "/silences/grouping-rules"): "admin",
    ("POST", "/silences/grouping-rules/{grouping_rule_id}/delete"): "admin",
    ("POST", "/alerts/{alert_id}/silence"): "responder",
    ("POST", "/services/{service_id}/maintenance"): "responder",
    ("POST", "/maintenance/{window_id}/cancel"): "responder",
    ("GET", "/admin/users"): "admin",
    ("POST", "/admin/users"): "admin",
    ("POST", "/admin/users/{user_id}"): "admin",
    ("POST", "/admin/users/{user_id}/active"): "admin",
    ("POST", "/admin/users/{user_id}/password"): "admin",
    ("POST", "/admin/teams"): "admin",
    ("POST", "/admin/teams/{team_id}"): "admin",
    ("GET", "/admin/status-page"): "admin",
    ("GET", "/admin/major-incidents"): "admin",
    ("POST", "/admin/major-incidents"): "admin",
    ("POST", "/admin/status-page/settings"): "admin",
    ("POST", "/admin/status-page/components"): "admin",
    ("POST", "/admin/status-page/components/{component_id}"): "admin",
    ("POST", "/admin/status-page/maintenance"): "admin",
    ("POST", "/admin/status-page/maintenance/{window_id}"): "admin",
    ("POST", "/admin/status-page/maintenance/{window_id}/cancel"): "admin",
    # Stakeholder lists (warroom/web/stakeholder_pages.py): admins, as in the API.
    ("GET", "/services/{service_id}/stakeholders"): "admin",
    ("GET", "/teams/{team_id}/stakeholders"): "admin",
    ("POST", "/stakeholder-lists"): "admin",
    ("POST", "/stakeholder-lists/{list_id}"): "admin",
    ("POST", "/stakeholder-lists/{list_id}/delete"): "admin",
    ("POST", "/stakeholder-lists/{list_id}/members"): "admin",
    ("POST", "/stakeholder-lists/{list_id}/members/{member_id}/delete"): "admin",
}

# The least role each /api/v1 route needs. "self" = any signed-in user, acting on their own
# things only (their profile and API tokens: a stakeholder needs a token to read at all).
# "team" = an admin, or a responder of the team that owns the service (ADR 10): a responder of
# another team is refused like a stakeholder.
RULES: dict[tuple[str, str], str] = {
    ("GET", "/api/v1/teams"): "stakeholder",
    ("POST", "/api/v1/teams"): "admin",
    ("GET", "/api/v1/teams/{team_id}"): "stakeholder",
    ("PATCH", "/api/v1/teams/{team_id}"): "admin",
    ("GET", "/api/v1/users"): "stakeholder",
    ("POST", "/api/v1/users"): "admin",
    ("GET", "/api/v1/users/me"): "stakeholder",
    ("PATCH", "/api/v1/users/me"): "self",
    ("GET", "/api/v1/users/{user_id}"): "stakeholder",
    ("PATCH", "/api/v1/users/{user_id}"): "self",
    ("GET", "/api/v1/tokens"): "stakeholder",
    ("POST", "/api/v1/tokens"): "self",
    ("DELETE", "/api/v1/tokens/{token_id}"): "self",
    ("GET", "/api/v1/services"): "stakeholder",
    ("POST", "/api/v1/services"): "admin",
    ("GET", "/api/v1/services/{service_id}"): "stakeholder",
    ("PATCH", "/api/v1/services/{service_id}"): "team",
    ("POST", "/api/v1/services/{service_id}/archive"): "admin",
    ("POST", "/api/v1/services/{service_id}/unarchive"): "admin",
    ("GET", "/api/v1/integrations"): "stakeholder",
    ("POST", "/api/v1/integrations"): "team",
    ("GET", "/api/v1/integrations/{integration_id}"): "stakeholder",
    ("DELETE", "/api/v1/integrations/{integration_id}"): "team",
    ("POST", "/api/v1/integrations/{integration_id}/rotate"): "team",
    ("PATCH", "/api/v1/integrations/{integration_id}"): "team",
    ("POST", "/api/v1/integrations/{integration_id}/mapping/try"): "team",
    ("GET", "/api/v1/alerts"): "stakeholder",
    ("GET", "/api/v1/alerts/{alert_id}"): "stakeholder",
    ("POST", "/api/v1/alerts/{alert_id}/acknowledge"): "responder",
    ("POST", "/api/v1/alerts/{alert_id}/resolve"): "responder",
    ("GET", "/api/v1/incidents"): "stakeholder",
    ("POST", "/api/v1/incidents"): "responder",
    ("GET", "/api/v1/incidents/{incident_id}"): "stakeholder",
    ("POST", "/api/v1/incidents/{incident_id}/acknowledge"): "responder",
    ("POST", "/api/v1/incidents/{incident_id}/mitigate"): "responder",
    ("POST", "/api/v1/incidents/{incident_id}/resolve"): "responder",
    ("POST", "/api/v1/incidents/{incident_id}/reopen"): "responder",
    ("POST", "/api/v1/incidents/{incident_id}/close"): "responder",
    ("POST", "/api/v1/incidents/{incident_id}/priority"): "responder",
    ("POST", "/api/v1/incidents/{incident_id}/notes"): "responder",
    ("PUT", "/api/v1/incidents/{incident_id}/roles/{role}"): "responder",
    ("DELETE", "/api/v1/incidents/{incident_id}/roles/{role}"): "responder",
    ("GET", "/api/v1/incidents/{incident_id}/tasks"): "stakeholder",
    ("POST", "/api/v1/incidents/{incident_id}/tasks"): "responder",
    ("PATCH", "/api/v1/incidents/{incident_id}/tasks/{task_id}"): "responder",
    ("GET", "/api/v1/incidents/{incident_id}/timeline"): "stakeholder",
    ("POST", "/api/v1/incidents/{incident_id}/mobilise"): "responder",
    ("POST", "/api/v1/incidents/{incident_id}/merge"): "responder",
    ("GET", "/api/v1/notifications"): "stakeholder",
    # Status updates, the cadence and stakeholder lists (warroom/api/comms.py): stakeholders
    # read updates, never post; the lists hold addresses and webhook URLs (admins only).
    ("GET", "/api/v1/incidents/{incident_id}/status-updates"): "stakeholder",
    ("POST", "/api/v1/incidents/{incident_id}/status-updates"): "responder",
    ("GET", "/api/v1/incidents/{incident_id}/status-updates/{update_id}"): "stakeholder",
    ("PATCH", "/api/v1/incidents/{incident_id}/status-updates/{update_id}"): "responder",
    ("GET", "/api/v1/update-cadence"): "stakeholder",
    ("PUT", "/api/v1/update-cadence"): "admin",
    ("GET", "/api/v1/stakeholder-lists"): "admin",
    ("POST", "/api/v1/stakeholder-lists"): "admin",
    ("GET", "/api/v1/stakeholder-lists/{list_id}"): "admin",
    ("PATCH", "/api/v1/stakeholder-lists/{list_id}"): "admin",
    ("DELETE", "/api/v1/stakeholder-lists/{list_id}"): "admin",
    ("POST", "/api/v1/stakeholder-lists/{list_id}/members"): "admin",
    ("DELETE", "/api/v1/stakeholder-lists/{list_id}/members/{member_id}"): "admin",
    # On-call (warroom/api/oncall.py).
    ("GET", "/api/v1/schedules"): "stakeholder",
    ("POST", "/api/v1/schedules"): "admin",
    ("GET", "/api/v1/schedules/{schedule_id}"): "stakeholder",
    ("PATCH", "/api/v1/schedules/{schedule_id}"): "admin",
    ("DELETE", "/api/v1/schedules/{schedule_id}"): "admin",
    ("GET", "/api/v1/schedules/{schedule_id}/on-call"): "stakeholder",
    ("GET", "/api/v1/schedules/{schedule_id}/shifts"): "stakeholder",
    ("GET", "/api/v1/schedules/{schedule_id}/calendar-feed"): "stakeholder",
    ("GET", "/api/v1/schedules/{schedule_id}/overrides"): "stakeholder",
    ("POST", "/api/v1/schedules/{schedule_id}/overrides"): "responder",
    ("DELETE", "/api/v1/schedules/{schedule_id}/overrides/{override_id}"): "responder",
    ("GET", "/api/v1/on-call"): "stakeholder",
    ("GET", "/api/v1/escalation-policies"): "stakeholder",
    ("POST", "/api/v1/escalation-policies"): "admin",
    ("GET", "/api/v1/escalation-policies/{policy_id}"): "stakeholder",
    ("PATCH", "/api/v1/escalation-policies/{policy_id}"): "admin",
    ("DELETE", "/api/v1/escalation-policies/{policy_id}"): "admin",
    ("GET", "/api/v1/services/{service_id}/escalation-policy"): "stakeholder",
    ("PUT", "/api/v1/services/{service_id}/escalation-policy"): "team",
    ("GET", "/api/v1/users/{user_id}/contact-methods"): "stakeholder",
    ("POST", "/api/v1/users/{user_id}/contact-methods"): "self",
    ("PATCH", "/api/v1/users/{user_id}/contact-methods/{method_id}"): "self",
    ("DELETE", "/api/v1/users/{user_id}/contact-methods/{method_id}"): "self",
    ("POST", "/api/v1/users/{user_id}/contact-methods/{method_id}/test"): "self",
    ("GET", "/api/v1/users/{user_id}/notification-rules"): "stakeholder",
    ("POST", "/api/v1/users/{user_id}/notification-rules"): "self",
    ("PATCH", "/api/v1/users/{user_id}/notification-rules/{rule_id}"): "self",
    ("DELETE", "/api/v1/users/{user_id}/notification-rules/{rule_id}"): "self",
    ("GET", "/api/v1/users/{user_id}/quiet-hours"): "stakeholder",
    ("PUT", "/api/v1/users/{user_id}/quiet-hours"): "self",
    ("GET", "/api/v1/users/me/calendar-feed"): "stakeholder",
    # Reviews, action items, feedback and metrics (warroom/api/reviews.py).
    ("GET", "/api/v1/incidents/{incident_id}/review"): "stakeholder",
    ("POST", "/api/v1/incidents/{incident_id}/review"): "responder",
    ("GET", "/api/v1/reviews"): "stakeholder",
    ("GET", "/api/v1/reviews/{review_id}"): "stakeholder",
    ("PATCH", "/api/v1/reviews/{review_id}"): "responder",
    ("POST", "/api/v1/reviews/{review_id}/actions/{action}"): "responder",
    ("PUT", "/api/v1/reviews/{review_id}/stars/{event_id}"): "responder",
    ("DELETE", "/api/v1/reviews/{review_id}/stars/{event_id}"): "responder",
    ("GET", "/api/v1/reviews/{review_id}/export.md"): "stakeholder",
    ("GET", "/api/v1/reviews/{review_id}/export.pdf"): "stakeholder",
    ("GET", "/api/v1/action-items"): "stakeholder",
    ("POST", "/api/v1/incidents/{incident_id}/action-items"): "responder",
    ("GET", "/api/v1/action-items/{item_id}"): "stakeholder",
    ("PATCH", "/api/v1/action-items/{item_id}"): "responder",
    ("GET", "/api/v1/incidents/{incident_id}/feedback"): "stakeholder",
    ("PUT", "/api/v1/incidents/{incident_id}/feedback"): "responder",
    ("GET", "/api/v1/metrics/summary"): "stakeholder",
    ("GET", "/api/v1/metrics/on-call-load"): "stakeholder",
    ("GET", "/api/v1/metrics/noisy-alerts"): "stakeholder",
    ("GET", "/api/v1/metrics/recurring"): "stakeholder",
    # The status page (warroom/api/statuspage.py); subscribers' addresses are for admins only.
    ("GET", "/api/v1/status-page"): "stakeholder",
    ("PUT", "/api/v1/status-page"): "admin",
    ("GET", "/api/v1/components"): "stakeholder",
    ("POST", "/api/v1/components"): "admin",
    ("GET", "/api/v1/components/{component_id}"): "stakeholder",
    ("PATCH", "/api/v1/components/{component_id}"): "admin",
    ("DELETE", "/api/v1/components/{component_id}"): "admin",
    ("GET", "/api/v1/component-groups"): "stakeholder",
    ("POST", "/api/v1/component-groups"): "admin",
    ("PATCH", "/api/v1/component-groups/{group_id}"): "admin",
    ("DELETE", "/api/v1/component-groups/{group_id}"): "admin",
    ("GET", "/api/v1/maintenance-windows"): "stakeholder",
    ("POST", "/api/v1/maintenance-windows"): "admin",
    ("PATCH", "/api/v1/maintenance-windows/{window_id}"): "admin",
    ("GET", "/api/v1/status-subscribers"): "admin",
    ("POST", "/api/v1/status-subscribers"): "admin",
    ("DELETE", "/api/v1/status-subscribers/{subscriber_id}"): "admin",
    # Major incidents (warroom/api/major.py): the decision is the commander's or an admin's.
    ("GET", "/api/v1/major-incidents/settings"): "stakeholder",
    ("PUT", "/api/v1/major-incidents/settings"): "admin",
    ("GET", "/api/v1/incidents/{incident_id}/major"): "stakeholder",
    ("POST", "/api/v1/incidents/{incident_id}/major"): "responder",
    # Oversight settings (warroom/api/oversight.py).
    ("GET", "/api/v1/oversight"): "stakeholder",
    ("PUT", "/api/v1/oversight"): "admin",
    ("GET", "/api/v1/teams/{team_id}/oversight"): "stakeholder",
    ("PUT", "/api/v1/teams/{team_id}/oversight"): "admin",
    # Warroom's own monitors (warroom/api/monitors.py): defined by admins, read by everyone.
    ("GET", "/api/v1/heartbeats"): "stakeholder",
    ("POST", "/api/v1/heartbeats"): "admin",
    ("GET", "/api/v1/heartbeats/{heartbeat_id}"): "stakeholder",
    ("DELETE", "/api/v1/heartbeats/{heartbeat_id}"): "admin",
    ("GET", "/api/v1/heartbeats/{heartbeat_id}/pings"): "stakeholder",
    ("GET", "/api/v1/checks"): "stakeholder",
    ("POST", "/api/v1/checks"): "admin",
    ("GET", "/api/v1/checks/{check_id}"): "stakeholder",
    ("PATCH", "/api/v1/checks/{check_id}"): "admin",
    ("DELETE", "/api/v1/checks/{check_id}"): "admin",
    ("GET", "/api/v1/checks/{check_id}/results"): "stakeholder",
    ("GET", "/api/v1/log-rules"): "stakeholder",
    ("POST", "/api/v1/log-rules"): "admin",
    ("GET", "/api/v1/log-rules/{rule_id}"): "stakeholder",
    ("PATCH", "/api/v1/log-rules/{rule_id}"): "admin",
    ("DELETE", "/api/v1/log-rules/{rule_id}"): "admin",
    # User reports: anyone signed in may say that something is wrong.
    ("GET", "/api/v1/reports"): "stakeholder",
    ("POST", "/api/v1/reports"): "stakeholder",
    ("GET", "/api/v1/reports/{report_id}"): "stakeholder",
    # Silences and maintenance windows (warroom/api/noise.py).
    ("GET", "/api/v1/silences"): "stakeholder",
    ("POST", "/api/v1/silences"): "responder",
    ("GET", "/api/v1/silences/{silence_id}"): "stakeholder",
    ("DELETE", "/api/v1/silences/{silence_id}"): "responder",
    ("GET", "/api/v1/grouping-rules"): "stakeholder",
    ("POST", "/api/v1/grouping-rules"): "team",
    ("GET", "/api/v1/grouping-rules/{grouping_rule_id}"): "stakeholder",
    ("PATCH", "/api/v1/grouping-rules/{grouping_rule_id}"): "team",
    ("DELETE", "/api/v1/grouping-rules/{grouping_rule_id}"): "team",
    ("GET", "/api/v1/inhibit-rules"): "stakeholder",
    ("POST", "/api/v1/inhibit-rules"): "responder",
    ("GET", "/api/v1/inhibit-rules/{inhibit_rule_id}"): "stakeholder",
    ("DELETE", "/api/v1/inhibit-rules/{inhibit_rule_id}"): "responder",
    ("GET", "/api/v1/services/{service_id}/maintenance-windows"): "stakeholder",
    ("POST", "/api/v1/services/{service_id}/maintenance-windows"): "responder",
    ("GET", "/api/v1/maintenance-windows/{window_id}"): "stakeholder",
    ("POST", "/api/v1/maintenance-windows/{window_id}/cancel"): "responder",
}
RANK = {"stakeholder": 0, "responder": 1, "admin": 2, "team": 2}
# A body that passes authorization and then fails validation, so probing writes nothing.
PROBE = {"__probe__": True}
IGNORED_METHODS = {"HEAD", "OPTIONS"}


def _walk(routes: list[Any], prefix: str = "") -> set[tuple[str, str]]:
    found: set[tuple[str, str]] = set()
    for route in routes:
        nested = getattr(route, "original_router", None)  # FastAPI's wrapped include_router
        if nested is not None:
            context = getattr(route, "include_context", None)
            found |= _walk(nested.routes, prefix + str(getattr(context, "prefix", "") or ""))
            continue
        sub = getattr(route, "routes", None)
        path = getattr(route, "path", None)
        if path is None:
            if sub:
                found |= _walk(sub, prefix)
            continue
        for method in getattr(route, "methods", None) or {"GET"}:
            if method not in IGNORED_METHODS:
                found.add((method, prefix + path))
    return found


def all_routes(app: FastAPI) -> set[tuple[str, str]]:
    found = _walk(list(app.routes))
    for path, operations in app.openapi()["paths"].items():
        for method in operations:
            found.add((method.upper(), path))
    return found


def test_every_route_has_a_rule(client: TestClient) -> None:
    routes = all_routes(client.app)  # type: ignore[arg-type]
    assert len(routes) >= len(PUBLIC) + len(RULES) - 1
    unruled = sorted(r for r in routes if r not in PUBLIC and r not in RULES and r not in WEB)
    assert unruled == [], f"routes without an access rule: {unruled}"
    stale = sorted(r for r in set(RULES) | set(WEB) | PUBLIC if r not in routes)
    assert stale == [], f"rules for routes that do not exist: {stale}"
    assert not any(path.startswith("/api/") for _m, path in PUBLIC)
    assert all(path.startswith("/api/v1/") for _m, path in RULES)
    assert not any(path.startswith("/api/") for _m, path in WEB)
    assert not (PUBLIC & set(RULES)) and not (PUBLIC & set(WEB))


def test_route_walk_sees_routes_hidden_from_openapi() -> None:
    """The enumeration must not rely on OpenAPI alone: a hidden route still needs a rule."""
    from fastapi import APIRouter

    app = FastAPI()
    router = APIRouter(prefix="/api/v1")

    @router.get("/hidden", include_in_schema=False)
    def hidden() -> dict[str, str]:
        return {}

    app.include_router(router, prefix="/x")
    assert ("GET", "/x/api/v1/hidden") in all_routes(app)


# --- filling the path parameters with real objects ---------------------------------------------


def _fixture_objects(client: TestClient, world: World) -> dict[str, Any]:
    admin = world.auth("admin")
    assert send_pd(client, pd_event(world.pagerduty_key)).status_code == 202
    alert = client.get("/api/v1/alerts", headers=admin).json()["items"][0]
    team = client.post("/api/v1/teams", json={"name": "SRE"}, headers=admin).json()
    stakeholders = client.post(
        "/api/v1/stakeholder-lists", json={"name": "Support", "team_id": team["id"]}, headers=admin
    ).json()
    member = client.post(
        f"/api/v1/stakeholder-lists/{stakeholders['id']}/members",
        json={"channel": "email", "address": "support@example.com"},
        headers=admin,
    ).json()
    spare = client.post(
        "/api/v1/integrations",
        json={"service_id": world.checkout_id, "type": "generic"},
        headers=admin,
    ).json()
    reviewed = client.post(
        "/api/v1/incidents",
        json={"title": "reviewed", "impact": 2, "urgency": 2},
        headers=admin,
    ).json()["id"]
    update = client.post(
        f"/api/v1/incidents/{reviewed}/status-updates",
        json={"visibility": "internal", "message": "looking"},
        headers=admin,
    ).json()
    assert client.post(f"/api/v1/incidents/{reviewed}/resolve", headers=admin).status_code == 200
    review = client.post(f"/api/v1/incidents/{reviewed}/review", headers=admin).json()
    event = client.get(f"/api/v1/incidents/{reviewed}/timeline", headers=admin).json()["items"][0]
    item = client.post(
        f"/api/v1/incidents/{reviewed}/action-items", json={"title": "fix"}, headers=admin
    ).json()
    # The incident of the probes has a review (its GET answers 200), so it is a resolved one.
    task = client.post(
        f"/api/v1/incidents/{reviewed}/tasks", json={"title": "check"}, headers=admin
    ).json()
    heartbeat = client.post(
        "/api/v1/heartbeats",
        json={"service_id": world.checkout_id, "name": "cron", "period_seconds": 3600},
        headers=admin,
    ).json()
    check = client.post(
        "/api/v1/checks",
        json={
            "service_id": world.checkout_id,
            "name": "shop",
            "kind": "tcp",
            "target": "192.0.2.1:443",
            "enabled": False,
        },
        headers=admin,
    ).json()
    rule = client.post(
        "/api/v1/log-rules",
        json={
            "service_id": world.checkout_id,
            "name": "errors",
            "conditions": [{"field": "severity", "op": "eq", "value": "err"}],
        },
        headers=admin,
    ).json()
    report = client.post(
        "/api/v1/reports",
        json={"service_id": world.checkout_id, "description": "checkout hangs"},
        headers=admin,
    ).json()
    silence = client.post(
        "/api/v1/silences",
        json={
            "matchers": [{"name": "alertname", "value": "Probe"}],
            "endsAt": "2999-01-01T00:00:00Z",
        },
        headers=admin,
    ).json()
    window = client.post(
        f"/api/v1/services/{world.checkout_id}/maintenance-windows",
        json={
            "title": "Probe",
            "starts_at": "2999-01-01T00:00:00Z",
            "ends_at": "2999-01-01T01:00:00Z",
        },
        headers=admin,
    ).json()
    group = client.post("/api/v1/component-groups", json={"name": "Shop"}, headers=admin).json()
    component = client.post(
        "/api/v1/components", json={"name": "Checkout", "group_id": group["id"]}, headers=admin
    ).json()
    window = client.post(
        "/api/v1/maintenance-windows",
        json={
            "title": "DB upgrade",
            "starts_at": "2030-01-01T00:00:00Z",
            "ends_at": "2030-01-01T01:00:00Z",
        },
        headers=admin,
    ).json()
    subscriber = client.post(
        "/api/v1/status-subscribers",
        json={"channel": "email", "address": "fan@example.com"},
        headers=admin,
    ).json()
    return {
        "review_id": review["id"],
        "table": "summary",
        "name": "durations",
        "event_id": event["id"],
        "item_id": item["id"],
        "action": "submit",
        "report_id": report["id"],
        "rule_id": rule["id"],
        "heartbeat_id": heartbeat["id"],
        "check_id": check["id"],
        "silence_id": silence["id"],
        "inhibit_rule_id": _inhibit_rule(client, world),
        "grouping_rule_id": _grouping_rule(client, world),
        "group_id": group["id"],
        "component_id": component["id"],
        "window_id": window["id"],
        "subscriber_id": subscriber["id"],
        "team_id": team["id"],
        "service_id": world.checkout_id,
        "alert_id": alert["id"],
        "incident_id": reviewed,
        "task_id": task["id"],
        "role": "commander",
        "token_id": client.post(
            "/api/v1/tokens", json={"name": "probe"}, headers=world.auth("admin")
        ).json()["id"],
        "integration_id": spare["id"],
        "update_id": update["id"],
        "list_id": stakeholders["id"],
        "member_id": member["id"],
        **oncall_objects(client, world),
    }


def _token_of(client: TestClient, world: World, who: str) -> int:
    r = client.post("/api/v1/tokens", json={"name": "spare"}, headers=world.auth(who))
    assert r.status_code == 201
    return int(r.json()["id"])


def _url(path: str, objects: dict[str, Any]) -> str:
    url = re.sub(r"\{(\w+)\}", lambda m: str(objects[m.group(1)]), path)
    assert "{" not in url, url
    return url


def _call(
    client: TestClient, method: str, url: str, headers: dict[str, str], body: Any = PROBE
) -> httpx.Response:
    r: httpx.Response = (
        client.request(method, url, json=body, headers=headers)
        if method in ("POST", "PUT", "PATCH")
        else client.request(method, url, headers=headers)
    )
    return r


def _inhibit_rule(client: TestClient, world: World) -> int:
    """A rule to probe (responders may delete one: each role's probes get their own)."""
    r = client.post(
        "/api/v1/inhibit-rules",
        json={
            "name": "Probe",
            "source_matchers": [{"name": "alertname", "value": "ProbeDown"}],
            "target_matchers": [{"name": "alertname", "value": "ProbeSlow"}],
        },
        headers=world.auth("admin"),
    )
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def _grouping_rule(client: TestClient, world: World) -> int:
    """A rule of the checkout service to probe (its owning team's responders and admins)."""
    r = client.post(
        "/api/v1/grouping-rules",
        json={"service_id": world.checkout_id, "keys": ["labels.cluster"]},
        headers=world.auth("admin"),
    )
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def _in_order(rules: dict[tuple[str, str], str]) -> list[tuple[str, str]]:
    """Deletes last, so that they do not take away what the other probes read."""
    return sorted(rules, key=lambda r: (r[0] == "DELETE", r))


# --- the rules hold ----------------------------------------------------------------------------


def test_anonymous_gets_401_on_every_api_route(client: TestClient, world: World) -> None:
    objects = _fixture_objects(client, world)
    objects["user_id"] = world.admin_id
    objects["token_id"] = _token_of(client, world, "admin")
    for method, path in _in_order(RULES):
        url = _url(path, objects)
        for headers in ({}, {"Authorization": "Bearer wr_forged"}):
            r = _call(client, method, url, headers)
            assert_error(r, 401)
            assert r.headers.get("www-authenticate") == "Bearer", (method, path)
    # Nothing changed under the anonymous calls: the admin's spare token still works.
    listed = client.get("/api/v1/tokens", headers=world.auth("admin")).json()
    assert all(t["revoked_at"] is None for t in listed)


def test_stakeholder_reads_but_never_writes(client: TestClient, world: World) -> None:
    objects = _fixture_objects(client, world)
    carol = world.auth("stakeholder")
    # "self" routes are probed on someone else's things, which a stakeholder may not touch.
    objects["user_id"] = world.admin_id
    objects["token_id"] = _token_of(client, world, "admin")
    for method, path in _in_order(RULES):
        body: Any = PROBE
        if RULES[(method, path)] == "self":
            body = {"name": "Mallory"}  # valid: only the ownership check may refuse it
        r = _call(client, method, _url(path, objects), carol, body)
        if method == "GET" and RULES[(method, path)] == "stakeholder":
            assert 200 <= r.status_code < 300 or r.status_code == 404, (path, r.status_code)
            assert r.status_code == 200, (path, r.text)  # the objects exist
        elif (method, path) == ("DELETE", "/api/v1/tokens/{token_id}"):
            assert_error(r, 404)  # another user's token is not even shown to exist
        elif (method, path) == ("POST", "/api/v1/reports"):
            assert_error(r, 422)  # anyone may report; the probe body is refused as invalid
        elif (method, path) == ("POST", "/api/v1/tokens"):
            assert r.status_code == 201  # self-service: a stakeholder makes their own tokens
        elif (method, path) == ("PATCH", "/api/v1/users/me"):
            assert r.status_code == 200, r.text  # their own name: always their own account
        else:
            assert_error(r, 403, "forbidden")

    assert client.get(f"/api/v1/users/{world.admin_id}", headers=carol).json()["name"] == "Alice"
    # Self-service on their own things works.
    r = client.patch(
        f"/api/v1/users/{world.stakeholder_id}", json={"name": "Caroline"}, headers=carol
    )
    assert r.status_code == 200 and r.json()["name"] == "Caroline"
    assert_error(
        client.patch(
            f"/api/v1/users/{world.stakeholder_id}", json={"role": "admin"}, headers=carol
        ),
        403,
    )
    own = _token_of(client, world, "stakeholder")
    assert client.delete(f"/api/v1/tokens/{own}", headers=carol).status_code == 204
    me = client.get("/api/v1/users/me", headers=carol).json()
    assert (me["role"], me["name"]) == ("stakeholder", "Caroline")
    # The admin's token was untouched by all of the above.
    assert client.get("/api/v1/users/me", headers=world.auth("admin")).status_code == 200


def test_each_role_gets_exactly_what_its_rule_allows(client: TestClient, world: World) -> None:
    objects = _fixture_objects(client, world)
    for who in ("responder", "admin"):
        objects["user_id"] = world.responder_id if who == "responder" else world.stakeholder_id
        objects["token_id"] = _token_of(client, world, who)
        objects["inhibit_rule_id"] = _inhibit_rule(client, world)
        auth = world.auth(who)
        for method, path in _in_order(RULES):
            need = RULES[(method, path)]
            body: Any = PROBE
            if (method, path) == ("POST", "/api/v1/integrations"):
                # The service is in the body: only a valid one reaches the owning-team check.
                body = {"service_id": objects["service_id"], "type": "generic"}
            if (method, path) == ("POST", "/api/v1/grouping-rules"):
                body = {"service_id": objects["service_id"], "keys": ["severity"]}
            r = _call(client, method, _url(path, objects), auth, body)
            if need == "self" or RANK[who] >= RANK[need]:
                assert r.status_code not in (401, 403), (who, method, path, r.text)
                if method == "GET":
                    assert r.status_code == 200, (who, path, r.text)
            else:
                assert_error(r, 403, "forbidden")
                assert need in r.json()["error"]["message"]
    # The probes wrote nothing: the world's integrations and services are as they were.
    admin = world.auth("admin")
    keys = {
        i["type"]: i["routing_key"]
        for i in client.get("/api/v1/integrations", headers=admin).json()
    }
    assert keys["alertmanager"] == world.alertmanager_key


def test_public_routes_need_no_user_token(client: TestClient, world: World) -> None:
    for path in (
        "/healthz",
        "/readyz",
        "/metrics",
        "/openapi.json",
        "/docs",
        "/redoc",
        "/docs/oauth2-redirect",
    ):
        assert client.get(path).status_code == 200, path
    assert send_pd(client, pd_event(world.pagerduty_key)).status_code == 202
    event = {"summary": "queue backlog", "severity": "warning"}
    assert client.post(f"/integrations/generic/{world.generic_key}", json=event).status_code == 202
    r = client.post(
        "/integrations/generic",
        json=event,
        headers={"Authorization": f"Bearer {world.generic_key}"},
    )
    assert r.status_code == 202
    hook = {
        "version": "4",
        "status": "firing",
        "receiver": "warroom",
        "groupKey": "g",
        "alerts": [
            {
                "status": "firing",
                "labels": {"alertname": "Down"},
                "annotations": {"summary": "down"},
                "fingerprint": "f1",
                "startsAt": "2026-01-01T00:00:00Z",
            }
        ],
    }
    r = client.post(f"/integrations/alertmanager/{world.alertmanager_key}", json=hook)
    assert r.status_code == 200
    r = client.post(
        "/integrations/alertmanager",
        json=hook,
        headers={"Authorization": f"Bearer {world.alertmanager_key}"},
    )
    assert r.status_code == 200

    # Action links are public, so a forged or cut-short one must change nothing.
    incidents = client.get("/api/v1/incidents", headers=world.auth()).json()["items"]
    assert incidents
    for token in ("forged", "eyJpbmNpZGVudCI6MX0.c2ln", world.admin_token):
        assert client.get(f"/act/{token}").status_code == 400
        assert client.post(f"/act/{token}").status_code == 400
    assert client.get("/api/v1/incidents", headers=world.auth()).json()["items"] == incidents


def test_intake_takes_routing_keys_not_user_tokens(client: TestClient, world: World) -> None:
    event = {"summary": "queue backlog", "severity": "warning"}
    assert_error(client.post("/integrations/generic", json=event), 401)
    for token in (world.admin_token, world.responder_token):
        r = client.post(
            "/integrations/generic", json=event, headers={"Authorization": f"Bearer {token}"}
        )
        assert_error(r, 404)
        assert client.post(f"/integrations/generic/{token}", json=event).status_code == 404
    assert send_pd(client, pd_event(world.admin_token)).status_code == 400
    # A key of another integration type is refused too.
    r = client.post(f"/integrations/generic/{world.alertmanager_key}", json=event)
    assert_error(r, 400)


# --- the web app: a session cookie, never a bearer token -----------------------------------------

WEB_PARAMS = {
    "action": "acknowledge",
    "role": "commander",
    "table": "summary",
    "name": "durations",
    "item_id": 1,
    "event_id": 1,
    "list_id": 1,
    "member_id": 1,
}


def _web_objects(client: TestClient, world: World) -> dict[str, Any]:
    admin = world.auth("admin")
    inc = client.post(
        "/api/v1/incidents", json={"title": "web", "impact": 2, "urgency": 2}, headers=admin
    ).json()
    task = client.post(
        f"/api/v1/incidents/{inc['id']}/tasks", json={"title": "t"}, headers=admin
    ).json()
    team = client.post("/api/v1/teams", json={"name": "web team"}, headers=admin).json()
    assert send_pd(client, pd_event(world.pagerduty_key, dedup_key="web-alert")).status_code == 202
    alert = client.get("/api/v1/alerts", headers=admin).json()["items"][0]
    component = client.post("/api/v1/components", json={"name": "Web"}, headers=admin).json()
    window = client.post(
        "/api/v1/maintenance-windows",
        json={"title": "w", "starts_at": "2030-01-01T00:00:00Z", "ends_at": "2030-01-02T00:00Z"},
        headers=admin,
    ).json()
    update = client.post(
        f"/api/v1/incidents/{inc['id']}/status-updates",
        json={"visibility": "internal", "message": "looking"},
        headers=admin,
    ).json()
    return {
        **WEB_PARAMS,
        "component_id": component["id"],
        "window_id": window["id"],
        **oncall_objects(client, world),
        "incident_id": inc["id"],
        "task_id": task["id"],
        "update_id": update["id"],
        "service_id": world.checkout_id,
        "user_id": world.responder_id,
        "team_id": team["id"],
        "alert_id": alert["id"],
        "token_id": client.post("/api/v1/tokens", json={"name": "probe"}, headers=admin).json()[
            "id"
        ],
        "integration_id": client.post(
            "/api/v1/integrations",
            json={"service_id": world.checkout_id, "type": "generic"},
            headers=admin,
        ).json()["id"],
        "silence_id": 1,
        "inhibit_rule_id": 1,
        "grouping_rule_id": 1,
    }


def _web_state(client: TestClient, world: World, incident_id: int) -> tuple[Any, ...]:
    admin = world.auth("admin")
    inc = client.get(f"/api/v1/incidents/{incident_id}", headers=admin).json()
    events = client.get(f"/api/v1/incidents/{incident_id}/timeline", headers=admin).json()
    users = client.get("/api/v1/users", headers=admin).json()["items"]
    teams = client.get("/api/v1/teams", headers=admin).json()["items"]
    return inc, events, users, teams


def test_web_pages_send_anonymous_visitors_to_sign_in(client: TestClient, world: World) -> None:
    objects = _web_objects(client, world)
    before = _web_state(client, world, objects["incident_id"])
    for method, path in sorted(WEB):
        url = _url(path, objects)
        # An API token is not a web session either.
        for headers in ({}, world.auth("admin")):
            r = client.request(
                method, url, headers=headers, data={"title": "x"}, follow_redirects=False
            )
            assert r.status_code == 303, (method, path, r.status_code)
            assert r.headers["location"].startswith("/login"), (method, path)
    assert _web_state(client, world, objects["incident_id"]) == before


def _sign_in(client: TestClient, world: World, username: str, role: str) -> str:
    """A new user with a password signs in through the form; returns the page's CSRF token."""
    r = client.post(
        "/api/v1/users",
        json={"username": username, "role": role, "password": "correct horse battery"},
        headers=world.auth("admin"),
    )
    assert r.status_code == 201, r.text
    form = client.get("/login")
    login_token = re.search(r'name="login_token" value="([^"]+)"', form.text)
    assert login_token, form.text
    r = client.post(
        "/login",
        data={
            "username": username,
            "password": "correct horse battery",
            "login_token": login_token.group(1),
            "next": "/",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    page = client.get("/account")
    assert page.status_code == 200
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert csrf, "no CSRF token on the account page"
    return csrf.group(1)


def test_web_stakeholder_reads_but_never_writes(client: TestClient, world: World) -> None:
    objects = _web_objects(client, world)
    csrf = _sign_in(client, world, "sam", "stakeholder")
    before = _web_state(client, world, objects["incident_id"])
    for method, path in sorted(WEB):
        need = WEB[(method, path)]
        if path == "/events/stream" or need == "self":
            continue  # an endless stream; "self" forms would sign sam out
        url = _url(path, objects)
        if method == "GET":
            r = client.get(url, follow_redirects=False)
            expected = (200, 404) if need == "stakeholder" else (403,)
        else:
            # With the right CSRF token, so that only the role check can refuse it.
            data = {"csrf_token": csrf, "title": "x", "text": "x", "user_id": "1"}
            r = client.post(url, data=data, follow_redirects=False)
            expected = (403,)
        assert r.status_code in expected, (method, path, r.status_code)
    assert _web_state(client, world, objects["incident_id"]) == before
    # A form without the session's CSRF token is refused even for one's own account.
    r = client.post("/logout", data={}, follow_redirects=False)
    assert r.status_code == 403
    assert client.get("/account").status_code == 200  # still signed in


def test_owning_team_responder_sets_up_their_service_only(client: TestClient, world: World) -> None:
    """ADR 10: a responder of the owning team changes their service's setup (not its owner
    team); a responder of another team is refused everything a "team" rule covers."""
    admin = world.auth("admin")
    bob = world.auth("responder")
    team = client.post(
        "/api/v1/teams",
        json={"name": "Checkout", "member_ids": [world.responder_id]},
        headers=admin,
    ).json()
    other = client.post("/api/v1/teams", json={"name": "Data"}, headers=admin).json()
    sid, db_id = world.checkout_id, world.database_id
    assert client.patch(f"/api/v1/services/{sid}", json={"team_id": team["id"]}, headers=admin)
    client.patch(f"/api/v1/services/{db_id}", json={"team_id": other["id"]}, headers=admin)

    r = client.patch(f"/api/v1/services/{sid}", json={"tier": 1}, headers=bob)
    assert r.status_code == 200 and r.json()["tier"] == 1
    assert_error(
        client.patch(f"/api/v1/services/{sid}", json={"team_id": other["id"]}, headers=bob), 403
    )
    made = client.post(
        "/api/v1/integrations", json={"service_id": sid, "type": "generic"}, headers=bob
    )
    assert made.status_code == 201 and made.json()["routing_key"]
    iid = made.json()["id"]
    assert client.post(f"/api/v1/integrations/{iid}/rotate", headers=bob).status_code == 200
    listed = client.get(f"/api/v1/integrations?service_id={sid}", headers=bob).json()
    assert all(i["routing_key"] for i in listed)
    assert client.delete(f"/api/v1/integrations/{iid}", headers=bob).status_code == 204
    r = client.put(
        f"/api/v1/services/{sid}/escalation-policy",
        json={"escalation_policy_id": None},
        headers=bob,
    )
    assert r.status_code == 200

    # Another team's service: refused, and its keys are not shown.
    assert_error(client.patch(f"/api/v1/services/{db_id}", json={"tier": 3}, headers=bob), 403)
    assert_error(
        client.post(
            "/api/v1/integrations", json={"service_id": db_id, "type": "generic"}, headers=bob
        ),
        403,
    )
    theirs = client.get(f"/api/v1/integrations?service_id={db_id}", headers=bob).json()
    assert theirs and all(i["routing_key"] is None for i in theirs)
    assert client.get(f"/api/v1/services/{db_id}", headers=admin).json()["tier"] == 1
