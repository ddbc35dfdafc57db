"""Reason codes: the one vocabulary for every way an action can end other than success.

Values are lower snake case and append-only: they are stored, logged and used as metric
labels. Each code has a policy (who can do something about it) and a text in every language
(``data/reasons.json``); tests fail when either is missing.
"""

import enum
import json
from collections.abc import Mapping
from functools import cache
from importlib import resources

import attrs

from kiebot_core.domain.texts import Language, Localized


class ReasonCode(enum.StrEnum):
    """Why an action did not succeed."""

    # the user can fix it
    INVALID_INPUT = "invalid_input"
    MISSING_INPUT = "missing_input"
    INSUFFICIENT_BALANCE = "insufficient_balance"
    IN_DEBT = "in_debt"
    FREE_QUOTA_EXHAUSTED = "free_quota_exhausted"
    RATE_LIMITED = "rate_limited"
    TOO_MANY_GENERATIONS = "too_many_generations"
    STALE_ACTION = "stale_action"
    UNKNOWN_ACTION = "unknown_action"
    WIZARD_EXPIRED = "wizard_expired"
    MODEL_UNKNOWN = "model_unknown"
    MODEL_DISABLED = "model_disabled"
    FILE_TOO_LARGE = "file_too_large"
    UNSUPPORTED_FILE = "unsupported_file"
    TERMS_NOT_ACCEPTED = "terms_not_accepted"
    BANNED = "banned"
    CANCELLED = "cancelled"
    # the provider (KIE) failed or refused
    CONTENT_POLICY = "content_policy"
    PROVIDER_REJECTED = "provider_rejected"
    PROVIDER_FAILED = "provider_failed"
    PROVIDER_TIMEOUT = "provider_timeout"
    PROVIDER_UNAVAILABLE = "provider_unavailable"
    PROVIDER_RATE_LIMITED = "provider_rate_limited"
    PROVIDER_INPUT_UNREACHABLE = "provider_input_unreachable"
    PROVIDER_NO_CREDITS = "provider_no_credits"
    PROVIDER_AUTH = "provider_auth"
    PROVIDER_FEATURE_DISABLED = "provider_feature_disabled"
    # delivery of a finished result
    DELIVERY_FAILED = "delivery_failed"
    RESULT_EXPIRED = "result_expired"
    # payments
    PAYMENT_DUPLICATE = "payment_duplicate"
    PAYMENT_INVALID = "payment_invalid"
    ORDER_EXPIRED = "order_expired"
    REFUND_NOT_ALLOWED = "refund_not_allowed"
    REFUND_REFERRAL_REWARDED = "refund_referral_rewarded"
    TERMS_CHANGED = "terms_changed"
    # promotions
    PROMO_UNKNOWN = "promo_unknown"
    PROMO_EXPIRED = "promo_expired"
    PROMO_USED_UP = "promo_used_up"
    PROMO_ALREADY_REDEEMED = "promo_already_redeemed"
    REFERRAL_REFUSED = "referral_refused"
    # privacy and the catalog
    GENERATIONS_RUNNING = "generations_running"
    USER_UNKNOWN = "user_unknown"
    CATALOG_INVALID = "catalog_invalid"
    # us
    PRICE_UNKNOWN = "price_unknown"
    CONFIGURATION_ERROR = "configuration_error"
    STORAGE_ERROR = "storage_error"
    INTERNAL_ERROR = "internal_error"


class Remedy(enum.StrEnum):
    """Who can make the same action succeed."""

    USER_FIX = "user_fix"
    """The user changes something (input, balance, choice) and tries again."""
    RETRY = "retry"
    """Nothing is wrong with the request; the same action may succeed later."""
    OPERATOR = "operator"
    """Only the operator can fix it (configuration, KIE account)."""
    TERMINAL = "terminal"
    """Final for this action; nothing to retry."""


@attrs.frozen
class ReasonPolicy:
    """What follows from a reason code."""

    remedy: Remedy
    alert_operator: bool = False

    @property
    def is_user_fault(self) -> bool:
        """True when the user, not kiebot or KIE, can fix it."""
        return self.remedy is Remedy.USER_FIX


_FIX = ReasonPolicy(Remedy.USER_FIX)
_RETRY = ReasonPolicy(Remedy.RETRY)
_FINAL = ReasonPolicy(Remedy.TERMINAL)
_OPERATOR = ReasonPolicy(Remedy.OPERATOR, alert_operator=True)

POLICY: Mapping[ReasonCode, ReasonPolicy] = {
    ReasonCode.INVALID_INPUT: _FIX,
    ReasonCode.MISSING_INPUT: _FIX,
    ReasonCode.INSUFFICIENT_BALANCE: _FIX,
    ReasonCode.IN_DEBT: _FIX,
    ReasonCode.FREE_QUOTA_EXHAUSTED: _FIX,
    ReasonCode.RATE_LIMITED: _RETRY,
    ReasonCode.TOO_MANY_GENERATIONS: _RETRY,
    ReasonCode.STALE_ACTION: _FIX,
    ReasonCode.UNKNOWN_ACTION: _FIX,
    ReasonCode.WIZARD_EXPIRED: _FIX,
    ReasonCode.MODEL_UNKNOWN: _FIX,
    ReasonCode.MODEL_DISABLED: _FIX,
    ReasonCode.FILE_TOO_LARGE: _FIX,
    ReasonCode.UNSUPPORTED_FILE: _FIX,
    ReasonCode.TERMS_NOT_ACCEPTED: _FIX,
    ReasonCode.BANNED: _FINAL,
    ReasonCode.CANCELLED: _FINAL,
    ReasonCode.CONTENT_POLICY: _FIX,
    ReasonCode.PROVIDER_REJECTED: ReasonPolicy(Remedy.TERMINAL, alert_operator=True),
    ReasonCode.PROVIDER_FAILED: _RETRY,
    ReasonCode.PROVIDER_TIMEOUT: _RETRY,
    ReasonCode.PROVIDER_UNAVAILABLE: _RETRY,
    ReasonCode.PROVIDER_RATE_LIMITED: _RETRY,
    ReasonCode.PROVIDER_INPUT_UNREACHABLE: _FIX,
    ReasonCode.PROVIDER_NO_CREDITS: _OPERATOR,
    ReasonCode.PROVIDER_AUTH: _OPERATOR,
    ReasonCode.PROVIDER_FEATURE_DISABLED: _OPERATOR,
    ReasonCode.DELIVERY_FAILED: _RETRY,
    ReasonCode.RESULT_EXPIRED: _FINAL,
    ReasonCode.PAYMENT_DUPLICATE: _FINAL,
    ReasonCode.PAYMENT_INVALID: _FIX,
    ReasonCode.ORDER_EXPIRED: _FIX,
    ReasonCode.REFUND_NOT_ALLOWED: _FINAL,
    ReasonCode.REFUND_REFERRAL_REWARDED: _FINAL,
    ReasonCode.TERMS_CHANGED: _FIX,
    ReasonCode.PROMO_UNKNOWN: _FIX,
    ReasonCode.PROMO_EXPIRED: _FINAL,
    ReasonCode.PROMO_USED_UP: _FINAL,
    ReasonCode.PROMO_ALREADY_REDEEMED: _FINAL,
    ReasonCode.REFERRAL_REFUSED: _FINAL,
    ReasonCode.GENERATIONS_RUNNING: _RETRY,
    ReasonCode.USER_UNKNOWN: _FIX,
    ReasonCode.CATALOG_INVALID: _FIX,
    ReasonCode.PRICE_UNKNOWN: _OPERATOR,
    ReasonCode.CONFIGURATION_ERROR: _OPERATOR,
    ReasonCode.STORAGE_ERROR: ReasonPolicy(Remedy.RETRY, alert_operator=True),
    ReasonCode.INTERNAL_ERROR: ReasonPolicy(Remedy.RETRY, alert_operator=True),
}


@cache
def _texts() -> Mapping[ReasonCode, Localized]:
    raw = json.loads(
        resources.files("kiebot_core").joinpath("data", "reasons.json").read_text("utf-8")
    )
    return {ReasonCode(code): Localized.from_mapping(text) for code, text in raw.items()}


def reason_text(code: ReasonCode, language: Language) -> str:
    """The user-facing explanation of ``code`` in ``language`` (plain text, no markup)."""
    return _texts()[code](language)


def policy(code: ReasonCode) -> ReasonPolicy:
    """The policy of ``code``."""
    return POLICY[code]
