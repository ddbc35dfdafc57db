-- 0002: favorites, a model and its answers saved by a user as a preset to run again.
-- Forward-only: later changes are new files; nothing here is ever edited once applied.
-- answers_key is the SHA-256 of the answers' canonical JSON, computed in Python
-- (kiebot_core.domain.favorites.answers_key): one favorite per user, model and answers.

CREATE TABLE favorites (
    id          text COLLATE "C" PRIMARY KEY,
    user_id     bigint NOT NULL,
    model_id    text NOT NULL,
    answers     jsonb NOT NULL,
    title       text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL,
    answers_key text COLLATE "C" NOT NULL,
    CONSTRAINT favorites_one_per_preset UNIQUE (user_id, model_id, answers_key)
);
CREATE INDEX favorites_by_user ON favorites (user_id, created_at DESC, id DESC);
