-- 0004: the free tier, promo codes, referral rewards (kiebot_core.domain.promotions), measured
-- charges of estimated prices, and an index for the margin report. Forward-only: nothing here is ever edited once applied.

-- Free runs taken per user and UTC day (day as YYYY-MM-DD).
CREATE TABLE free_runs (
    user_id INTEGER NOT NULL,
    day     TEXT NOT NULL,
    used    INTEGER NOT NULL CHECK (used >= 0),
    PRIMARY KEY (user_id, day)
) STRICT;

CREATE TABLE promo_codes (
    code       TEXT PRIMARY KEY,
    stars      INTEGER NOT NULL CHECK (stars > 0),
    max_uses   INTEGER CHECK (max_uses > 0),
    uses       INTEGER NOT NULL DEFAULT 0 CHECK (uses >= 0),
    expires_at TEXT,
    created_at TEXT NOT NULL,
    CHECK (max_uses IS NULL OR uses <= max_uses)
) STRICT;

CREATE TABLE promo_redemptions (
    code        TEXT NOT NULL REFERENCES promo_codes (code),
    user_id     INTEGER NOT NULL,
    redeemed_at TEXT NOT NULL,
    PRIMARY KEY (code, user_id)
) STRICT;

-- One reward per invited user, paid to the user who invited them.
CREATE TABLE referral_rewards (
    invited_id  INTEGER PRIMARY KEY,
    referrer_id INTEGER NOT NULL,
    stars       INTEGER NOT NULL CHECK (stars >= 0),
    rewarded_at TEXT NOT NULL
) STRICT;
CREATE INDEX referral_rewards_by_referrer ON referral_rewards (referrer_id);
CREATE INDEX users_by_referrer ON users (referrer_id) WHERE referrer_id IS NOT NULL;

-- The margin report sums each generation's captures and refunds by reference.
CREATE INDEX ledger_transactions_by_reference ON ledger_transactions (reference);

-- A price quoted at the longest case is "estimated": the charge is measured from the result.
ALTER TABLE generations ADD COLUMN estimated INTEGER NOT NULL DEFAULT 0
    CHECK (estimated IN (0, 1));
ALTER TABLE generations ADD COLUMN charge INTEGER CHECK (charge >= 0);
