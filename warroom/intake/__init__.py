"""Intake: one module per source format, each turning a request body into normalised Signals."""
