-- 0009: find events by a generation id, a KIE task id, a Telegram update id or a user id
-- (`kiebot debug ID`, `kiebot replay USER_ID`), as PostgreSQL's 0009. Forward-only: nothing
-- here is ever edited once applied.

CREATE INDEX events_by_generation ON events (generation_id, at, id)
    WHERE generation_id IS NOT NULL;
CREATE INDEX events_by_user ON events (user_id, at, id) WHERE user_id IS NOT NULL;
-- Queries repeat the `IS NOT NULL` test so the planner can use these partial indexes.
CREATE INDEX events_by_task ON events (json_extract(payload, '$.kie_task_id'), at, id)
    WHERE json_extract(payload, '$.kie_task_id') IS NOT NULL;
CREATE INDEX events_by_update ON events (json_extract(payload, '$.update_id'), at, id)
    WHERE json_extract(payload, '$.update_id') IS NOT NULL;
