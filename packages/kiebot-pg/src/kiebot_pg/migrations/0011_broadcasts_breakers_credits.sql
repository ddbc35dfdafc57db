-- 0011: broadcasts (one delivery per recipient, each sent at most once), users who blocked the
-- bot, the models' circuit breakers with their recent provider failures, and the provider
-- account's credits as last checked. Forward-only: nothing here is ever edited once applied.

-- Set when a send found that the user blocked the bot (or deleted their account); cleared when
-- they unblock it. Broadcasts skip these users.
ALTER TABLE users ADD COLUMN blocked_at timestamptz;

-- text is the message as its author formatted it (Telegram HTML); the segment_* columns are
-- the audience (NULL: anyone); finished_at is set once the sender ended it and reported.
CREATE TABLE broadcasts (
    id                   text COLLATE "C" PRIMARY KEY,
    author_id            bigint NOT NULL,
    text                 text NOT NULL CHECK (text <> ''),
    button_label         text,
    button_url           text,
    segment_language     text,
    segment_active_since timestamptz,
    segment_paid         boolean,
    state                text NOT NULL CHECK (state IN ('sending', 'done', 'cancelled')),
    total                integer NOT NULL CHECK (total >= 0),
    created_at           timestamptz NOT NULL,
    finished_at          timestamptz,
    report_chat_id       bigint NOT NULL,
    progress_message_id  bigint,
    CHECK ((button_label IS NULL) = (button_url IS NULL))
);
CREATE INDEX broadcasts_unfinished ON broadcasts (created_at, id) WHERE finished_at IS NULL;
CREATE INDEX broadcasts_by_created ON broadcasts (created_at DESC, id DESC);

-- One row per recipient, in the order they were chosen (seq). A delivery is claimed
-- (pending → sending) in its own transaction before its message goes out, so it is sent at
-- most once whoever sends.
CREATE TABLE broadcast_deliveries (
    broadcast_id text COLLATE "C" NOT NULL REFERENCES broadcasts (id),
    user_id      bigint NOT NULL,
    seq          integer NOT NULL CHECK (seq >= 0),
    state        text NOT NULL DEFAULT 'pending' CHECK (state IN (
                     'pending', 'sending', 'sent', 'blocked', 'failed', 'unconfirmed')),
    at           timestamptz,
    detail       text NOT NULL DEFAULT '',
    PRIMARY KEY (broadcast_id, user_id)
);
CREATE INDEX broadcast_deliveries_pending ON broadcast_deliveries (broadcast_id, seq)
    WHERE state = 'pending';

-- A model's open or trial circuit (a closed circuit has no row).
CREATE TABLE model_circuits (
    model_id   text COLLATE "C" PRIMARY KEY,
    state      text NOT NULL CHECK (state IN ('open', 'trial')),
    trips      integer NOT NULL CHECK (trips >= 1),
    reason     text NOT NULL,
    detail     text NOT NULL DEFAULT '',
    failures   integer NOT NULL CHECK (failures >= 0),
    changed_at timestamptz NOT NULL,
    retry_at   timestamptz NOT NULL
);

-- Provider failures per model within the breaker's window; older ones are deleted as new
-- ones are recorded.
CREATE TABLE model_failures (
    model_id text COLLATE "C" NOT NULL,
    at       timestamptz NOT NULL
);
CREATE INDEX model_failures_by_model ON model_failures (model_id, at);

-- The one record of the provider account's credits (id 1).
CREATE TABLE provider_credits (
    id         smallint PRIMARY KEY CHECK (id = 1),
    credits    numeric NOT NULL,
    checked_at timestamptz NOT NULL,
    is_low     boolean NOT NULL,
    is_paused  boolean NOT NULL
);
