-- 0007: the journal of calls made while handling inbox updates, so a retried update does not
-- answer twice (kiebot_core.ports.storage.SentMessageRepository).
-- Forward-only: nothing here is ever edited once applied.

-- seq numbers an update's journaled calls from 1; result is Telegram's answer to the call
-- (JSON text), and recorded_at is by the adapter's clock.
CREATE TABLE sent_messages (
    bot_id      INTEGER NOT NULL,
    update_id   INTEGER NOT NULL,
    seq         INTEGER NOT NULL CHECK (seq >= 1),
    method      TEXT NOT NULL,
    result      TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    PRIMARY KEY (bot_id, update_id, seq)
) STRICT;
-- Retention deletes by age.
CREATE INDEX sent_messages_by_time ON sent_messages (recorded_at);
