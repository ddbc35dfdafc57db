-- 0011: broadcasts (one delivery per recipient, each sent at most once), users who blocked the
-- bot, the models' circuit breakers with their recent provider failures, and the provider
-- account's credits as last checked (as PostgreSQL's 0011).
-- Forward-only: nothing here is ever edited once applied.

ALTER TABLE users ADD COLUMN blocked_at TEXT;

CREATE TABLE broadcasts (
    id                   TEXT PRIMARY KEY,
    author_id            INTEGER NOT NULL,
    text                 TEXT NOT NULL CHECK (text <> ''),
    button_label         TEXT,
    button_url           TEXT,
    segment_language     TEXT,
    segment_active_since TEXT,
    segment_paid         INTEGER CHECK (segment_paid IN (0, 1)),
    state                TEXT NOT NULL CHECK (state IN ('sending', 'done', 'cancelled')),
    total                INTEGER NOT NULL CHECK (total >= 0),
    created_at           TEXT NOT NULL,
    finished_at          TEXT,
    report_chat_id       INTEGER NOT NULL,
    progress_message_id  INTEGER,
    CHECK ((button_label IS NULL) = (button_url IS NULL))
) STRICT;
CREATE INDEX broadcasts_by_created ON broadcasts (created_at, id);

CREATE TABLE broadcast_deliveries (
    broadcast_id TEXT NOT NULL REFERENCES broadcasts (id),
    user_id      INTEGER NOT NULL,
    seq          INTEGER NOT NULL CHECK (seq >= 0),
    state        TEXT NOT NULL DEFAULT 'pending' CHECK (state IN (
                     'pending', 'sending', 'sent', 'blocked', 'failed', 'unconfirmed')),
    at           TEXT,
    detail       TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (broadcast_id, user_id)
) STRICT;
CREATE INDEX broadcast_deliveries_by_seq ON broadcast_deliveries (broadcast_id, state, seq);

CREATE TABLE model_circuits (
    model_id   TEXT PRIMARY KEY,
    state      TEXT NOT NULL CHECK (state IN ('open', 'trial')),
    trips      INTEGER NOT NULL CHECK (trips >= 1),
    reason     TEXT NOT NULL,
    detail     TEXT NOT NULL DEFAULT '',
    failures   INTEGER NOT NULL CHECK (failures >= 0),
    changed_at TEXT NOT NULL,
    retry_at   TEXT NOT NULL
) STRICT;

CREATE TABLE model_failures (
    model_id TEXT NOT NULL,
    at       TEXT NOT NULL
) STRICT;
CREATE INDEX model_failures_by_model ON model_failures (model_id, at);

CREATE TABLE provider_credits (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    credits    TEXT NOT NULL,
    checked_at TEXT NOT NULL,
    is_low     INTEGER NOT NULL CHECK (is_low IN (0, 1)),
    is_paused  INTEGER NOT NULL CHECK (is_paused IN (0, 1))
) STRICT;
