-- 0001: every table the storage ports need.
-- Forward-only: later changes are new files; nothing here is ever edited once applied.
-- Text keys compared or sorted by the adapters use COLLATE "C" (code-point order, as in Python).

CREATE TABLE users (
    id            bigint PRIMARY KEY,
    language      text NOT NULL,
    created_at    timestamptz NOT NULL,
    referrer_id   bigint,
    is_admin      boolean NOT NULL DEFAULT false,
    is_banned     boolean NOT NULL DEFAULT false,
    terms_version integer
);

CREATE TABLE generations (
    id               text COLLATE "C" PRIMARY KEY,
    user_id          bigint NOT NULL,
    model_id         text NOT NULL,
    input            jsonb NOT NULL,
    credits          numeric NOT NULL CHECK (credits >= 0),
    stars            bigint NOT NULL CHECK (stars >= 0),
    held             bigint NOT NULL DEFAULT 0 CHECK (held >= 0),
    is_free          boolean NOT NULL,
    correlation_id   text NOT NULL,
    state            text NOT NULL CHECK (state IN (
                         'pending', 'submitted', 'running', 'delivering',
                         'succeeded', 'failed', 'cancelled')),
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL,
    deadline_at      timestamptz NOT NULL,
    task_id          text COLLATE "C" UNIQUE,
    result_urls      jsonb NOT NULL DEFAULT '[]',
    result_object    jsonb,
    credits_consumed numeric,
    delivered_refs   jsonb NOT NULL DEFAULT '[]',
    reason           text,
    version          integer NOT NULL,
    -- Lower-cased in Python so that search matches exactly like the in-memory store.
    model_search     text NOT NULL,
    prompt_search    text NOT NULL
);
CREATE INDEX generations_by_user ON generations (user_id, created_at DESC, id DESC);
CREATE INDEX generations_by_correlation ON generations (correlation_id);
CREATE INDEX generations_unfinished ON generations (created_at, id)
    WHERE state NOT IN ('succeeded', 'failed', 'cancelled');

-- The ledger: append-only double entry. A transaction's entries sum to zero (checked at
-- commit); cached balances are updated in the same database transaction and never go negative.
CREATE TABLE ledger_transactions (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    idempotency_key text COLLATE "C" NOT NULL UNIQUE,
    kind            text NOT NULL CHECK (kind IN (
                        'purchase', 'grant', 'hold', 'capture', 'release', 'refund',
                        'purchase_refund')),
    user_id         bigint NOT NULL,
    reference       text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ledger_transactions_by_user ON ledger_transactions (user_id, id DESC);

CREATE TABLE ledger_entries (
    transaction_id bigint NOT NULL REFERENCES ledger_transactions (id),
    position       integer NOT NULL,
    account        text NOT NULL CHECK (account IN (
                       'available', 'held', 'debt', 'telegram', 'promotions', 'revenue')),
    amount         bigint NOT NULL,
    PRIMARY KEY (transaction_id, position)
);

CREATE TABLE ledger_balances (
    user_id   bigint PRIMARY KEY,
    available bigint NOT NULL DEFAULT 0 CONSTRAINT available_not_negative CHECK (available >= 0),
    held      bigint NOT NULL DEFAULT 0 CONSTRAINT held_not_negative CHECK (held >= 0),
    debt      bigint NOT NULL DEFAULT 0 CONSTRAINT debt_not_negative CHECK (debt >= 0)
);

CREATE FUNCTION ledger_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the ledger is append-only: % on % refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'restrict_violation';
END
$$;

CREATE TRIGGER ledger_transactions_append_only
    BEFORE UPDATE OR DELETE ON ledger_transactions
    FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER ledger_transactions_never_emptied
    BEFORE TRUNCATE ON ledger_transactions
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER ledger_entries_append_only
    BEFORE UPDATE OR DELETE ON ledger_entries
    FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER ledger_entries_never_emptied
    BEFORE TRUNCATE ON ledger_entries
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();

CREATE FUNCTION ledger_check_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (SELECT coalesce(sum(amount), 0) FROM ledger_entries
        WHERE transaction_id = NEW.id) <> 0 THEN
        RAISE EXCEPTION 'ledger transaction % does not balance', NEW.idempotency_key
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END
$$;

CREATE CONSTRAINT TRIGGER ledger_transactions_balanced
    AFTER INSERT ON ledger_transactions
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION ledger_check_balanced();

CREATE TABLE payments (
    charge_id  text COLLATE "C" PRIMARY KEY,
    user_id    bigint NOT NULL,
    order_id   text NOT NULL,
    stars      bigint NOT NULL CHECK (stars >= 0),
    credited   bigint NOT NULL CHECK (credited >= 0),
    state      text NOT NULL CHECK (state IN ('processing', 'processed', 'refunded', 'failed')),
    created_at timestamptz NOT NULL
);
CREATE INDEX payments_by_user ON payments (user_id, created_at DESC);

CREATE TABLE events (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    correlation_id text NOT NULL,
    kind           text NOT NULL,
    at             timestamptz NOT NULL,
    user_id        bigint,
    generation_id  text,
    reason         text,
    duration_ms    integer,
    payload        jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX events_by_correlation ON events (correlation_id, at, id);
CREATE INDEX events_by_time ON events (at);

CREATE TABLE update_inbox (
    bot_id       bigint NOT NULL,
    update_id    bigint NOT NULL,
    chat_id      bigint,
    payload      jsonb NOT NULL,
    received_at  timestamptz NOT NULL,
    processed    boolean NOT NULL DEFAULT false,
    processed_at timestamptz,
    PRIMARY KEY (bot_id, update_id)
);
CREATE INDEX update_inbox_pending ON update_inbox (bot_id, update_id) WHERE NOT processed;

-- Where each user is in each chat (the bot's wizard), shared by every instance.
CREATE TABLE conversations (
    bot_id     bigint NOT NULL,
    chat_id    bigint NOT NULL,
    user_id    bigint NOT NULL,
    state      text,
    data       jsonb NOT NULL DEFAULT '{}',
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (bot_id, chat_id, user_id)
);

-- Leader leases, timed by the database clock; epoch grows with every takeover.
CREATE TABLE leader_leases (
    name       text PRIMARY KEY,
    holder     text NOT NULL,
    epoch      bigint NOT NULL CHECK (epoch > 0),
    expires_at timestamptz NOT NULL
);

CREATE TABLE model_toggles (
    model_id   text PRIMARY KEY,
    enabled    boolean NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- Durable jobs: unique by key while they exist; claimed with FOR UPDATE SKIP LOCKED; a claim
-- that is not completed or retried before claimed_until lapses makes the job due again.
CREATE TABLE jobs (
    id            text COLLATE "C" PRIMARY KEY,
    kind          text NOT NULL,
    key           text COLLATE "C" NOT NULL UNIQUE,
    payload       jsonb NOT NULL,
    run_at        timestamptz NOT NULL,
    attempts      integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    claimed_until timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX jobs_due ON jobs (run_at, id);
