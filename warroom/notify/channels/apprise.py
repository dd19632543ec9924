"""The chat/push channel: Slack, Teams, Mattermost, Discord, Telegram, ntfy... through an Apprise
URL, with every connection Apprise opens checked by safehttp's guard.

Apprise's plugins do their own HTTP with `requests`, so the send runs inside
`safehttp.guarded_requests()`: each connection is resolved and checked at connect time (DNS
rebinding and redirects included), environment proxies are not used, and a refused address is a
permanent failure that names it. Plugins that do not speak HTTP through `requests` (mailto://
over SMTP, MQTT, XMPP, IRC, syslog, desktop notifications...) cannot be guarded and are refused,
when the contact method is saved and again when sending. Saving also refuses a URL whose host is
an IP literal or ``localhost`` that the guard would refuse, so the mistake shows when typed.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from warroom.config import Settings
from warroom.notify import safehttp
from warroom.notify.channels.base import (
    Channel,
    Contact,
    DeliveryResult,
    OutgoingMessage,
    Transport,
    check_networks,
    one_line,
    render_text,
)

if TYPE_CHECKING:
    from apprise.plugins.base import NotifyBase

# Apprise plugin modules that reach their service some other way than HTTP through `requests`,
# and what they use; a plugin with one of these in its class hierarchy is refused. The test
# suite re-derives this list from the installed Apprise's sources, so a new plugin of this kind
# in a later Apprise fails the tests rather than slipping past the guard.
NOT_HTTP: dict[str, str] = {
    "apprise.plugins.amqp": "AMQP",
    "apprise.plugins.aprs": "APRS-IS (a TCP socket)",
    "apprise.plugins.blink1": "a USB light on the server",
    "apprise.plugins.dbus": "the server's desktop",
    "apprise.plugins.deltachat": "SMTP",
    "apprise.plugins.email": "SMTP",
    "apprise.plugins.glib": "the server's desktop",
    "apprise.plugins.gnome": "the server's desktop",
    "apprise.plugins.growl": "GNTP (a TCP socket)",
    "apprise.plugins.irc": "IRC (a TCP socket)",
    "apprise.plugins.macosx": "the server's desktop",
    "apprise.plugins.mqtt": "MQTT",
    "apprise.plugins.nostr": "websocket relays",
    "apprise.plugins.rsyslog": "remote syslog over UDP",
    "apprise.plugins.smpp": "SMPP",
    "apprise.plugins.syslog": "the server's syslog",
    "apprise.plugins.windows": "the server's desktop",
    "apprise.plugins.xmpp": "XMPP",
}


@dataclass(frozen=True, slots=True)
class AppriseConfig:
    # Networks the guard lets through, as in safehttp (the admin's outbound allow-list).
    allowed_networks: tuple[str, ...] = ()
    # Bound on one attempt, however the plugin sets its own socket timeouts.
    timeout: float = safehttp.DEFAULT_TIMEOUT

    def __post_init__(self) -> None:
        check_networks(self.allowed_networks)


def _plugin_modules(plugin: NotifyBase) -> list[str]:
    return [
        cls.__module__
        for cls in type(plugin).__mro__
        if cls.__module__.startswith("apprise.plugins.")
        and cls.__module__ != "apprise.plugins.base"
    ]


def unguardable(plugin: NotifyBase, scheme: str) -> str | None:
    """Why this plugin's traffic cannot go through the guard, or None when it can."""
    modules = _plugin_modules(plugin)
    for module in modules:
        for prefix, transport in NOT_HTTP.items():
            if module == prefix or module.startswith(prefix + "."):
                return (
                    f"the {scheme}:// service uses {transport}, which Warroom's outbound "
                    "address guard cannot check"
                )
    # Default deny: a plugin none of whose modules uses `requests` sends some other way.
    if not any("requests" in vars(sys.modules[m]) for m in modules if m in sys.modules):
        return f"the {scheme}:// service does not send over HTTP, which Warroom can guard"
    return None


def _scheme(url: str) -> str:
    try:
        return urlsplit(url).scheme.lower()
    except ValueError:
        return ""


def _instantiate(url: str) -> NotifyBase | None:
    import apprise

    # async_mode off: one service, sent in order. Apprise runs it on a worker thread with a copy
    # of the caller's context (so the guard's context variable goes with it); were that ever
    # not so, the "no guarded connection" check in `deliver` reports it.
    asset = apprise.AppriseAsset(async_mode=False, result_log_memory_size=64 * 1024)
    try:
        plugin = apprise.Apprise.instantiate(url, asset=asset, suppress_exceptions=True)
    except Exception:  # a parsing bug in some plugin: the URL is unusable, not a server error
        return None
    return plugin if isinstance(plugin, apprise.plugins.NotifyBase) else None


class AppriseTransport(Transport[AppriseConfig]):
    """Sends through one Apprise URL; every connection it opens passes the safehttp guard."""

    name = "apprise"
    config_type = AppriseConfig

    def deliver(
        self, message: OutgoingMessage, target: str, config: AppriseConfig
    ) -> DeliveryResult:
        import apprise

        plugin = _instantiate(target)
        if plugin is None:
            return DeliveryResult.fail("not a valid Apprise URL")
        problem = unguardable(plugin, _scheme(target))
        if problem is not None:
            return DeliveryResult.fail(problem)
        # Apprise follows redirects by default (even with ?redirect=yes in the URL). Every hop
        # would be checked, but a receiver moved elsewhere should be reconfigured, as webhooks.
        if hasattr(plugin, "redirects"):
            plugin.redirects = False
        service = apprise.Apprise(asset=plugin.asset)
        service.add(plugin)
        notify_type = (
            apprise.NotifyType.FAILURE if message.urgency == "high" else apprise.NotifyType.WARNING
        )
        try:
            with safehttp.guarded_requests(config.allowed_networks) as guard:
                result = service.notify(
                    body=render_text(message),
                    title=one_line(message.subject),
                    notify_type=notify_type,
                    body_format=apprise.NotifyFormat.TEXT,
                    timeout=config.timeout,
                )
        except safehttp.GuardUnavailable as exc:  # never send unguarded
            return DeliveryResult.fail(str(exc))
        if guard.refused:
            return DeliveryResult.fail(str(guard.refused[0]))
        if result:
            if guard.connections == 0:
                # An HTTP plugin that reports success without one guarded connection went
                # around the guard: say so loudly rather than count it as delivered.
                return DeliveryResult.fail(
                    "Apprise reported success without a guarded connection (Warroom bug)"
                )
            return DeliveryResult.success()
        # Apprise reports only "failed"; it cannot tell a bad token from an outage, so the
        # failure is retried and the retry limit moves on to the next contact method.
        return DeliveryResult.retry(_apprise_reason(result))


def _apprise_reason(result: object) -> str:
    # Apprise 2.x results carry the plugin's log lines.
    try:
        logs = getattr(result, "logs", None)
        entries = list(logs()) if callable(logs) else []
        problems = [e.message for e in entries if e.level in ("WARNING", "ERROR")]
    except (AttributeError, TypeError):
        problems = []
    return problems[-1] if problems else "Apprise could not deliver the notification"


def address_problem(address: str, allowed_networks: tuple[str, ...]) -> str | None:
    if any(c.isspace() for c in address):
        return "an address has no spaces"
    scheme = _scheme(address)
    if not scheme or "://" not in address:
        return "an Apprise URL like slack://token or ntfys://topic"
    plugin = _instantiate(address)
    if plugin is None:
        return (
            f"not an Apprise URL Warroom can use: {scheme}:// is unknown, incomplete, "
            "or not available on this server"
        )
    problem = unguardable(plugin, scheme)
    if problem is not None:
        return problem
    # Plugins whose URL names the server to post to (json://host, ntfy://host, matrix://host...)
    # have a "host" token; for the others the host part is a token or an ID, not a destination.
    host = getattr(plugin, "host", None)
    if "host" in getattr(type(plugin), "template_tokens", {}) and isinstance(host, str) and host:
        refused = safehttp.host_problem(host, allowed_networks)
        if refused is not None:
            return f"{scheme}:// to {refused}"
    return None


def settings(settings: Settings, contact: Contact) -> dict[str, Any]:
    return {"allowed_networks": tuple(settings.outbound_allow_networks)}


CHANNEL = Channel(
    name="apprise",
    label="chat/push",
    transport=AppriseTransport(),
    address_problem=address_problem,
    settings=settings,
)
