"""Neutral building blocks shared by domains and shells; imports no domain, no api, no web."""
