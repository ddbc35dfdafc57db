import json
from datetime import UTC, datetime, timedelta

from kiebot_core.domain.ids import UserId
from kiebot_core.domain.promotions import PromoCode
from tests.cli.bot_store import BotStore, bot_store

__all__ = ["bot_store"]


async def stored(store: BotStore, code: str) -> PromoCode:
    async with store.uow() as uow:
        promo = await uow.promos.get(code)
    assert promo is not None
    return promo


async def test_a_code_is_created_and_a_date_means_the_end_of_that_utc_day(bot_store):
    result = await bot_store.run(
        "promo", "create", "sun-6", "--stars", "25", "--max-uses", "5", "--expires", "2099-12-31"
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == (
        "Created SUN-6: 25 ⭐ once per user, uses 0/5, expires 2100-01-01 00:00 UTC"
    )
    promo = await stored(bot_store, "SUN-6")
    assert (promo.stars, promo.max_uses, promo.uses) == (25, 5, 0)
    assert promo.expires_at == datetime(2100, 1, 1, tzinfo=UTC)


async def test_a_naive_datetime_is_utc_and_an_offset_is_kept(bot_store):
    naive = await bot_store.run(
        "promo", "create", "NAIVE", "--stars", "5", "--expires", "2099-06-01T12:30"
    )
    offset = await bot_store.run(
        "promo", "create", "OFFSET", "--stars", "5", "--expires", "2099-06-01T12:30+02:00"
    )
    unlimited = await bot_store.run("promo", "create", "FOREVER", "--stars", "5")
    assert (naive.exit_code, offset.exit_code, unlimited.exit_code) == (0, 0, 0)
    assert (await stored(bot_store, "NAIVE")).expires_at == datetime(
        2099, 6, 1, 12, 30, tzinfo=UTC
    )
    assert (await stored(bot_store, "OFFSET")).expires_at == datetime(
        2099, 6, 1, 10, 30, tzinfo=UTC
    )
    assert "uses 0/∞, expires never" in unlimited.stdout
    assert (await stored(bot_store, "FOREVER")).expires_at is None


async def test_codes_are_listed_newest_first_with_their_uses(bot_store):
    assert (await bot_store.run("promo", "list")).stdout.startswith("0 promo codes")
    for code in ("FIRST", "SECOND"):
        created = await bot_store.run("promo", "create", code, "--stars", "10", "--max-uses", "3")
        assert created.exit_code == 0, created.output
    async with bot_store.uow() as uow:
        assert await uow.promos.redeem("SECOND", UserId(1), datetime.now(UTC))
        await uow.commit()
    table = await bot_store.run("promo", "list")
    assert table.exit_code == 0, table.output
    lines = table.stdout.splitlines()
    assert lines[0].strip() == "2 promo codes"
    second, first = (
        next(i for i, line in enumerate(lines) if c in line) for c in ("SECOND", "FIRST")
    )
    assert second < first
    assert "10 ⭐" in lines[second]
    assert "1/3" in lines[second]
    assert "never" in lines[second]
    listed = json.loads((await bot_store.run("promo", "list", "--json")).stdout)
    assert [row["code"] for row in listed] == ["SECOND", "FIRST"]
    assert listed[0] | {"created_at": None} == {
        "code": "SECOND",
        "stars": 10,
        "uses": 1,
        "max_uses": 3,
        "expires_at": None,
        "expired": False,
        "created_at": None,
    }
    created_at = datetime.fromisoformat(listed[0]["created_at"])
    assert abs(datetime.now(UTC) - created_at) < timedelta(minutes=1)


async def test_what_the_core_refuses_is_one_line_and_exit_2(bot_store):
    await bot_store.run("promo", "create", "TAKEN", "--stars", "5")
    refused = {
        ("x!",): "'x!': use 3-32 of A-Z 0-9 _ -",
        ("TAKEN",): "TAKEN exists",
        ("taken",): "TAKEN exists",
        ("ZERO", "--stars", "0"): "stars and max uses must be >= 1",
        ("NOUSE", "--max-uses", "0"): "stars and max uses must be >= 1",
        ("PAST", "--expires", "2020-01-01"): "2020-01-02 00:00:00+00:00 is in the past",
    }
    for args, message in refused.items():
        stars = () if "--stars" in args else ("--stars", "5")
        result = await bot_store.run("promo", "create", *args, *stars)
        assert result.exit_code == 2, (args, result.output)
        assert result.stderr.strip() == f"Error: {message}"
        assert result.stdout == ""
        assert "Traceback" not in result.output


async def test_a_malformed_expiry_is_a_usage_error(bot_store):
    result = await bot_store.run(
        "promo", "create", "SPRING", "--stars", "5", "--expires", "next week"
    )
    assert result.exit_code == 2
    assert "'next week' is not an ISO date" in result.stderr
    async with bot_store.uow() as uow:
        assert await uow.promos.all() == []
