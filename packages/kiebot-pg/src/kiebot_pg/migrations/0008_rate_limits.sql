-- 0008: hit counters of rate limits in fixed windows (kiebot_core.ports.limits.RateLimiter), timed
-- by the database clock so every instance shares them. Forward-only: nothing here is ever edited
-- once applied.

-- The counters are worth nothing after a crash, so the table skips the WAL (UNLOGGED: a crash
-- empties it, and every limit starts afresh). Spare room in each page lets most hits update
-- their row in place: only a new window changes expires_at, the one other indexed column.
CREATE UNLOGGED TABLE rate_limits (
    key        text COLLATE "C" PRIMARY KEY,
    hits       integer NOT NULL CHECK (hits > 0),
    expires_at timestamptz NOT NULL
) WITH (fillfactor = 70);

-- Ended windows are swept, oldest first, a few at a time.
CREATE INDEX rate_limits_by_expiry ON rate_limits (expires_at);
