"""The local channel: messages kept in memory and handed to a callback (the demo's console)."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from warroom.notify.channels.base import Channel, DeliveryResult, OutgoingMessage, Transport


@dataclass(frozen=True, slots=True)
class LocalConfig:
    pass


@dataclass(frozen=True, slots=True)
class Delivered:
    target: str
    message: OutgoingMessage


class LocalTransport(Transport[LocalConfig]):
    """Keeps messages in memory and hands them to a callback: the demo's zero-setup channel."""

    name = "local"
    config_type = LocalConfig

    def __init__(
        self,
        callback: Callable[[str, OutgoingMessage], None] | None = None,
        keep: int = 1000,
    ) -> None:
        # Bounded: a long-running demo must not grow without limit.
        self.outbox: deque[Delivered] = deque(maxlen=keep)
        self.callback = callback

    def deliver(self, message: OutgoingMessage, target: str, config: LocalConfig) -> DeliveryResult:
        self.outbox.append(Delivered(target, message))
        if self.callback is not None:
            try:
                self.callback(target, message)
            except Exception as exc:  # the callback is someone else's code: report, don't crash
                return DeliveryResult.retry(f"local callback failed: {exc!r}")
        return DeliveryResult.success()


def address_problem(address: str, allowed_networks: tuple[str, ...]) -> str | None:
    # Any label: it only names where the console line is meant for. Empty is refused by the
    # schema's min_length.
    return None


CHANNEL = Channel(
    name="local", label="console", transport=LocalTransport(), address_problem=address_problem
)
