from datetime import timedelta

import pytest

from kiebot_core.domain.errors import NotFoundError
from kiebot_core.domain.ids import JobId
from kiebot_core.domain.jobs import Job
from tests.contracts.builders import make_job
from tests.contracts.stores import BACKENDS, Store

pytestmark = pytest.mark.parametrize("uow", BACKENDS, indirect=True)


async def enqueue(uow: Store, *jobs: Job) -> list[bool]:
    async with uow() as tx:
        added = [await tx.jobs.enqueue(job) for job in jobs]
        await tx.commit()
    return added


async def claim(uow: Store, limit: int = 10) -> list[Job]:
    async with uow() as tx:
        claimed = await tx.jobs.claim(limit=limit)
        await tx.commit()
    return claimed


async def test_a_key_is_enqueued_once(uow: Store) -> None:
    now = uow.now()
    first = make_job("job_1", run_at=now, key="submit:gen_1")
    assert await enqueue(uow, first, make_job("job_2", run_at=now, key="submit:gen_1")) == [
        True,
        False,
    ]
    assert await enqueue(uow, make_job("job_3", run_at=now, key="submit:gen_1")) == [False]
    claimed = await claim(uow)
    assert [job.id for job in claimed] == ["job_1"]


async def test_a_claim_takes_due_jobs_in_order_and_counts_an_attempt(uow: Store) -> None:
    now = uow.now()
    jobs = [
        make_job("job_b", run_at=now - timedelta(seconds=5)),
        make_job("job_a", run_at=now - timedelta(seconds=5)),
        make_job("job_c", run_at=now - timedelta(seconds=10)),
        make_job("job_later", run_at=now + timedelta(hours=1)),
    ]
    await enqueue(uow, *jobs)
    claimed = await claim(uow, limit=2)
    assert [(job.id, job.attempts) for job in claimed] == [("job_c", 1), ("job_a", 1)]
    assert claimed[0].payload == jobs[2].payload
    assert claimed[0].key == jobs[2].key
    assert [job.id for job in await claim(uow)] == ["job_b"]
    assert await claim(uow) == []


async def test_a_claimed_job_comes_back_when_its_claim_times_out(uow: Store) -> None:
    await enqueue(uow, make_job(run_at=uow.now()))
    assert [job.attempts for job in await claim(uow)] == [1]
    assert await claim(uow) == []
    await uow.elapse(uow.claim_timeout)
    assert [job.attempts for job in await claim(uow)] == [2]


async def extend(uow: Store, *job_ids: str) -> None:
    async with uow() as tx:
        await tx.jobs.extend([JobId(job_id) for job_id in job_ids])
        await tx.commit()


async def test_a_renewed_claim_outlives_its_first_timeout(uow: Store) -> None:
    await enqueue(uow, make_job(run_at=uow.now()))
    (job,) = await claim(uow)
    await uow.elapse(uow.claim_timeout * 0.6)
    await extend(uow, job.id, "never-enqueued")
    await uow.elapse(uow.claim_timeout * 0.6)
    assert await claim(uow) == [], "still running"
    await uow.elapse(uow.claim_timeout)
    assert [job.attempts for job in await claim(uow)] == [2]


async def test_a_timed_out_claim_is_not_renewed(uow: Store) -> None:
    await enqueue(uow, make_job(run_at=uow.now()))
    (job,) = await claim(uow)
    await uow.elapse(uow.claim_timeout)
    await extend(uow, job.id)
    assert [job.attempts for job in await claim(uow)] == [2], "another worker took it over"


async def test_a_completed_job_is_gone_and_frees_its_key(uow: Store) -> None:
    await enqueue(uow, make_job("job_1", run_at=uow.now(), key="deliver:gen_1"))
    (job,) = await claim(uow)
    async with uow() as tx:
        await tx.jobs.complete(job.id)
        await tx.jobs.complete(job.id)
        await tx.jobs.complete(JobId("never-enqueued"))
        await tx.commit()
    await uow.elapse(uow.claim_timeout)
    assert await claim(uow) == []
    assert await enqueue(uow, make_job("job_2", run_at=uow.now(), key="deliver:gen_1")) == [True]


async def test_a_retried_job_runs_again_at_its_new_time(uow: Store) -> None:
    await enqueue(uow, make_job(run_at=uow.now()))
    (job,) = await claim(uow)
    async with uow() as tx:
        await tx.jobs.retry(job.id, uow.now() + uow.tick)
        await tx.commit()
    assert await claim(uow) == []
    await uow.elapse(uow.tick)
    again = await claim(uow)
    assert [(j.id, j.attempts) for j in again] == [(job.id, 2)]


async def test_retrying_an_unknown_job_is_not_found(uow: Store) -> None:
    async with uow() as tx:
        with pytest.raises(NotFoundError):
            await tx.jobs.retry(JobId("job_404"), uow.now())


async def test_an_uncommitted_claim_is_rolled_back(uow: Store) -> None:
    await enqueue(uow, make_job(run_at=uow.now()))
    async with uow() as tx:
        assert len(await tx.jobs.claim(limit=10)) == 1
    assert [job.attempts for job in await claim(uow)] == [1]
