-- 0010: the audit trail of operator actions; users' @usernames, when they were last seen and
-- whether a banned user was told; indexes for statistics (as PostgreSQL's 0010).
-- Forward-only: nothing here is ever edited once applied.

ALTER TABLE users ADD COLUMN username TEXT;
ALTER TABLE users ADD COLUMN last_seen_at TEXT;
ALTER TABLE users ADD COLUMN ban_notice_sent INTEGER NOT NULL DEFAULT 0
    CHECK (ban_notice_sent IN (0, 1));
CREATE INDEX users_by_username ON users (lower(username)) WHERE username IS NOT NULL;
CREATE INDEX users_by_created ON users (created_at);

CREATE INDEX generations_by_created ON generations (created_at);
CREATE INDEX payments_by_created ON payments (created_at);
CREATE INDEX ledger_transactions_refunds ON ledger_transactions (created_at)
    WHERE kind IN ('refund', 'purchase_refund');

CREATE TABLE audit_log (
    id     INTEGER PRIMARY KEY AUTOINCREMENT,
    at     TEXT NOT NULL,
    actor  TEXT NOT NULL CHECK (actor <> ''),
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT '',
    reason TEXT NOT NULL DEFAULT ''
) STRICT;
CREATE INDEX audit_log_by_time ON audit_log (at DESC, id DESC);

CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'the audit trail is append-only');
END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'the audit trail is append-only');
END;
