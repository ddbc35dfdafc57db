-- 0008: per-user rate limits are counted where the bot's instances meet (PostgreSQL's
-- rate_limits table, or Redis); the CLI's SQLite store has none. This step keeps the two
-- adapters' migrations numbered alike. Forward-only: nothing here is ever edited once applied.
SELECT 1;
