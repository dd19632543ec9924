"""A review exported: Markdown (text anyone can paste into a wiki) and PDF (WeasyPrint, from an
autoescaped HTML page with the charts as SVG images).

Both are made from the draft as it is read now, so they carry the record's current numbers.
User text is escaped in both: backslash escapes in Markdown (a title's `<script>` stays text in
any renderer), HTML escaping in the PDF's page.
"""

from __future__ import annotations

import base64
import re
from datetime import datetime, timedelta
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape

from warroom.analytics import charts
from warroom.reviews import logic
from warroom.reviews.draft import Draft
from warroom.reviews.models import SECTIONS

TEMPLATES = Path(__file__).resolve().parent / "templates"
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]<>()#+!|~])")
ROLE_LABELS = {
    "commander": "Incident Commander",
    "communications_lead": "Communications Lead",
    "operations_lead": "Operations Lead",
    "scribe": "Scribe",
}


def md(text: str) -> str:
    """Text as literal Markdown: every character Markdown or HTML could act on is escaped."""
    return _MD_SPECIAL.sub(r"\\\1", text)


def when(value: datetime | None) -> str:
    return f"{value:%Y-%m-%d %H:%M:%S} UTC" if value is not None else "—"


def span(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds < 60:
        return f"{seconds}s"
    minutes, sec = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m {sec:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours}h {minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d {hours}h {minutes:02d}m"


def response_chart(d: Draft) -> bytes:
    return charts.response_times(
        f"Incident #{d.incident.id}: time to each step",
        [(s.label, s.duration.total_seconds()) for s in d.steps],
    )


def markdown(d: Draft) -> str:
    i, r = d.incident, d.review
    status = logic.STATUS_LABELS[r.status] if r else "Not started"
    out = [
        f"# Post-incident review: #{i.id} {md(i.title)}",
        "",
        f"- Status: {status}" + (f", due {when(r.due_at)}" if r else ""),
        f"- Priority: P{i.priority}" + (f", severity {md(i.severity)}" if i.severity else ""),
        f"- Services: {md(', '.join(d.services)) or 'none recorded'}",
        f"- Customers told: {md(d.customers_told)}",
    ]
    if d.reviewers:
        out.append(f"- Reviewers: {md(', '.join(n for _u, n in d.reviewers))}")
    out += ["", "## Key times", "", "| Moment | Time |", "|---|---|"]
    out += [f"| {t.label} | {when(t.at)} |" for t in d.key_times]
    out += ["", "| Duration | |", "|---|---|"]
    out += [f"| {s.label} | {span(s.duration)} |" for s in d.steps]
    if d.time_at_priority:
        out += [
            "",
            "Time at each priority: "
            + ", ".join(f"P{p} {span(v)}" for p, v in d.time_at_priority.items()),
        ]
    out += ["", "## Who held which role", ""]
    out += [
        f"- {ROLE_LABELS.get(h.role, h.role)}: {md(name)} from {when(h.start)}"
        + (f" to {when(h.end)}" if h.end else " to the end")
        for h, name in d.roles
    ] or ["- No roles were assigned."]
    out += [
        "",
        "## Paging and response",
        "",
        f"{d.pages} page(s) to: {md(', '.join(d.people_paged)) or 'nobody'}",
        "",
    ]
    out += [f"- {when(e.at)} {md(e.message)}" for e in d.response]
    if d.status_updates:
        out += ["", "## Status updates", ""]
        out += [
            f"- {when(u.at)} ({u.visibility}, {u.stage}) {md(u.message)}"
            + (f" — impact: {md(u.impact)}" if u.impact else "")
            for u in d.status_updates
        ]
    out += ["", "## Alerts", "", f"{d.alert_total} alert(s)"]
    if d.alerts_by_severity:
        out[-1] += ": " + ", ".join(f"{n} {sev}" for sev, n in sorted(d.alerts_by_severity.items()))
    if d.alert_groups:
        out += [
            "",
            "| Alert | Severity | Service | Count | First | Last |",
            "|---|---|---|---|---|---|",
        ]
        out += [
            f"| {md(g.summary)} | {g.severity} | {md(g.service)} | {g.count} "
            f"| {when(g.first)} | {when(g.last)} |"
            for g in d.alert_groups
        ]
    if d.starred:
        out += ["", "## Starred timeline entries", ""]
        out += [
            f"- {when(e.event.at)} {md(e.event.message)}" + (f" — *{md(e.note)}*" if e.note else "")
            for e in d.starred
        ]
    for name, heading, _prompt in SECTIONS:
        text = getattr(r, name) if r else ""
        out += ["", f"## {heading}", "", md(text) if text else "_Not written yet._"]
    out += ["", "## Action items", ""]
    out += [
        f"- [{'x' if a.status == 'done' else ' '}] {md(a.title)} — {md(a.owner)}, P{a.priority}"
        + (f", due {when(a.due_at)}" if a.due_at else "")
        + (" (overdue)" if a.overdue else "")
        for a in d.action_items
    ] or ["- None."]
    if d.feedback:
        out += ["", "## Responder feedback", ""]
        out += [
            f"- {f.rating}/5 {md(f.user)}" + (f": {md(f.comment)}" if f.comment else "")
            for f in d.feedback
        ]
    out += ["", "## Timeline", ""]
    out += [
        f"- {'★ ' if e.starred else ''}{when(e.event.at)} {md(e.event.actor_name)}: "
        f"{md(e.event.message)}"
        for e in d.timeline
    ]
    return "\n".join(out) + "\n"


_env = Environment(
    loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(default=True), trim_blocks=True
)


def html(d: Draft) -> str:
    chart = base64.b64encode(response_chart(d)).decode()
    return _env.get_template("review_print.html").render(
        d=d,
        chart=f"data:image/svg+xml;base64,{chart}",
        when=when,
        span=span,
        sections=SECTIONS,
        roles=ROLE_LABELS,
        status_label=logic.STATUS_LABELS,
    )


def pdf(d: Draft) -> bytes:
    # Imported on use: it loads Pango, which only the export needs.
    from weasyprint import HTML
    from weasyprint.urls import URLFetcher

    # Nothing from outside: the page and its charts are inline (data: URLs); any other URL,
    # file:// included, is refused.
    fetcher = URLFetcher(allowed_protocols=("data",), allow_redirects=False)
    document: bytes = HTML(string=html(d), url_fetcher=fetcher).write_pdf()
    return document
