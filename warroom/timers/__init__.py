"""The one timer table: every delayed action (escalation steps, later reminders) as a due row."""
