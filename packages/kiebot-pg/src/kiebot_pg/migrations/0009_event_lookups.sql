-- 0009: find events by what an operator has at hand (`/debug ID`, `kiebot debug ID`, `kiebot
-- replay USER_ID`): a generation id, a KIE task id, a Telegram update id or a user id, each in
-- an index-only range read even with millions of events. Forward-only: nothing here is ever
-- edited once applied.

-- Every event of one generation, in order (most events name one).
CREATE INDEX events_by_generation ON events (generation_id, at, id)
    WHERE generation_id IS NOT NULL;

-- A user's journey, newest first for `replay --since`.
CREATE INDEX events_by_user ON events (user_id, at, id) WHERE user_id IS NOT NULL;

-- The KIE task and the Telegram update named in a payload (few events carry either, so the
-- partial indexes stay small); queries repeat the `?` test so the planner can use them.
CREATE INDEX events_by_task ON events ((payload ->> 'kie_task_id'), at, id)
    WHERE payload ? 'kie_task_id';
CREATE INDEX events_by_update ON events ((payload ->> 'update_id'), at, id)
    WHERE payload ? 'update_id';
