-- 0002: favorites, a model and its answers saved by a user as a preset to run again.
-- Forward-only: later changes are new files; nothing here is ever edited once applied.
-- answers_key is the SHA-256 of the answers' canonical JSON, computed in Python
-- (kiebot_core.domain.favorites.answers_key): one favorite per user, model and answers.

CREATE TABLE favorites (
    id          TEXT PRIMARY KEY,
    user_id     INTEGER NOT NULL,
    model_id    TEXT NOT NULL,
    answers     TEXT NOT NULL,
    title       TEXT NOT NULL DEFAULT '',
    created_at  TEXT NOT NULL,
    answers_key TEXT NOT NULL,
    UNIQUE (user_id, model_id, answers_key)
) STRICT;
CREATE INDEX favorites_by_user ON favorites (user_id, created_at DESC, id DESC);
