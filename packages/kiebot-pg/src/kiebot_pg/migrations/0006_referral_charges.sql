-- 0006: which payment paid an inviter's reward (that purchase is not refunded by its user).
-- Forward-only: nothing here is ever edited once applied.

ALTER TABLE referral_rewards ADD COLUMN charge_id text COLLATE "C";
CREATE UNIQUE INDEX referral_rewards_by_charge ON referral_rewards (charge_id);
