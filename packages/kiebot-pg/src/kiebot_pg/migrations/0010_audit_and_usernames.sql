-- 0010: the audit trail of operator actions; users' @usernames (lookup by admins), when they
-- were last seen (active users) and whether a banned user was told; indexes for the admin's
-- statistics. Forward-only: nothing here is ever edited once applied.

ALTER TABLE users
    ADD COLUMN username text,
    ADD COLUMN last_seen_at timestamptz,
    ADD COLUMN ban_notice_sent boolean NOT NULL DEFAULT false;
-- Admins look users up by @username in any case; Telegram lets a username move to another
-- account, so it is not unique here (the most recently seen owner wins).
CREATE INDEX users_by_username ON users (lower(username)) WHERE username IS NOT NULL;
CREATE INDEX users_by_created ON users (created_at);

-- Statistics (and the margin report) count what happened since a date.
CREATE INDEX generations_by_created ON generations (created_at);
CREATE INDEX payments_by_created ON payments (created_at);
CREATE INDEX ledger_transactions_refunds ON ledger_transactions (created_at)
    WHERE kind IN ('refund', 'purchase_refund');

-- Who did which operator action, to what, when and why; rows are never changed or deleted.
CREATE TABLE audit_log (
    id     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at     timestamptz NOT NULL,
    actor  text NOT NULL CHECK (actor <> ''),
    action text NOT NULL,
    target text NOT NULL,
    detail text NOT NULL DEFAULT '',
    reason text NOT NULL DEFAULT ''
);
CREATE INDEX audit_log_by_time ON audit_log (at DESC, id DESC);

CREATE FUNCTION audit_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit trail is append-only: % on % refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'restrict_violation';
END
$$;

CREATE TRIGGER audit_log_append_only
    BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_refuse_change();
CREATE TRIGGER audit_log_never_emptied
    BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change();
