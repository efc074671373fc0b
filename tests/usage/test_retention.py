"""The retention purge (governance.usage.retention), on SQLite and PostgreSQL: expired payloads
and spent quota counters go, everything else stays, one audit event with counts and never text,
reruns write nothing, and the audit chain still verifies."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, insert, select

from governance.cards import load_card
from governance.store import GovernanceStore
from governance.store.tables import usage_decisions, usage_payloads, usage_quota
from governance.usage.retention import (
    DEFAULT_ACTOR,
    ERR_NO_ACTOR,
    EVENT_PAYLOADS_PURGED,
    QUOTA_KEEP,
    QUOTA_PERIODS,
    RetentionError,
    purge_expired,
    quota_cutoffs,
)

REPO = Path(__file__).resolve().parents[2]
CARDS = REPO / "include" / "model_cards"
POLICIES = REPO / "include" / "policies" / "usage.yaml"
NOW = datetime(2026, 12, 10, 12, 30, tzinfo=UTC)
SECRET_TEXT = "please recommend a blender for my kitchen"


def _model(store: GovernanceStore) -> str:
    return store.register(load_card(CARDS / "medium_product_recommender.yaml"), owner="owner").model.id


def _decision(store: GovernanceStore, model_id: str) -> str:
    decision_id = uuid.uuid4().hex
    with store.engine.begin() as conn:
        conn.execute(
            insert(usage_decisions).values(
                id=decision_id,
                created_at=NOW - timedelta(days=40),
                day="2026-10-31",
                model_id=model_id,
                model_status="DEPLOYED",
                end_user="u-1",
                caller="gateway",
                compliant=True,
                input_sha256="0" * 64,
                input_bytes=10,
                policy_sha256="1" * 64,
            )
        )
    return decision_id


def _payload(store: GovernanceStore, decision_id: str, kind: str, expires_at: datetime) -> None:
    with store.engine.begin() as conn:
        conn.execute(
            insert(usage_payloads).values(
                decision_id=decision_id,
                kind=kind,
                text=SECRET_TEXT,
                stored_at=expires_at - timedelta(days=30),
                expires_at=expires_at,
            )
        )


def _quota(store: GovernanceStore, model_id: str, period: str, window_start: str) -> None:
    with store.engine.begin() as conn:
        conn.execute(
            insert(usage_quota).values(
                policy_id="standard_quota",
                model_id=model_id,
                end_user="u-1",
                period=period,
                window_start=window_start,
                count=3,
            )
        )


def _payload_keys(store: GovernanceStore) -> set[tuple[str, str]]:
    with store.engine.connect() as conn:
        return {
            (r.decision_id, r.kind) for r in conn.execute(select(usage_payloads.c.decision_id, usage_payloads.c.kind))
        }


def _quota_keys(store: GovernanceStore) -> set[tuple[str, str]]:
    with store.engine.connect() as conn:
        return {
            (r.period, r.window_start) for r in conn.execute(select(usage_quota.c.period, usage_quota.c.window_start))
        }


def _purge_events(store: GovernanceStore) -> list:
    return store.audit.query(event_type=EVENT_PAYLOADS_PURGED, limit=100).events


def test_purges_expired_payloads_and_old_quota_windows_only(store: GovernanceStore) -> None:
    model_id = _model(store)
    d1, d2, d3, d4 = (_decision(store, model_id) for _ in range(4))
    _payload(store, d1, "input", NOW - timedelta(days=1))  # oldest expired
    _payload(store, d1, "output", NOW - timedelta(hours=2))
    _payload(store, d2, "input", NOW)  # expires exactly now: purged
    _payload(store, d3, "input", NOW + timedelta(microseconds=1))  # a microsecond left: kept
    _payload(store, d4, "output", NOW + timedelta(days=10))
    # hour windows: 12-08T11 ended at 12:00 on the 8th (2 days 30 min ago): purged;
    # 12-08T12 ends at 13:00 (1 day 23.5 h ago): kept
    for start in ("2026-12-01T05", "2026-12-08T11", "2026-12-08T12", "2026-12-10T12"):
        _quota(store, model_id, "hour", start)
    # day windows: 12-07 ended at midnight of the 8th (2.5 days ago): purged; 12-08: kept
    for start in ("2026-11-30", "2026-12-07", "2026-12-08", "2026-12-10"):
        _quota(store, model_id, "day", start)
    events_before = store.audit.count()

    result = purge_expired(store.engine, now=NOW)

    assert result.purged and result.event_id is not None
    assert result.payloads == {"input": 2, "output": 1} and result.payloads_deleted == 3
    assert result.decisions == 2
    assert result.oldest_expiry == NOW - timedelta(days=1)
    assert result.newest_expiry == NOW
    assert result.quota_windows == {"hour": 2, "day": 2} and result.quota_rows_deleted == 4
    assert _payload_keys(store) == {(d3, "input"), (d4, "output")}
    assert _quota_keys(store) == {
        ("hour", "2026-12-08T12"),
        ("hour", "2026-12-10T12"),
        ("day", "2026-12-08"),
        ("day", "2026-12-10"),
    }

    assert store.audit.count() == events_before + 1
    (event,) = _purge_events(store)
    assert event.id == result.event_id and event.actor == DEFAULT_ACTOR and event.model_id is None
    assert event.details == {
        "purged_at": "2026-12-10T12:30:00.000000Z",
        "payloads": {"input": 2, "output": 1},
        "payloads_deleted": 3,
        "decisions": 2,
        "oldest_expiry": "2026-12-09T12:30:00.000000Z",
        "newest_expiry": "2026-12-10T12:30:00.000000Z",
        "quota_windows": {"day": 2, "hour": 2},
        "quota_windows_through": {"day": "2026-12-07", "hour": "2026-12-08T11"},
    }
    written = json.dumps(event.to_dict())
    assert SECRET_TEXT not in written and d1 not in written and d2 not in written
    assert store.audit.verify().ok


def test_rerun_purges_nothing_and_writes_nothing(store: GovernanceStore) -> None:
    model_id = _model(store)
    decision = _decision(store, model_id)
    _payload(store, decision, "input", NOW - timedelta(minutes=1))
    _payload(store, decision, "output", NOW + timedelta(days=1))
    assert purge_expired(store.engine, now=NOW).payloads_deleted == 1
    head = store.audit.head()

    again = purge_expired(store.engine, now=NOW)

    assert not again.purged and again.event_id is None
    assert again.payloads == {} and again.quota_windows == {} and again.oldest_expiry is None
    assert "nothing to purge" in again.summary()
    assert store.audit.head() == head and len(_purge_events(store)) == 1
    assert _payload_keys(store) == {(decision, "output")}

    later = purge_expired(store.engine, now=NOW + timedelta(days=2))  # the output expires too
    assert later.payloads == {"output": 1} and later.decisions == 1
    first, second = _purge_events(store)  # in id order
    assert second.id == later.event_id > first.id and _payload_keys(store) == set()
    assert store.audit.verify().ok


def test_nothing_stored_writes_no_event(store: GovernanceStore) -> None:
    _model(store)
    count = store.audit.count()
    result = purge_expired(store.engine)  # default now: the current time
    assert not result.purged and result.event_id is None
    assert store.audit.count() == count
    assert abs((result.now - datetime.now(UTC)).total_seconds()) < 60


def test_a_naive_now_is_utc(store: GovernanceStore) -> None:
    model_id = _model(store)
    decision = _decision(store, model_id)
    _payload(store, decision, "input", NOW)
    naive = NOW.replace(tzinfo=None)
    assert purge_expired(store.engine, now=naive - timedelta(seconds=1)).payloads_deleted == 0
    result = purge_expired(store.engine, now=naive)
    assert result.payloads_deleted == 1 and result.now == NOW


def test_payloads_kept_by_the_governor_expire_after_their_retention(store: GovernanceStore) -> None:
    """End to end with the rows the usage governor writes itself (SQLite: its own text form of
    the times): the demo policy keeps product-recommender's PII-free payloads 30 days."""
    from governance.usage import UsageGovernor

    model_id = _model(store)
    for status in ("REVIEW_PENDING", "APPROVED", "DEPLOYED"):
        store.transition(model_id, status, actor="admin")
    governor = UsageGovernor(store.engine, policies_path=POLICIES)
    decision = governor.check(model="product-recommender", user="u-7", input=SECRET_TEXT, caller="gateway")
    assert decision.compliant, decision.violations
    assert governor.complete(decision.decision_id, output="the X-200 blender", caller="gateway").compliant
    assert _payload_keys(store) == {(decision.decision_id, "input"), (decision.decision_id, "output")}
    stored = datetime.now(UTC)

    early = purge_expired(store.engine, now=stored + timedelta(days=29))
    assert early.payloads_deleted == 0  # 29 days: the payloads stay
    assert early.quota_windows == {"hour": 1, "day": 1}  # the check's own counters, long closed by then
    assert len(_payload_keys(store)) == 2 and _quota_keys(store) == set()
    result = purge_expired(store.engine, now=stored + timedelta(days=30, minutes=5))
    assert result.payloads == {"input": 1, "output": 1} and result.decisions == 1 and result.quota_windows == {}
    assert _payload_keys(store) == set()
    assert [e.details["payloads_deleted"] for e in _purge_events(store)] == [0, 2]
    assert SECRET_TEXT not in json.dumps([e.to_dict() for e in _purge_events(store)])
    with store.engine.connect() as conn:  # the decision itself stays (by hashes only)
        assert conn.execute(select(func.count()).select_from(usage_decisions)).scalar_one() == 1
    assert store.audit.verify().ok


def test_quota_cutoffs_match_the_windows_quotas_write() -> None:
    from governance.usage.quotas import window

    for now in (NOW, datetime(2027, 1, 1, 0, 0, tzinfo=UTC), datetime(2026, 3, 1, 1, 59, 59, 999999, tzinfo=UTC)):
        cutoffs = quota_cutoffs(now)
        for period, (length, _fmt) in QUOTA_PERIODS.items():
            last = window(period, now - QUOTA_KEEP - length)  # the last window that ended 2 days ago
            assert cutoffs[period] == last.start
            assert _end(last.resets_at) <= now - QUOTA_KEEP
            following = window(period, _end(last.resets_at))  # the next one ends less than 2 days ago
            assert following.start > cutoffs[period] and _end(following.resets_at) > now - QUOTA_KEEP


def _end(resets_at: str) -> datetime:
    return datetime.fromisoformat(resets_at.replace("Z", "+00:00"))


def test_an_empty_actor_is_refused(store: GovernanceStore) -> None:
    with pytest.raises(RetentionError) as err:
        purge_expired(store.engine, now=NOW, actor=" ")
    assert str(err.value) == ERR_NO_ACTOR.format(default=DEFAULT_ACTOR)
