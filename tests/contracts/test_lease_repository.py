import pytest

from kiebot_core.domain.errors import StaleWriteError
from tests.contracts.stores import BACKENDS, Store

pytestmark = pytest.mark.parametrize("uow", BACKENDS, indirect=True)

NAME = "telegram-poller"


async def test_a_free_lease_is_taken_at_epoch_one(uow: Store) -> None:
    ttl = uow.tick
    before = uow.now()
    async with uow() as tx:
        lease = await tx.leases.acquire(NAME, "a", ttl)
        await tx.commit()
    assert lease is not None
    assert (lease.name, lease.holder, lease.epoch) == (NAME, "a", 1)
    uow.assert_close(lease.expires_at, before + ttl)


async def test_a_held_lease_is_refused_to_another_holder(uow: Store) -> None:
    ttl = uow.tick * 10
    async with uow() as tx:
        assert await tx.leases.acquire(NAME, "a", ttl) is not None
        await tx.commit()
    async with uow() as tx:
        assert await tx.leases.acquire(NAME, "b", ttl) is None
        assert await tx.leases.acquire("another-lease", "b", ttl) is not None


async def test_the_holder_renews_in_the_same_epoch(uow: Store) -> None:
    ttl = uow.tick * 2
    async with uow() as tx:
        first = await tx.leases.acquire(NAME, "a", ttl)
        await tx.commit()
    await uow.elapse(uow.tick)
    async with uow() as tx:
        renewed = await tx.leases.acquire(NAME, "a", ttl)
        await tx.commit()
    assert first is not None
    assert renewed is not None
    assert renewed.epoch == first.epoch == 1
    assert renewed.expires_at > first.expires_at


async def test_an_expired_lease_is_taken_over_with_the_next_epoch(uow: Store) -> None:
    ttl = uow.tick
    async with uow() as tx:
        await tx.leases.acquire(NAME, "a", ttl)
        await tx.commit()
    await uow.elapse(ttl)
    async with uow() as tx:
        taken = await tx.leases.acquire(NAME, "b", ttl * 10)
        await tx.commit()
    assert taken is not None
    assert (taken.holder, taken.epoch) == ("b", 2)
    async with uow() as tx:
        assert await tx.leases.acquire(NAME, "a", ttl) is None


async def test_a_holder_coming_back_after_expiry_gets_a_new_epoch(uow: Store) -> None:
    ttl = uow.tick
    async with uow() as tx:
        await tx.leases.acquire(NAME, "a", ttl)
        await tx.commit()
    await uow.elapse(ttl)
    async with uow() as tx:
        again = await tx.leases.acquire(NAME, "a", ttl)
    assert again is not None
    assert again.epoch == 2


async def test_a_released_lease_is_free_for_the_next_holder(uow: Store) -> None:
    ttl = uow.tick * 10
    async with uow() as tx:
        await tx.leases.acquire(NAME, "a", ttl)
        await tx.commit()
    async with uow() as tx:
        await tx.leases.release(NAME, "b")  # not the holder: no effect
        await tx.commit()
    async with uow() as tx:
        assert await tx.leases.acquire(NAME, "b", ttl) is None
        await tx.leases.release(NAME, "a")
        await tx.leases.release(NAME, "a")
        await tx.leases.release("never-taken", "a")
        await tx.commit()
    await uow.elapse(uow.tick / 100)
    async with uow() as tx:
        taken = await tx.leases.acquire(NAME, "b", ttl)
        await tx.commit()
    assert taken is not None
    assert (taken.holder, taken.epoch) == ("b", 2)


async def test_epochs_keep_growing_across_takeovers(uow: Store) -> None:
    ttl = uow.tick
    epochs = []
    for holder in ("a", "b", "a"):
        async with uow() as tx:
            lease = await tx.leases.acquire(NAME, holder, ttl)
            assert lease is not None
            epochs.append(lease.epoch)
            await tx.leases.release(NAME, holder)
            await tx.commit()
        await uow.elapse(uow.tick / 100)
    assert epochs == [1, 2, 3]


async def test_the_current_holder_passes_the_fence(uow: Store) -> None:
    async with uow() as tx:
        lease = await tx.leases.acquire(NAME, "a", uow.tick * 10)
        await tx.commit()
    assert lease is not None
    async with uow() as tx:
        await tx.leases.check(NAME, "a", lease.epoch)


async def test_a_stale_epoch_is_fenced_out_after_a_takeover(uow: Store) -> None:
    async with uow() as tx:
        old = await tx.leases.acquire(NAME, "a", uow.tick)
        await tx.commit()
    assert old is not None
    await uow.elapse(uow.tick)
    async with uow() as tx:
        new = await tx.leases.acquire(NAME, "b", uow.tick * 10)
        await tx.commit()
    assert new is not None
    async with uow() as tx:
        with pytest.raises(StaleWriteError):
            await tx.leases.check(NAME, "a", old.epoch)
        await tx.leases.check(NAME, "b", new.epoch)


async def test_an_expired_or_released_lease_fails_the_fence(uow: Store) -> None:
    async with uow() as tx:
        lease = await tx.leases.acquire(NAME, "a", uow.tick)
        other = await tx.leases.acquire("other", "a", uow.tick * 10)
        await tx.commit()
    assert lease is not None
    assert other is not None
    async with uow() as tx:
        await tx.leases.release("other", "a")
        await tx.commit()
    await uow.elapse(uow.tick)
    async with uow() as tx:
        with pytest.raises(StaleWriteError):
            await tx.leases.check(NAME, "a", lease.epoch)
        with pytest.raises(StaleWriteError):
            await tx.leases.check("other", "a", other.epoch)
        with pytest.raises(StaleWriteError):
            await tx.leases.check("never-taken", "a", 1)
