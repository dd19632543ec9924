"""Incident metrics: pure functions over stored timestamps (`logic.py`) and their queries."""
