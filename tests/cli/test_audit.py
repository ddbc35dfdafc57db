"""``kiebot audit`` and the operator commands that write the audit trail (``DATABASE_URL``)."""

import getpass
import json

from kiebot_core.domain.audit import AuditAction, cli_actor
from tests.cli.bot_store import BotStore, bot_store
from tests.cli.test_payments import ANN, Shop, shop

__all__ = ["bot_store", "shop"]


async def entries(store: BotStore) -> list[dict[str, str]]:
    result = await store.run("audit", "--json")
    assert result.exit_code == 0, result.output
    parsed: list[dict[str, str]] = json.loads(result.stdout)
    return parsed


async def test_the_trail_shows_who_did_what_when_and_why_newest_first(bot_store: BotStore):
    empty = await bot_store.run("audit")
    assert empty.exit_code == 0, empty.output
    assert "0 audit entries" in empty.stdout

    as_alice = {"KIEBOT_OPERATOR": "alice"}
    granted = await bot_store.run("users", "grant", "123", "50", "--reason", "outage", **as_alice)
    assert granted.exit_code == 0, granted.output
    again = await bot_store.run("users", "grant", "123", "50", "--reason", "outage", **as_alice)
    assert "Already granted" in again.stdout
    created = await bot_store.run(
        "promo", "create", "spring", "--stars", "25", "--reason", "spring campaign"
    )
    assert created.exit_code == 0, created.output

    found = await entries(bot_store)
    assert [
        {k: e[k] for k in ("actor", "action", "target", "detail", "reason")} for e in found
    ] == [
        {
            "actor": cli_actor(getpass.getuser()),
            "action": AuditAction.PROMO_CREATE.value,
            "target": "SPRING",
            "detail": "stars=25 max_uses=unlimited",
            "reason": "spring campaign",
        },
        {
            "actor": "cli:alice",
            "action": AuditAction.GRANT.value,
            "target": "123",
            "detail": "stars=50",
            "reason": "outage",
        },
    ]
    assert found[0]["at"] >= found[1]["at"]

    table = await bot_store.run("audit")
    assert "2 audit entries, newest first" in table.stdout
    for text in ("cli:alice", "grant", "promo_create", "SPRING", "spring campaign", " UTC"):
        assert text in table.stdout
    newest = await bot_store.run("audit", "--limit", "1")
    assert "1 audit entry, newest first" in newest.stdout
    assert "More entries than 1: raise --limit or narrow --since." in newest.stderr
    later = await bot_store.run("audit", "--since", "2999-01-01", "--json")
    assert json.loads(later.stdout) == []
    since_today = await bot_store.run("audit", "--since", found[1]["at"][:10], "--json")
    assert len(json.loads(since_today.stdout)) == 2


async def test_a_malformed_since_is_a_usage_error(bot_store: BotStore):
    result = await bot_store.run("audit", "--since", "last tuesday")
    assert result.exit_code == 2
    assert "is not an ISO date" in result.output


def test_the_trail_lives_in_the_bots_store(cli):
    result = cli("audit")
    assert result.exit_code == 2
    assert "DATABASE_URL" in result.stderr


async def test_a_payment_refund_is_audited_with_its_reason(shop: Shop):
    charge = await shop.paid(ANN, 100)
    result = await shop.run(
        "payments", "refund", charge, "--reason", "asked by mail", KIEBOT_OPERATOR="bob"
    )
    assert result.exit_code == 0, result.output
    again = await shop.run("payments", "refund", charge, KIEBOT_OPERATOR="bob")
    assert again.exit_code == 0, again.output
    trail = await shop.run("audit", "--json")
    assert [
        {k: e[k] for k in ("actor", "action", "target", "detail", "reason")}
        for e in json.loads(trail.stdout)
    ] == [
        {
            "actor": "cli:bob",
            "action": "payment_refund",
            "target": charge,
            "detail": f"user={ANN} stars=100",
            "reason": "asked by mail",
        }
    ]
