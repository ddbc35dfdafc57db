-- 0004: the free tier, promo codes, referral rewards (kiebot_core.domain.promotions), measured
-- charges of estimated prices, and an index for the margin report. Forward-only: nothing here is ever edited once applied.

-- Free runs taken per user and UTC day; a take is a conditional upsert, exact under concurrency.
CREATE TABLE free_runs (
    user_id bigint NOT NULL,
    day     date NOT NULL,
    used    integer NOT NULL CHECK (used >= 0),
    PRIMARY KEY (user_id, day)
);

CREATE TABLE promo_codes (
    code       text COLLATE "C" PRIMARY KEY,
    stars      bigint NOT NULL CHECK (stars > 0),
    max_uses   integer CHECK (max_uses > 0),
    uses       integer NOT NULL DEFAULT 0 CHECK (uses >= 0),
    expires_at timestamptz,
    created_at timestamptz NOT NULL,
    CHECK (max_uses IS NULL OR uses <= max_uses)
);

CREATE TABLE promo_redemptions (
    code        text COLLATE "C" NOT NULL REFERENCES promo_codes (code),
    user_id     bigint NOT NULL,
    redeemed_at timestamptz NOT NULL,
    PRIMARY KEY (code, user_id)
);

-- One reward per invited user, paid to the user who invited them.
CREATE TABLE referral_rewards (
    invited_id  bigint PRIMARY KEY,
    referrer_id bigint NOT NULL,
    stars       bigint NOT NULL CHECK (stars >= 0),
    rewarded_at timestamptz NOT NULL
);
CREATE INDEX referral_rewards_by_referrer ON referral_rewards (referrer_id);
CREATE INDEX users_by_referrer ON users (referrer_id) WHERE referrer_id IS NOT NULL;

-- The margin report sums each generation's captures and refunds by reference.
CREATE INDEX ledger_transactions_by_reference ON ledger_transactions (reference);

-- A price quoted at the longest case is "estimated": the charge is measured from the result.
ALTER TABLE generations
    ADD COLUMN estimated boolean NOT NULL DEFAULT false,
    ADD COLUMN charge bigint CHECK (charge >= 0);
