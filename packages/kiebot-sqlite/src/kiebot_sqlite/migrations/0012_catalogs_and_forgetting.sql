-- 0012: synced model catalogs (kiebot models sync) and forgetting users (kiebot users forget):
-- the record of each forgetting, and the one change the append-only ledger allows.
-- Forward-only: nothing here is ever edited once applied.

-- Each sync stores the next version; the newest wins over the catalog shipped with kiebot.
-- document is the whole validated document as JSON (NULL: follow the shipped catalog);
-- price_overrides maps model ids to credits per unit (decimal strings).
CREATE TABLE catalog_versions (
    version         INTEGER PRIMARY KEY CHECK (version > 0),
    document        TEXT,
    price_overrides TEXT NOT NULL DEFAULT '{}',
    actor           TEXT NOT NULL CHECK (actor <> ''),
    summary         TEXT NOT NULL DEFAULT '',
    created_at      TEXT NOT NULL
) STRICT;

-- One row per forgetting (kiebot_core.domain.privacy). anonymous_id (negative, never reused)
-- replaced the user id in the records kept; fingerprint is a one-way hash of the user id.
-- open is 1 only inside the unit of work that forgets, which alone may rewrite that user's
-- ledger and audit entries.
CREATE TABLE forgotten_users (
    anonymous_id   INTEGER PRIMARY KEY CHECK (anonymous_id < 0),
    fingerprint    TEXT NOT NULL,
    forgotten_at   TEXT NOT NULL,
    was_banned     INTEGER NOT NULL DEFAULT 0 CHECK (was_banned IN (0, 1)),
    free_runs_day  TEXT,
    free_runs_used INTEGER NOT NULL DEFAULT 0 CHECK (free_runs_used >= 0),
    open           INTEGER NOT NULL DEFAULT 1 CHECK (open IN (0, 1))
) STRICT;
CREATE INDEX forgotten_users_by_fingerprint ON forgotten_users (fingerprint, forgotten_at);

-- kiebot_fingerprint(user_id) is kiebot_core.domain.privacy.fingerprint of a user id in
-- decimal, registered on every connection kiebot opens (kiebot_sqlite.connection); elsewhere
-- the triggers below cannot run, so the ledger and the audit trail refuse every UPDATE.

-- The ledger stays append-only: no entry ever changes, no row is deleted. The one UPDATE
-- allowed is forgetting's, while its record is open (only inside the unit of work that forgets
-- that very user): their own transaction moves to their anonymous id (its key and reference may
-- change to stop naming them), and the one transaction of someone else's that names them, the
-- inviter's reward grant:referral:<id>, becomes exactly grant:referral:<anonymous id>. Ids,
-- kinds and times never change.
DROP TRIGGER ledger_transactions_no_update;
CREATE TRIGGER ledger_transactions_no_update BEFORE UPDATE ON ledger_transactions
WHEN NOT (
    NEW.id = OLD.id AND NEW.kind = OLD.kind AND NEW.created_at = OLD.created_at
    AND (
        (NEW.user_id <> OLD.user_id AND EXISTS (
            SELECT 1 FROM forgotten_users AS f
            WHERE f.open = 1 AND f.anonymous_id = NEW.user_id
              AND f.fingerprint = kiebot_fingerprint(OLD.user_id)
        ))
        OR (NEW.user_id = OLD.user_id AND OLD.kind = 'grant'
            AND substr(OLD.reference, 1, 9) = 'referral:'
            AND OLD.idempotency_key = 'grant:' || OLD.reference
            AND EXISTS (
                SELECT 1 FROM forgotten_users AS f
                WHERE f.open = 1 AND f.fingerprint = kiebot_fingerprint(substr(OLD.reference, 10))
                  AND NEW.idempotency_key = 'grant:referral:' || f.anonymous_id
                  AND NEW.reference = 'referral:' || f.anonymous_id
            ))
    )
)
BEGIN
    SELECT RAISE(ABORT, 'the ledger is append-only');
END;

-- Forgetting finds the audit entries naming a user by their target.
CREATE INDEX audit_log_by_target ON audit_log (target);

-- The audit trail stays append-only too, but for forgetting's one change, while the record of
-- that very user is open (kiebot_core.domain.privacy.anonymised_entry): the target of an action
-- on the user (grant, ban, unban, user_export) and the user=<id> that starts a refund's detail
-- (generation_refund, payment_refund) become the anonymous id. Who did it, what, when and why
-- never change.
DROP TRIGGER audit_log_no_update;
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
WHEN NOT (
    NEW.id = OLD.id AND NEW.at = OLD.at AND NEW.actor = OLD.actor
    AND NEW.action = OLD.action AND NEW.reason = OLD.reason
    AND (NEW.target <> OLD.target OR NEW.detail <> OLD.detail)
    AND (
        NEW.target = OLD.target
        OR (OLD.action IN ('grant', 'ban', 'unban', 'user_export') AND EXISTS (
            SELECT 1 FROM forgotten_users AS f
            WHERE f.open = 1 AND f.fingerprint = kiebot_fingerprint(OLD.target)
              AND NEW.target = CAST(f.anonymous_id AS TEXT)
        ))
    )
    AND (
        NEW.detail = OLD.detail
        OR (OLD.action IN ('generation_refund', 'payment_refund')
            AND substr(OLD.detail, 1, 5) = 'user='
            AND EXISTS (
                SELECT 1 FROM forgotten_users AS f
                WHERE f.open = 1
                  AND f.fingerprint = kiebot_fingerprint(
                      substr(OLD.detail, 6, instr(OLD.detail || ' ', ' ') - 6))
                  AND NEW.detail = 'user=' || f.anonymous_id
                                   || substr(OLD.detail, instr(OLD.detail || ' ', ' '))
            ))
    )
)
BEGIN
    SELECT RAISE(ABORT, 'the audit trail is append-only');
END;
