"""The web app: server-rendered pages, sessions and live updates."""
