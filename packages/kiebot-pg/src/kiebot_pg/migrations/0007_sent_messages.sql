-- 0007: the journal of calls made while handling inbox updates, so a retried update does not
-- answer twice (kiebot_core.ports.storage.SentMessageRepository).
-- Forward-only: nothing here is ever edited once applied.

-- seq numbers an update's journaled calls from 1; result is Telegram's answer to the call.
CREATE TABLE sent_messages (
    bot_id      bigint NOT NULL,
    update_id   bigint NOT NULL,
    seq         integer NOT NULL CHECK (seq >= 1),
    method      text NOT NULL,
    result      jsonb NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (bot_id, update_id, seq)
);
-- Retention deletes by age.
CREATE INDEX sent_messages_by_time ON sent_messages (recorded_at);
