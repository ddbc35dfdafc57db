"""``kiebot users export|forget`` against the bot's PostgreSQL store."""

import asyncio
import fnmatch
import json
import stat
from pathlib import Path

import attrs
from aiogram.fsm.storage.base import DefaultKeyBuilder, StorageKey

from kiebot_core.domain.audit import AuditAction
from kiebot_core.domain.generation import Generation, GenerationState
from kiebot_core.domain.ids import UserId
from kiebot_core.domain.ledger import Balance, hold, purchase, purchase_refund, release
from kiebot_core.domain.privacy import fingerprint
from kiebot_core.domain.reasons import ReasonCode
from kiebot_core.domain.texts import Language
from kiebot_core.ports.runtime import SystemClock
from kiebot_core.use_cases.promotions import register_user
from kiebot_redis.client import open_redis
from kiebot_redis.fsm import FSM_PREFIX, user_state_patterns
from tests.cli.bot_store import BotStore, bot_store
from tests.contracts.builders import make_generation, make_payment, planned
from tests.telegram.harness import free_port

__all__ = ["bot_store"]

ANN = UserId(123)
CHECK_LEDGER = Path(__file__).resolve().parents[2] / "deploy" / "check-ledger.sql"


async def ann_with_money(bot_store: BotStore, *, banned: bool = False) -> None:
    """Ann: a welcome gift of 50, a purchase of 110 and a delivered generation of 12."""
    clock = SystemClock()
    await register_user(bot_store.uow, clock, ANN, Language.RU, welcome_stars=50)
    async with bot_store.uow() as uow:
        now = clock.now()
        assert await uow.payments.add(make_payment("charge_ann", at=now, user_id=ANN))
        balance = await uow.ledger.balance(ANN)
        await uow.ledger.append(planned(purchase(balance, ANN, 110, "charge_ann")))
        await uow.generations.add(
            make_generation("gen_ann", at=now, user_id=ANN, state=GenerationState.SUCCEEDED)
        )
        user = await uow.users.get(ANN)
        assert user is not None
        if banned:
            await uow.users.save(attrs.evolve(user, is_banned=True))
        await uow.commit()


async def test_export_prints_one_json_document_and_is_audited(bot_store: BotStore):
    await ann_with_money(bot_store)
    result = await bot_store.run("users", "export", str(ANN), KIEBOT_OPERATOR="ops")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["profile"]["telegram_id"] == ANN
    assert document["profile"]["language"] == "ru"
    assert [g["input"]["prompt"] for g in document["generations"]] == ["a cat in a hat"]
    assert [p["charge_id"] for p in document["payments"]] == ["charge_ann"]
    assert [m["kind"] for m in document["ledger"]] == ["purchase", "grant"]
    assert document["balance"] == {"available": 160, "held": 0, "debt": 0}
    async with bot_store.uow() as uow:
        (entry,) = await uow.audit.recent(limit=5)
    assert (entry.actor, entry.action, entry.target) == ("cli:ops", AuditAction.USER_EXPORT, "123")


async def test_export_to_a_file_only_its_owner_can_read(bot_store: BotStore, tmp_path: Path):
    await ann_with_money(bot_store)
    out = tmp_path / "ann.json"
    result = await bot_store.run("users", "export", str(ANN), "--out", str(out))
    assert result.exit_code == 0, result.output
    assert "Wrote" in result.stderr
    assert "1 generations, 1 payments, 2 ledger moves, 0 favorites" in result.stderr
    assert json.loads(out.read_text())["profile"]["telegram_id"] == ANN
    assert stat.S_IMODE(out.stat().st_mode) == 0o600


async def test_an_unknown_user_has_nothing_to_export_or_forget(bot_store: BotStore):
    for args in (("export", "999"), ("forget", "999", "--yes")):
        result = await bot_store.run("users", *args)
        assert result.exit_code == 2, result.output
        assert "no user 999" in result.stderr


async def test_forget_keeps_the_ledger_consistent_under_an_anonymous_id(bot_store: BotStore):
    await ann_with_money(bot_store)
    quiet = await bot_store.run("users", "forget", str(ANN))
    assert quiet.exit_code == 2
    assert "pass --yes" in quiet.stderr
    assert "balance 160 ⭐ (forfeited when forgotten)" in quiet.stdout
    result = await bot_store.run(
        "users", "forget", str(ANN), "--yes", "--reason", "GDPR request 42", KIEBOT_OPERATOR="ops"
    )
    assert result.exit_code == 0, result.output
    assert "Forgotten: user 123 is now anonymous id -" in result.stdout
    async with bot_store.uow() as uow:
        (record,) = await uow.privacy.forgotten(fingerprint(ANN))
        anonymous = record.anonymous_id
        history = list(reversed(await uow.ledger.history(anonymous, limit=10)))
        assert [t.kind.value for t in history] == ["grant", "purchase"]
        assert await uow.ledger.balance(anonymous) == Balance.of(history) == Balance(160)
        assert await uow.users.get(ANN) is None
        (entry,) = await uow.audit.recent(limit=5)
    assert (entry.action, entry.target, entry.detail, entry.reason) == (
        AuditAction.USER_FORGET,
        str(anonymous),
        "160 ⭐ forfeited",
        "GDPR request 42",
    )
    mismatches = await bot_store.uow.pool.fetch(CHECK_LEDGER.read_text())
    assert mismatches == []


async def test_forget_asks_at_a_terminal(bot_store: BotStore):
    await ann_with_money(bot_store)
    env = {"DATABASE_URL": bot_store.dsn}

    def forget(answer: str):
        return bot_store.cli("users", "forget", str(ANN), env=env, interactive=True, input=answer)

    declined = await asyncio.to_thread(forget, "n\n")
    assert declined.exit_code == 1
    assert "Not forgotten." in declined.stderr
    accepted = await asyncio.to_thread(forget, "y\n")
    assert accepted.exit_code == 0, accepted.output
    assert "Forget user 123? This cannot be undone." in accepted.stdout


async def test_forget_waits_for_running_generations_and_settled_debts(bot_store: BotStore):
    await ann_with_money(bot_store)
    async with bot_store.uow() as uow:
        now = SystemClock().now()
        await uow.generations.add(make_generation("gen_live", at=now, user_id=ANN))
        balance = await uow.ledger.balance(ANN)
        await uow.ledger.append(planned(hold(balance, ANN, 12, "gen_live")))
        await uow.commit()
    running = await bot_store.run("users", "forget", str(ANN), "--yes")
    assert running.exit_code == 2
    assert "still running" in running.stderr
    async with bot_store.uow() as uow:
        generation = await uow.generations.get(make_generation("gen_live", at=now).id)
        assert generation is not None
        failed = generation.failed(ReasonCode.PROVIDER_FAILED, now)
        assert isinstance(failed, Generation)
        await uow.generations.save(failed)
        await uow.ledger.append(planned(release(ANN, 12, "gen_live")))
        await uow.commit()
    async with bot_store.uow() as uow:
        balance = await uow.ledger.balance(ANN)
        await uow.ledger.append(planned(purchase_refund(balance, ANN, 200, "charge_ann")))
        await uow.commit()
    in_debt = await bot_store.run("users", "forget", str(ANN), "--yes")
    assert in_debt.exit_code == 2
    assert "kiebot users grant 123" in in_debt.stderr
    async with bot_store.uow() as uow:
        assert await uow.users.get(ANN) is not None


async def test_a_forgotten_person_comes_back_banned_and_without_a_second_gift(
    bot_store: BotStore,
):
    await ann_with_money(bot_store, banned=True)
    result = await bot_store.run("users", "forget", str(ANN), "--yes")
    assert result.exit_code == 0, result.output
    again = await register_user(
        bot_store.uow, SystemClock(), ANN, Language.EN, welcome_stars=50, invited_by=UserId(9)
    )
    assert again.is_new
    assert again.welcomed == 0
    assert again.user.is_banned
    assert again.user.referrer_id is None
    async with bot_store.uow() as uow:
        assert await uow.ledger.balance(ANN) == Balance()


async def test_forget_leaves_no_audit_entry_naming_the_user(bot_store: BotStore):
    await ann_with_money(bot_store)
    granted = await bot_store.run("users", "grant", str(ANN), "5", "--reason", "sorry")
    assert granted.exit_code == 0, granted.output
    exported = await bot_store.run("users", "export", str(ANN))
    assert exported.exit_code == 0, exported.output
    result = await bot_store.run("users", "forget", str(ANN), "--yes")
    assert result.exit_code == 0, result.output
    async with bot_store.uow() as uow:
        (record,) = await uow.privacy.forgotten(fingerprint(ANN))
        trail = await uow.audit.recent(limit=10)
    assert [(e.action, e.target) for e in reversed(trail)] == [
        (AuditAction.GRANT, str(record.anonymous_id)),
        (AuditAction.USER_EXPORT, str(record.anonymous_id)),
        (AuditAction.USER_FORGET, str(record.anonymous_id)),
    ]
    audit = await bot_store.run("audit", "--json")
    assert audit.exit_code == 0, audit.output
    assert str(ANN) not in audit.stdout


async def test_forget_erases_the_users_wizard_state_in_the_bots_redis(
    bot_store: BotStore, redis_url: str
):
    builder = DefaultKeyBuilder(prefix=FSM_PREFIX, with_bot_id=True)
    bot_id = 900_000_000 + ANN % 1000
    mine = [
        builder.build(StorageKey(bot_id=bot_id, chat_id=ANN, user_id=ANN), part)
        for part in ("state", "data")
    ]
    other = builder.build(StorageKey(bot_id=bot_id, chat_id=1123, user_id=1123), "state")
    async with open_redis(redis_url) as client:
        for key in [*mine, other]:
            await client.set(key, "x")
        try:
            await ann_with_money(bot_store)
            result = await bot_store.run("users", "forget", str(ANN), "--yes", REDIS_URL=redis_url)
            assert result.exit_code == 0, result.output
            assert "Erased 2 wizard state keys" in result.stdout
            assert "redis://" not in result.output
            assert await client.exists(*mine) == 0
            assert await client.exists(other) == 1
        finally:
            await client.delete(*mine, other)


async def test_forget_changes_nothing_when_the_bots_redis_cannot_be_reached(bot_store: BotStore):
    await ann_with_money(bot_store)
    result = await bot_store.run(
        "users", "forget", str(ANN), "--yes", REDIS_URL=f"redis://127.0.0.1:{free_port()}/0"
    )
    assert result.exit_code != 0
    assert "could not be erased; try again" in " ".join(result.stderr.split())
    assert "Forgotten: user" not in result.stdout
    async with bot_store.uow() as uow:
        assert await uow.users.get(UserId(ANN)) is not None, "nothing was forgotten"


def test_the_redis_patterns_match_the_bots_fsm_keys_of_that_user_only():
    builder = DefaultKeyBuilder(prefix=FSM_PREFIX, with_bot_id=True)
    mine = [
        builder.build(StorageKey(bot_id=77, chat_id=ANN, user_id=ANN), part)
        for part in ("state", "data")
    ]
    in_a_topic = builder.build(
        StorageKey(bot_id=77, chat_id=-100, user_id=ANN, thread_id=5), "data"
    )
    others = [
        builder.build(StorageKey(bot_id=77, chat_id=1123, user_id=1123), "state"),
        builder.build(StorageKey(bot_id=77, chat_id=-100, user_id=7, thread_id=ANN), "data"),
    ]
    patterns = user_state_patterns(ANN)

    def matched(key: str) -> bool:
        return any(fnmatch.fnmatchcase(key, pattern) for pattern in patterns)

    assert all(matched(key) for key in [*mine, in_a_topic])
    assert not any(matched(key) for key in others)
