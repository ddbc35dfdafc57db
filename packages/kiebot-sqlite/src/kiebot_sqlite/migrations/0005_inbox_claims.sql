-- 0005: the update inbox hands out work in order per chat, with claims and parking
-- (kiebot_core.ports.storage.InboxRepository). Forward-only: nothing here is ever edited once applied.

-- A live update is neither processed nor parked. A claim lapses at claimed_until (the
-- adapter's clock); attempts counts the claims. A parked update is out of processing for good.
ALTER TABLE update_inbox ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0);
ALTER TABLE update_inbox ADD COLUMN claimed_until TEXT;
ALTER TABLE update_inbox ADD COLUMN parked_reason TEXT;
ALTER TABLE update_inbox ADD COLUMN parked_at TEXT
    CHECK ((parked_reason IS NULL) = (parked_at IS NULL));

-- The claim query: is there an older live update in the same chat?
CREATE INDEX update_inbox_chat_heads ON update_inbox (bot_id, chat_id, update_id)
    WHERE processed = 0 AND parked_reason IS NULL;
CREATE INDEX update_inbox_parked ON update_inbox (parked_at) WHERE parked_reason IS NOT NULL;
