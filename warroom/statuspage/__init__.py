"""The public status page: components (mapped to services, in groups), their status history,
subscribers and what the public reads at /status."""
