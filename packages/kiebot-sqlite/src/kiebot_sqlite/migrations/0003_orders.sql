-- 0003: top-up orders, the invoices sent to users (kiebot_core.domain.payments.Order).
-- Forward-only: later changes are new files; nothing here is ever edited once applied.
-- An order is payable for 24 h after created_at; each payment of it is its own row in payments.

CREATE TABLE orders (
    id            TEXT PRIMARY KEY,
    user_id       INTEGER NOT NULL,
    stars         INTEGER NOT NULL CHECK (stars > 0),
    bonus         INTEGER NOT NULL CHECK (bonus >= 0),
    terms_version INTEGER NOT NULL,
    created_at    TEXT NOT NULL
) STRICT;
CREATE INDEX orders_by_user ON orders (user_id, created_at DESC);
CREATE INDEX payments_by_user_newest ON payments (user_id, created_at DESC, charge_id DESC);
