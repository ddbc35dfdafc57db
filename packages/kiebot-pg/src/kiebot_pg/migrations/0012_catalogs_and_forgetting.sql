-- 0012: synced model catalogs (kiebot models sync) and forgetting users (/privacy, kiebot users
-- forget): the record of each forgetting, and the one change the append-only ledger allows.
-- Forward-only: nothing here is ever edited once applied.

-- Each sync stores the next version; the newest wins over the catalog shipped with kiebot.
-- document is the whole validated document (NULL: follow the shipped catalog);
-- price_overrides maps model ids to credits per unit (decimal strings).
CREATE TABLE catalog_versions (
    version         integer PRIMARY KEY CHECK (version > 0),
    document        jsonb,
    price_overrides jsonb NOT NULL DEFAULT '{}',
    actor           text NOT NULL CHECK (actor <> ''),
    summary         text NOT NULL DEFAULT '',
    created_at      timestamptz NOT NULL
);

-- One row per forgetting (kiebot_core.domain.privacy). anonymous_id (negative, from the
-- sequence, never reused) replaced the user id in the records kept; fingerprint is a one-way
-- hash of the Telegram id, so a returning person gets no second welcome grant. forgotten_in
-- is the transaction that forgot: only it may rewrite that user's ledger and audit entries
-- (below).
CREATE SEQUENCE anonymous_user_ids;
CREATE TABLE forgotten_users (
    anonymous_id   bigint PRIMARY KEY CHECK (anonymous_id < 0),
    fingerprint    text COLLATE "C" NOT NULL,
    forgotten_at   timestamptz NOT NULL,
    was_banned     boolean NOT NULL DEFAULT false,
    free_runs_day  date,
    free_runs_used integer NOT NULL DEFAULT 0 CHECK (free_runs_used >= 0),
    forgotten_in   xid8 NOT NULL DEFAULT pg_current_xact_id()
);
CREATE INDEX forgotten_users_by_fingerprint ON forgotten_users (fingerprint, forgotten_at);

-- The fingerprint kiebot_core.domain.privacy.fingerprint computes, of a user id in decimal.
CREATE FUNCTION forgotten_fingerprint(user_id text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT encode(sha256(convert_to('kiebot-forgotten-user:' || user_id, 'UTF8')), 'hex')
$$;

-- The anonymous id of the user id `user_id` (decimal text) if this very transaction forgets
-- them, else NULL: what ties the one change the append-only tables allow to that user.
CREATE FUNCTION forgetting_now(user_id text) RETURNS bigint
LANGUAGE sql STABLE STRICT AS $$
    SELECT f.anonymous_id FROM forgotten_users AS f
    WHERE f.fingerprint = forgotten_fingerprint(user_id)
      AND f.forgotten_in = pg_current_xact_id()
$$;

-- The ledger stays append-only: no entry ever changes, no row is deleted or truncated. The one
-- UPDATE allowed is forgetting's, in the transaction that recorded the forgetting of that very
-- user: their own transaction moves to their anonymous id (its key and reference may change to
-- stop naming them), and the one transaction of someone else's that names them, the inviter's
-- reward grant:referral:<id>, becomes exactly grant:referral:<anonymous id>. Ids, kinds and
-- times never change.
CREATE OR REPLACE FUNCTION ledger_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    invited text;
BEGIN
    IF TG_OP = 'UPDATE' AND TG_TABLE_NAME = 'ledger_transactions' THEN
        IF NEW.id = OLD.id AND NEW.kind = OLD.kind AND NEW.created_at = OLD.created_at THEN
            IF NEW.user_id <> OLD.user_id THEN
                IF NEW.user_id = forgetting_now(OLD.user_id::text) THEN
                    RETURN NEW;
                END IF;
            ELSIF OLD.kind = 'grant' AND starts_with(OLD.idempotency_key, 'grant:referral:') THEN
                invited := substr(OLD.idempotency_key, length('grant:referral:') + 1);
                IF OLD.reference = 'referral:' || invited
                   AND NEW.idempotency_key = 'grant:referral:' || forgetting_now(invited)
                   AND NEW.reference = 'referral:' || forgetting_now(invited)
                THEN
                    RETURN NEW;
                END IF;
            END IF;
        END IF;
    END IF;
    RAISE EXCEPTION 'the ledger is append-only: % on % refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'restrict_violation';
END
$$;

-- Forgetting finds the audit entries naming a user by their target.
CREATE INDEX audit_log_by_target ON audit_log (target);

-- The audit trail stays append-only too, but for forgetting's one change, in the transaction
-- that forgets that very user (kiebot_core.domain.privacy.anonymised_entry): the target of an
-- action on the user (grant, ban, unban, user_export) and the user=<id> that starts a
-- refund's detail (generation_refund, payment_refund) become the anonymous id. Who did it,
-- what, when and why never change.
CREATE OR REPLACE FUNCTION audit_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    named text;
BEGIN
    IF TG_OP = 'UPDATE'
       AND NEW.id = OLD.id AND NEW.at = OLD.at AND NEW.actor = OLD.actor
       AND NEW.action = OLD.action AND NEW.reason = OLD.reason
       AND (NEW.target <> OLD.target OR NEW.detail <> OLD.detail)
    THEN
        named := substr(split_part(OLD.detail, ' ', 1), length('user=') + 1);
        IF (NEW.target = OLD.target
            OR (OLD.action IN ('grant', 'ban', 'unban', 'user_export')
                AND NEW.target = forgetting_now(OLD.target)::text))
           AND (NEW.detail = OLD.detail
            OR (OLD.action IN ('generation_refund', 'payment_refund')
                AND starts_with(OLD.detail, 'user=')
                AND NEW.detail = 'user=' || forgetting_now(named)
                                 || substr(OLD.detail, length('user=' || named) + 1)))
        THEN
            RETURN NEW;
        END IF;
    END IF;
    RAISE EXCEPTION 'the audit trail is append-only: % on % refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'restrict_violation';
END
$$;
