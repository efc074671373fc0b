"""Archiving the audit trail to a real S3 server (SeaweedFS): layout, digests, idempotence, locks."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from governance.archive import (
    DIGEST_FORMAT,
    ERR_DB_CHAIN,
    ERR_OBJECT_CONFLICT,
    ERR_PURGED_NO_ARCHIVE,
    GENESIS,
    PROBLEM_ALTERED,
    ArchiveConflictError,
    ArchiveError,
    digest_bytes,
    digest_key,
    part_key,
    sha256_hex,
)
from governance.audit import compute_hash
from governance.s3 import make_client
from governance.store.tables import audit_events, audit_head
from tests.conftest_s3 import make_archive
from tests.support.audit_history import seed_history

pytestmark = pytest.mark.s3

TODAY = datetime.now(UTC).date()
D0 = TODAY - timedelta(days=20)
D1 = D0 + timedelta(days=1)
D2 = D0 + timedelta(days=2)
D3 = D0 + timedelta(days=3)


def _versions(client, bucket: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for page in client.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix="audit/"):
        for v in page.get("Versions", []) or []:
            counts[v["Key"]] = counts.get(v["Key"], 0) + 1
        for m in page.get("DeleteMarkers", []) or []:
            counts[m["Key"]] = counts.get(m["Key"], 0) + 1
    return counts


def _seed_three_days(store) -> None:
    seed_history(store.engine, days=[(D0, 250), (D1, 0), (D2, 30)])


def test_archive_layout_digests_and_chain(archive_store, s3_settings):
    _seed_three_days(archive_store)
    archive = make_archive(archive_store.engine, s3_settings, part_size=100)
    result = archive.archive(until=D3)

    assert [d.day for d in result.days] == [D0, D1, D2]
    assert [d.status for d in result.days] == ["archived"] * 3
    assert [d.events for d in result.days] == [250, 0, 30]
    client = make_client(s3_settings)
    keys = sorted(_versions(client, s3_settings.bucket))
    assert keys == sorted(
        [part_key(D0, 0), part_key(D0, 1), part_key(D0, 2), part_key(D2, 0)]
        + [digest_key(D0), digest_key(D1), digest_key(D2)]
    )

    def get(key: str) -> bytes:
        return client.get_object(Bucket=s3_settings.bucket, Key=key)["Body"].read()

    docs = {d: json.loads(get(digest_key(d))) for d in (D0, D1, D2)}
    first = docs[D0]
    assert first["format"] == DIGEST_FORMAT
    assert first["previous_digest"] is None
    assert first["chain_start"] == GENESIS.to_dict()
    assert first["events"] == 250 and first["part_size"] == 100
    assert first["first_event"]["id"] == 1 and first["last_event"]["id"] == 250
    assert first["chain_end"] == {"id": 250, "hash": first["last_event"]["hash"]}
    assert [o["events"] for o in first["objects"]] == [100, 100, 50]
    for entry in first["objects"]:
        body = get(entry["key"])
        assert sha256_hex(body) == entry["sha256"] and len(body) == entry["size"]
        assert body[4:8] == b"\0\0\0\0"  # gzip mtime 0: deterministic
        assert sha256_hex(gzip.decompress(body)) == entry["content_sha256"]

    empty = docs[D1]  # a day without events still gets a digest: no hole in the chain
    assert empty["events"] == 0 and empty["objects"] == [] and empty["first_event"] is None
    assert empty["chain_start"] == empty["chain_end"] == first["chain_end"]
    assert empty["previous_digest"] == {"key": digest_key(D0), "sha256": sha256_hex(get(digest_key(D0)))}
    assert docs[D2]["previous_digest"]["sha256"] == sha256_hex(get(digest_key(D1)))
    assert docs[D2]["chain_start"] == first["chain_end"]
    assert get(digest_key(D2)) == digest_bytes(docs[D2])  # canonical serialisation

    lines = gzip.decompress(get(part_key(D0, 0))).decode().splitlines()
    assert len(lines) == 100
    prev = GENESIS.hash
    for line in lines:
        ev = json.loads(line)
        assert list(ev) == sorted(ev)
        assert line == json.dumps(ev, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        assert ev["prev_hash"] == prev
        assert ev["hash"] == compute_hash(
            ev["id"], ev["timestamp"], ev["event_type"], ev["model_id"], ev["actor"], ev["details"], prev
        )
        prev = ev["hash"]
    assert "café ✓" in json.loads(lines[0])["details"]


def test_rerun_never_duplicates_or_changes_anything(archive_store, s3_settings):
    _seed_three_days(archive_store)
    archive = make_archive(archive_store.engine, s3_settings)
    archive.archive(until=D3)
    client = make_client(s3_settings)
    before = {
        k: client.get_object(Bucket=s3_settings.bucket, Key=k)["Body"].read()
        for k in _versions(client, s3_settings.bucket)
    }

    again = archive.archive(until=D3, recheck_from=D0)
    assert [d.status for d in again.days] == ["unchanged"] * 3
    resized = make_archive(archive_store.engine, s3_settings, part_size=40)  # a digest keeps its own part size
    assert [d.status for d in resized.archive(until=D3, recheck_from=D0).days] == ["unchanged"] * 3
    assert again.written == []
    later = archive.archive(until=D3 + timedelta(days=1))  # one more (empty) day, nothing else
    assert [d.day for d in later.written] == [D3]

    versions = _versions(client, s3_settings.bucket)
    assert set(versions.values()) == {1}, versions
    for key, body in before.items():
        assert client.get_object(Bucket=s3_settings.bucket, Key=key)["Body"].read() == body


def test_objects_carry_compliance_retention(archive_store, s3_settings):
    _seed_three_days(archive_store)
    make_archive(archive_store.engine, s3_settings).archive(until=D3)
    client = make_client(s3_settings)
    for key in (part_key(D0, 0), digest_key(D1)):
        head = client.head_object(Bucket=s3_settings.bucket, Key=key)
        assert head["ObjectLockMode"] == "COMPLIANCE"
        retain = head["ObjectLockRetainUntilDate"].astimezone(UTC)
        assert timedelta(hours=23) < retain - datetime.now(UTC) <= timedelta(days=1)


def test_same_events_give_the_same_bytes(archive_store, s3_server, s3_settings):
    from governance.s3 import ensure_bucket
    from tests.conftest_s3 import settings_for_server, unique_bucket

    _seed_three_days(archive_store)
    other = settings_for_server(s3_server, unique_bucket())
    ensure_bucket(make_client(other), bucket=other.bucket, endpoint=other.endpoint_url or "")
    a = make_archive(archive_store.engine, s3_settings).archive(until=D3)
    b = make_archive(archive_store.engine, other).archive(until=D3)
    assert [d.digest_sha256 for d in a.days] == [d.digest_sha256 for d in b.days]


def test_nothing_to_archive_without_events(archive_store, s3_settings):
    result = make_archive(archive_store.engine, s3_settings).archive(until=D3)
    assert result.days == []
    assert "no closed day" in result.summary()


def test_archive_starts_at_the_first_events_day_and_stops_before_until(archive_store, s3_settings):
    seed_history(archive_store.engine, days=[(D1, 5), (D2, 5)])
    archive = make_archive(archive_store.engine, s3_settings)
    assert [d.day for d in archive.archive(until=datetime.combine(D2, datetime.min.time(), UTC)).days] == [D1]
    assert [d.day for d in archive.archive(until=f"{D2.isoformat()}T23:59:59Z").days] == []  # D2 not closed
    assert [d.day for d in archive.archive(until=D3).days] == [D2]


def test_future_until_is_capped_at_today(archive_store, s3_settings):
    seed_history(archive_store.engine, days=[(TODAY - timedelta(days=2), 3)])
    result = make_archive(archive_store.engine, s3_settings).archive(until=TODAY + timedelta(days=5))
    assert result.until == TODAY
    assert [d.day for d in result.days] == [TODAY - timedelta(days=2), TODAY - timedelta(days=1)]


def test_altered_database_event_is_not_archived(archive_store, s3_settings):
    _seed_three_days(archive_store)
    with archive_store.engine.begin() as conn:
        conn.execute(update(audit_events).where(audit_events.c.id == 120).values(actor="mallory"))
    archive = make_archive(archive_store.engine, s3_settings)
    with pytest.raises(ArchiveError) as err:
        archive.archive(until=D3)
    assert str(err.value) == ERR_DB_CHAIN.format(day=D0, event_id=120, problem=PROBLEM_ALTERED)
    assert archive.digest_days() == []  # objects may exist, but the day is not archived


def test_database_changed_after_archiving_is_a_conflict(archive_store, s3_settings):
    _seed_three_days(archive_store)
    archive = make_archive(archive_store.engine, s3_settings)
    archive.archive(until=D3)
    # rewrite the last day's tail consistently (hashes recomputed): only the archive notices
    with archive_store.engine.begin() as conn:
        row = conn.execute(audit_events.select().where(audit_events.c.id == 280)).mappings().one()
        h = compute_hash(
            280, row["timestamp"], row["event_type"], row["model_id"], "mallory", row["details"], row["prev_hash"]
        )
        conn.execute(update(audit_events).where(audit_events.c.id == 280).values(actor="mallory", hash=h))
        conn.execute(update(audit_head).where(audit_head.c.id == 1).values(last_hash=h))
    with pytest.raises(ArchiveConflictError) as err:
        archive.archive(until=D3, recheck_from=D2)
    assert digest_key(D2) in str(err.value)


def test_existing_object_with_other_content_is_never_overwritten(archive_store, s3_settings):
    _seed_three_days(archive_store)
    client = make_client(s3_settings)
    squatter = gzip.compress(b'{"id":1}\n', mtime=0)
    client.put_object(Bucket=s3_settings.bucket, Key=part_key(D0, 1), Body=squatter)
    archive = make_archive(archive_store.engine, s3_settings)
    with pytest.raises(ArchiveConflictError) as err:
        archive.archive(until=D3)
    assert str(err.value) == ERR_OBJECT_CONFLICT.format(key=part_key(D0, 1), bucket=s3_settings.bucket)
    assert client.get_object(Bucket=s3_settings.bucket, Key=part_key(D0, 1))["Body"].read() == squatter
    assert archive.digest_days() == []


def test_purged_database_needs_its_archive(archive_store, s3_settings):
    _seed_three_days(archive_store)
    with archive_store.engine.begin() as conn:
        conn.execute(update(audit_head).where(audit_head.c.id == 1).values(base_id=250))
        conn.execute(audit_events.delete().where(audit_events.c.id <= 250))
    archive = make_archive(archive_store.engine, s3_settings)
    with pytest.raises(ArchiveError) as err:
        archive.archive(until=D3)
    assert str(err.value) == ERR_PURGED_NO_ARCHIVE.format(
        base_id=250, bucket=s3_settings.bucket, endpoint=s3_settings.endpoint_url
    )


def test_today_events_are_never_archived(archive_store, s3_settings):
    archive_store.audit.append(event_type="model.registered", actor="owner")
    result = make_archive(archive_store.engine, s3_settings).archive()
    assert result.days == []
    assert result.until == TODAY


def test_worker_processes_write_the_same_archive(archive_store, s3_server, s3_settings):
    from governance.archive.parts import KIND_CHAIN
    from governance.s3 import ensure_bucket
    from tests.conftest_s3 import settings_for_server, unique_bucket

    _seed_three_days(archive_store)
    other = settings_for_server(s3_server, unique_bucket())
    ensure_bucket(make_client(other), bucket=other.bucket, endpoint=other.endpoint_url or "")
    serial = make_archive(archive_store.engine, s3_settings).archive(until=D3)
    parallel_archive = make_archive(archive_store.engine, other, processes=2)
    parallel = parallel_archive.archive(until=D3)
    assert [d.digest_sha256 for d in parallel.days] == [d.digest_sha256 for d in serial.days]
    assert [d.status for d in parallel_archive.archive(until=D3, recheck_from=D0).days] == ["unchanged"] * 3
    assert parallel_archive.validate().ok

    client = make_client(other)
    body = gzip.decompress(client.get_object(Bucket=other.bucket, Key=part_key(D0, 1))["Body"].read())
    client.put_object(Bucket=other.bucket, Key=part_key(D0, 1), Body=gzip.compress(body.replace(b"seed", b"SEED", 1)))
    report = parallel_archive.validate()
    assert (KIND_CHAIN, part_key(D0, 1)) in {(p.kind, p.subject) for p in report.problems}


def test_worker_processes_refuse_an_altered_database_event(archive_store, s3_settings):
    _seed_three_days(archive_store)
    with archive_store.engine.begin() as conn:
        conn.execute(update(audit_events).where(audit_events.c.id == 150).values(details="{}"))
    with pytest.raises(ArchiveError) as err:
        make_archive(archive_store.engine, s3_settings, processes=2).archive(until=D3)
    assert str(err.value) == ERR_DB_CHAIN.format(day=D0, event_id=150, problem=PROBLEM_ALTERED)
