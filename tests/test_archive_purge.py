"""Purging archived events: only after archive + validation, audited, and verify keeps passing."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from governance.archive import digest_key, part_key
from governance.archive.purge import (
    ERR_BAD_DAYS,
    ERR_NOT_ARCHIVED,
    EVENT_PURGED,
    PurgeRefusedError,
    purge_archived,
)
from governance.s3 import make_client
from governance.store.tables import audit_events
from tests.conftest_s3 import make_archive, settings_for_server, unique_bucket
from tests.support.audit_history import seed_history

pytestmark = pytest.mark.s3

TODAY = datetime.now(UTC).date()
D0 = TODAY - timedelta(days=12)
D1 = D0 + timedelta(days=1)
D2 = D0 + timedelta(days=2)
D3 = D0 + timedelta(days=3)


def _count(engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(audit_events)).scalar_one())


def _seed(store) -> None:
    seed_history(store.engine, days=[(D0, 120), (D1, 0), (D2, 30), (D3, 10)])
    store.audit.append(event_type="model.registered", actor="owner")  # today: never purged


@pytest.mark.parametrize("db_url", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True)
def test_purge_after_archive_keeps_the_chain_verifiable(store, s3_settings):
    _seed(store)
    archive = make_archive(store.engine, s3_settings, part_size=50)
    archive.archive()
    keep_from = TODAY - D2  # days before D2 go: D0 and D1
    result = purge_archived(archive, older_than_days=keep_from.days, actor="records-officer")

    assert (result.through_day, result.deleted, result.base.id) == (D1, 120, 120)
    head = store.audit.head()
    assert (head["base_id"], head["base_hash"]) == (120, result.base.hash)
    verified = store.audit.verify()
    assert verified.ok, verified.summary()
    assert verified.count == 30 + 10 + 1 + 1  # D2, D3, today's event, the purge event
    with store.engine.connect() as conn:
        assert conn.execute(select(func.min(audit_events.c.id))).scalar_one() == 121
    event = store.audit.query(event_type=EVENT_PURGED).events
    assert len(event) == 1 and event[0].id == result.event_id and event[0].actor == "records-officer"
    assert event[0].details["through_date"] == D1.isoformat()
    assert event[0].details["last_id"] == 120 and event[0].details["digest_key"] == digest_key(D1)

    assert archive.validate().ok  # the archive agrees with the purged database
    again = purge_archived(archive, older_than_days=keep_from.days, actor="records-officer")
    assert again.deleted == 0 and again.through_day is None
    assert _count(store.engine) == 42


def test_purge_refuses_unarchived_days(archive_store, s3_settings):
    _seed(archive_store)
    archive = make_archive(archive_store.engine, s3_settings)
    archive.archive(until=D2)  # D0, D1 archived; D2 not
    before = _count(archive_store.engine)
    with pytest.raises(PurgeRefusedError) as err:
        purge_archived(archive, older_than_days=(TODAY - D3).days, actor="admin")
    assert str(err.value) == ERR_NOT_ARCHIVED.format(
        cutoff=D3,
        day=D2,
        key=digest_key(D2),
        bucket=s3_settings.bucket,
        endpoint=s3_settings.endpoint_url,
    )
    assert _count(archive_store.engine) == before


def test_purge_refuses_an_archive_that_does_not_validate(archive_store, s3_server):
    settings = settings_for_server(s3_server, unique_bucket("plain"))
    client = make_client(settings)
    client.create_bucket(Bucket=settings.bucket)
    _seed(archive_store)
    archive = make_archive(archive_store.engine, settings, part_size=50)
    archive.archive()
    client.delete_object(Bucket=settings.bucket, Key=part_key(D0, 1))
    before = _count(archive_store.engine)
    with pytest.raises(PurgeRefusedError) as err:
        purge_archived(archive, older_than_days=(TODAY - D2).days, actor="admin")
    assert "does not validate" in str(err.value) and part_key(D0, 1) in str(err.value)
    assert _count(archive_store.engine) == before
    assert archive_store.audit.query(event_type=EVENT_PURGED).events == []


def test_purge_needs_at_least_one_day(archive_store, s3_settings):
    archive = make_archive(archive_store.engine, s3_settings)
    with pytest.raises(PurgeRefusedError) as err:
        purge_archived(archive, older_than_days=0, actor="admin")
    assert str(err.value) == ERR_BAD_DAYS.format(days=0)


def test_dry_run_deletes_nothing(archive_store, s3_settings):
    _seed(archive_store)
    archive = make_archive(archive_store.engine, s3_settings)
    archive.archive()
    before = _count(archive_store.engine)
    result = purge_archived(archive, older_than_days=(TODAY - D2).days, actor="admin", dry_run=True)
    assert result.dry_run and result.deleted == 120 and "would purge 120 events" in result.summary()
    assert _count(archive_store.engine) == before
    assert json.dumps(archive_store.audit.head(), default=str).count('"base_id": 0') == 1
