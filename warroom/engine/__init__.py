"""The engine: the loop that fires due timers (escalation steps) and delivers the outbox."""
