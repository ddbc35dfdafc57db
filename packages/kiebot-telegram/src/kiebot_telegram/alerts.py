"""Alerts to the admins (``ADMIN_IDS``) in each admin's language: the circuit breaker, credits."""

import logging
from collections.abc import Collection, Mapping

import attrs
from aiogram import Bot

from kiebot_core.domain.alerts import AdminAlert, AlertKind
from kiebot_core.domain.texts import Language
from kiebot_core.ports.operations import AdminNotifier
from kiebot_core.ports.storage import UnitOfWorkFactory
from kiebot_telegram.admins import notify_admins
from kiebot_telegram.formatting import clip, escape
from kiebot_telegram.texts import Msg, t

_log = logging.getLogger(__name__)

MAX_DETAIL = 300
"""How much of a provider's failure text an alert shows."""

_TEXTS: Mapping[AlertKind, Msg] = {
    AlertKind.CIRCUIT_OPENED: Msg.ALERT_CIRCUIT_OPENED,
    AlertKind.CIRCUIT_TRIAL: Msg.ALERT_CIRCUIT_TRIAL,
    AlertKind.CREDITS_LOW: Msg.ALERT_CREDITS_LOW,
    AlertKind.CREDITS_EXHAUSTED: Msg.ALERT_CREDITS_EXHAUSTED,
    AlertKind.CREDITS_RESUMED: Msg.ALERT_CREDITS_RESUMED,
    AlertKind.CREDITS_RECOVERED: Msg.ALERT_CREDITS_RECOVERED,
}


def alert_text(language: Language, alert: AdminAlert) -> str:
    """The alert as an admin reads it (HTML; every value escaped)."""
    values = alert.values
    fields: dict[str, object] = {}
    match alert.kind:
        case AlertKind.CIRCUIT_OPENED:
            fields = {
                "model": values.get("model", ""),
                "failures": values.get("failures", ""),
                "window": values.get("window_min", ""),
                "reason": values.get("reason", ""),
                "retry": values.get("retry_min", ""),
                "detail": clip(str(values.get("detail", "")), MAX_DETAIL) or "—",
            }
        case AlertKind.CIRCUIT_TRIAL:
            fields = {"model": values.get("model", ""), "minutes": values.get("trial_min", "")}
        case (
            AlertKind.CREDITS_LOW
            | AlertKind.CREDITS_EXHAUSTED
            | AlertKind.CREDITS_RESUMED
            | AlertKind.CREDITS_RECOVERED
        ):
            fields = {
                "credits": values.get("credits", ""),
                "threshold": values.get("threshold", ""),
            }
    return t(language, _TEXTS[alert.kind], **{k: escape(v) for k, v in fields.items()})


@attrs.frozen
class TelegramAdminNotifier(AdminNotifier):
    """Sends alerts to ``admin_ids`` with ``bot`` (each in the language the admin uses)."""

    bot: Bot
    store: UnitOfWorkFactory
    admin_ids: Collection[int]

    async def notify(self, alert: AdminAlert) -> int:
        reached = await notify_admins(
            self.bot, self.store, self.admin_ids, lambda language: alert_text(language, alert)
        )
        if not reached:
            _log.warning(
                "alert %s reached no admin (%d in ADMIN_IDS)", alert.kind, len(self.admin_ids)
            )
        return reached
