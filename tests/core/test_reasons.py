import pytest

from kiebot_core.domain.reasons import POLICY, ReasonCode, reason_text
from kiebot_core.domain.texts import Language, Localized, language_for

PINNED = {
    "invalid_input", "missing_input", "insufficient_balance", "in_debt", "free_quota_exhausted",
    "rate_limited", "too_many_generations", "stale_action", "unknown_action", "wizard_expired",
    "model_unknown", "model_disabled", "file_too_large", "unsupported_file", "terms_not_accepted",
    "banned", "cancelled", "content_policy", "provider_rejected", "provider_failed",
    "provider_timeout", "provider_unavailable", "provider_rate_limited",
    "provider_input_unreachable", "provider_no_credits", "provider_auth",
    "provider_feature_disabled", "delivery_failed", "result_expired", "payment_duplicate",
    "payment_invalid", "order_expired", "refund_not_allowed",
    "refund_referral_rewarded", "terms_changed", "promo_unknown",
    "promo_expired", "promo_used_up", "promo_already_redeemed", "referral_refused",
    "price_unknown", "configuration_error", "storage_error", "internal_error",
    "generations_running", "user_unknown", "catalog_invalid",
}  # fmt: skip


def test_reason_codes_are_pinned():
    # Codes are stored and used as metric labels: a rename must be a deliberate change here.
    assert {code.value for code in ReasonCode} == PINNED


def test_every_reason_code_has_a_policy():
    assert set(POLICY) == set(ReasonCode)


@pytest.mark.parametrize("code", list(ReasonCode))
@pytest.mark.parametrize("language", list(Language))
def test_every_reason_code_has_a_text_in_every_language(code, language):
    text = reason_text(code, language)
    assert text.strip()
    assert "<" not in text  # plain text: the shells escape and format it


def test_operator_problems_alert_the_operator_and_user_mistakes_do_not():
    assert POLICY[ReasonCode.PROVIDER_NO_CREDITS].alert_operator
    assert not POLICY[ReasonCode.INVALID_INPUT].alert_operator
    assert POLICY[ReasonCode.INVALID_INPUT].is_user_fault
    assert not POLICY[ReasonCode.PROVIDER_TIMEOUT].is_user_fault


@pytest.mark.parametrize(
    ("code", "language"),
    [
        ("ru", Language.RU),
        ("ru-RU", Language.RU),
        ("en-US", Language.EN),
        ("de", Language.EN),
        (None, Language.EN),
    ],
)
def test_language_detection(code, language):
    assert language_for(code) is language


def test_a_text_missing_a_language_is_refused():
    with pytest.raises(ValueError, match="ru"):
        Localized.from_mapping({"en": "Hello", "ru": " "})
