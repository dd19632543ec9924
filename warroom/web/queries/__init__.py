"""What the pages read, one module per page: one query per kind of thing on a page, batched by id
(never one per row). Lists are bounded (a page shows at most a few hundred rows) and ordered
along an index: open incidents by (status, priority, triggered_at), timelines by (incident_id,
id), alerts by id and an incident's alerts by (incident_id, id)."""
