"""The REST API under /api/v1: JSON in and out, OpenAPI at /openapi.json."""
