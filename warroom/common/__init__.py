"""Neutral helpers every layer may use (the clock, time zones, schema bases); imports no domain."""
