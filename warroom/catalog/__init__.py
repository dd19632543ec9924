"""The catalog: teams, users, API tokens, services with their dependencies, and integrations."""
