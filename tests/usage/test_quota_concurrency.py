"""Quotas are exact under concurrency: several processes × many threads admit exactly the limit,
on SQLite and on PostgreSQL, and the count survives a restart (a new process continues it)."""

from __future__ import annotations

import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime

import pytest
import yaml
from sqlalchemy import func, select

from governance.store.tables import usage_decisions, usage_quota
from governance.usage import EVENT_USAGE_ALLOWED, EVENT_USAGE_DENIED, UsageGovernor
from governance.usage.quotas import admit, window
from tests.support.usage_load import hammer
from tests.usage.conftest import UsageWorld

LIMIT = 50
PROCESSES = 2
THREADS = 8
PER_THREAD = 20


def tight_quota(world: UsageWorld, limit: int) -> None:
    data = yaml.safe_load(world.policies.read_text())
    for p in data["policies"]:
        if p["id"] == "standard_quota":
            p["config"] = {"requests_per_hour": limit, "requests_per_day": 10 * limit}
    world.policies.write_text(yaml.safe_dump(data, sort_keys=False))


@pytest.mark.timeout(300)
def test_processes_and_threads_admit_exactly_the_limit(world: UsageWorld) -> None:
    tight_quota(world, LIMIT)
    url = world.store.engine.url.render_as_string(hide_password=False)
    start_at = time.time() + 8.0  # every thread of every process starts together
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=PROCESSES, mp_context=ctx) as pool:
        futures = [
            pool.submit(
                hammer,
                url,
                str(world.policies),
                model="product-recommender",
                user="u-burst",
                threads=THREADS,
                per_thread=PER_THREAD,
                start_at=start_at,
            )
            for _ in range(PROCESSES)
        ]
        results = [f.result(timeout=240) for f in futures]
    attempts = PROCESSES * THREADS * PER_THREAD
    assert sum(r["failed_closed"] for r in results) == 0, results
    assert sum(r["compliant"] for r in results) == LIMIT, results
    assert sum(r["refused"] for r in results) == attempts - LIMIT
    # the processes really ran at the same time (which one wins the quota is a race)
    assert max(r["first"] for r in results) < min(r["last"] for r in results), results

    engine = world.store.engine
    with engine.connect() as conn:
        counters = dict(
            conn.execute(
                select(usage_quota.c.period, usage_quota.c.count).where(usage_quota.c.end_user == "u-burst")
            ).all()
        )
        compliant_rows = conn.execute(
            select(func.count()).select_from(usage_decisions).where(usage_decisions.c.compliant.is_(True))
        ).scalar_one()
    assert counters == {"hour": LIMIT, "day": LIMIT}
    assert compliant_rows == LIMIT
    audit = world.store.audit
    assert len(audit.query(event_type=EVENT_USAGE_ALLOWED, limit=10_000).events) == LIMIT
    assert len(audit.query(event_type=EVENT_USAGE_DENIED, limit=10_000).events) == attempts - LIMIT
    assert audit.verify().ok

    # a restart: a new governor (new engine, new process state) continues the same count
    from governance.store import make_engine

    fresh = make_engine(url)
    try:
        d = UsageGovernor(fresh, policies_path=world.policies).check(
            model="product-recommender", user="u-burst", input="hello", caller="after-restart"
        )
    finally:
        fresh.dispose()
    assert not d.compliant and [v.policy_id for v in d.violations] == ["standard_quota"]
    assert d.quota["hour"].remaining == 0


def test_admit_windows_are_utc_aligned_and_independent(world: UsageWorld) -> None:
    from governance.usage.policies import UsageQuotaPolicy, load_policies

    (quota,) = [p for p in load_policies(world.policies).file.policies if p.id == "credit_scorer_quota"]
    assert isinstance(quota, UsageQuotaPolicy)
    engine = world.store.engine
    dialect = engine.dialect.name
    t1 = datetime(2026, 12, 2, 10, 59, 59, tzinfo=UTC)
    t2 = datetime(2026, 12, 2, 11, 0, 0, tzinfo=UTC)
    assert window("hour", t1).start == "2026-12-02T10" and window("hour", t1).resets_at == "2026-12-02T11:00:00Z"
    assert window("day", t1).resets_at == "2026-12-03T00:00:00Z"
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        mid = world.ids["credit-scorer"]
        outcomes = [
            admit(cur, dialect, policies=[quota], model_id=mid, user="o", now=t1, consume=True).admitted
            for _ in range(6)
        ]
        assert outcomes == [True] * 5 + [False]
        # the next hour starts afresh: the window-edge burst the docs describe
        after = admit(cur, dialect, policies=[quota], model_id=mid, user="o", now=t2, consume=True)
        assert after.admitted and after.windows["hour"].remaining == 4
        read = admit(cur, dialect, policies=[quota], model_id=mid, user="o", now=t1, consume=False)
        assert read.windows["hour"].remaining == 0
        raw.rollback()
    finally:
        raw.close()
