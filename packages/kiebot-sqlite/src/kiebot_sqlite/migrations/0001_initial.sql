-- 0001: every table the storage ports need, for the CLI's local store.
-- Forward-only: later changes are new files; nothing here is ever edited once applied.
-- STRICT tables keep every value in its declared type: KIE credits are exact decimals kept as
-- TEXT, Stars are INTEGER, timestamps are fixed-width UTC TEXT (so text order is time order),
-- JSON documents are TEXT, booleans are 0/1.

CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    language      TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    referrer_id   INTEGER,
    is_admin      INTEGER NOT NULL DEFAULT 0 CHECK (is_admin IN (0, 1)),
    is_banned     INTEGER NOT NULL DEFAULT 0 CHECK (is_banned IN (0, 1)),
    terms_version INTEGER
) STRICT;

CREATE TABLE generations (
    id               TEXT PRIMARY KEY,
    user_id          INTEGER NOT NULL,
    model_id         TEXT NOT NULL,
    input            TEXT NOT NULL,
    credits          TEXT NOT NULL,
    stars            INTEGER NOT NULL CHECK (stars >= 0),
    held             INTEGER NOT NULL DEFAULT 0 CHECK (held >= 0),
    is_free          INTEGER NOT NULL CHECK (is_free IN (0, 1)),
    correlation_id   TEXT NOT NULL,
    state            TEXT NOT NULL CHECK (state IN (
                         'pending', 'submitted', 'running', 'delivering',
                         'succeeded', 'failed', 'cancelled')),
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL,
    deadline_at      TEXT NOT NULL,
    task_id          TEXT UNIQUE,
    result_urls      TEXT NOT NULL DEFAULT '[]',
    result_object    TEXT,
    credits_consumed TEXT,
    delivered_refs   TEXT NOT NULL DEFAULT '[]',
    reason           TEXT,
    version          INTEGER NOT NULL,
    -- Lower-cased in Python so that search matches exactly like the in-memory store.
    model_search     TEXT NOT NULL,
    prompt_search    TEXT NOT NULL
) STRICT;
CREATE INDEX generations_by_user ON generations (user_id, created_at DESC, id DESC);
CREATE INDEX generations_by_correlation ON generations (correlation_id);
CREATE INDEX generations_unfinished ON generations (created_at, id)
    WHERE state NOT IN ('succeeded', 'failed', 'cancelled');

-- The ledger: append-only double entry; cached balances never go negative.
CREATE TABLE ledger_transactions (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    idempotency_key TEXT NOT NULL UNIQUE,
    kind            TEXT NOT NULL CHECK (kind IN (
                        'purchase', 'grant', 'hold', 'capture', 'release', 'refund',
                        'purchase_refund')),
    user_id         INTEGER NOT NULL,
    reference       TEXT NOT NULL,
    created_at      TEXT NOT NULL
) STRICT;
CREATE INDEX ledger_transactions_by_user ON ledger_transactions (user_id, id DESC);

CREATE TABLE ledger_entries (
    transaction_id INTEGER NOT NULL REFERENCES ledger_transactions (id),
    position       INTEGER NOT NULL,
    account        TEXT NOT NULL CHECK (account IN (
                       'available', 'held', 'debt', 'telegram', 'promotions', 'revenue')),
    amount         INTEGER NOT NULL,
    PRIMARY KEY (transaction_id, position)
) STRICT;

CREATE TABLE ledger_balances (
    user_id   INTEGER PRIMARY KEY,
    available INTEGER NOT NULL DEFAULT 0 CHECK (available >= 0),
    held      INTEGER NOT NULL DEFAULT 0 CHECK (held >= 0),
    debt      INTEGER NOT NULL DEFAULT 0 CHECK (debt >= 0)
) STRICT;

CREATE TRIGGER ledger_transactions_no_update BEFORE UPDATE ON ledger_transactions
BEGIN
    SELECT RAISE(ABORT, 'the ledger is append-only');
END;
CREATE TRIGGER ledger_transactions_no_delete BEFORE DELETE ON ledger_transactions
BEGIN
    SELECT RAISE(ABORT, 'the ledger is append-only');
END;
CREATE TRIGGER ledger_entries_no_update BEFORE UPDATE ON ledger_entries
BEGIN
    SELECT RAISE(ABORT, 'the ledger is append-only');
END;
CREATE TRIGGER ledger_entries_no_delete BEFORE DELETE ON ledger_entries
BEGIN
    SELECT RAISE(ABORT, 'the ledger is append-only');
END;

CREATE TABLE payments (
    charge_id  TEXT PRIMARY KEY,
    user_id    INTEGER NOT NULL,
    order_id   TEXT NOT NULL,
    stars      INTEGER NOT NULL CHECK (stars >= 0),
    credited   INTEGER NOT NULL CHECK (credited >= 0),
    state      TEXT NOT NULL CHECK (state IN ('processing', 'processed', 'refunded', 'failed')),
    created_at TEXT NOT NULL
) STRICT;
CREATE INDEX payments_by_user ON payments (user_id, created_at DESC);

CREATE TABLE events (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    correlation_id TEXT NOT NULL,
    kind           TEXT NOT NULL,
    at             TEXT NOT NULL,
    user_id        INTEGER,
    generation_id  TEXT,
    reason         TEXT,
    duration_ms    INTEGER,
    payload        TEXT NOT NULL DEFAULT '{}'
) STRICT;
CREATE INDEX events_by_correlation ON events (correlation_id, at, id);
CREATE INDEX events_by_time ON events (at);

CREATE TABLE update_inbox (
    bot_id       INTEGER NOT NULL,
    update_id    INTEGER NOT NULL,
    chat_id      INTEGER,
    payload      TEXT NOT NULL,
    received_at  TEXT NOT NULL,
    processed    INTEGER NOT NULL DEFAULT 0 CHECK (processed IN (0, 1)),
    processed_at TEXT,
    PRIMARY KEY (bot_id, update_id)
) STRICT;
CREATE INDEX update_inbox_pending ON update_inbox (bot_id, update_id) WHERE processed = 0;

-- Where each user is in each chat (the bot's wizard).
CREATE TABLE conversations (
    bot_id     INTEGER NOT NULL,
    chat_id    INTEGER NOT NULL,
    user_id    INTEGER NOT NULL,
    state      TEXT,
    data       TEXT NOT NULL DEFAULT '{}',
    updated_at TEXT NOT NULL,
    PRIMARY KEY (bot_id, chat_id, user_id)
) STRICT;

-- Leader leases, timed by the adapter's clock; epoch grows with every takeover.
CREATE TABLE leader_leases (
    name       TEXT PRIMARY KEY,
    holder     TEXT NOT NULL,
    epoch      INTEGER NOT NULL CHECK (epoch > 0),
    expires_at TEXT NOT NULL
) STRICT;

CREATE TABLE model_toggles (
    model_id   TEXT PRIMARY KEY,
    enabled    INTEGER NOT NULL CHECK (enabled IN (0, 1)),
    updated_at TEXT NOT NULL
) STRICT;

-- Durable jobs, unique by key while they exist; a claim lapses at claimed_until.
CREATE TABLE jobs (
    id            TEXT PRIMARY KEY,
    kind          TEXT NOT NULL,
    key           TEXT NOT NULL UNIQUE,
    payload       TEXT NOT NULL,
    run_at        TEXT NOT NULL,
    attempts      INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    claimed_until TEXT
) STRICT;
CREATE INDEX jobs_due ON jobs (run_at, id);
