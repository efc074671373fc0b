"""validate-archive against a real S3 server: every kind of damage is found and named."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from governance.archive import digest_bytes, digest_key, part_key, sha256_hex
from governance.archive.parts import MSG_EVENT_HASH, MSG_EVENT_PARSE
from governance.archive.validate import (
    KIND_ALTERED,
    KIND_BROKEN_LINK,
    KIND_CHAIN,
    KIND_DB,
    KIND_DELETED,
    KIND_EXTRA,
    KIND_MISSING,
    KIND_OVERWRITTEN,
    MSG_FOREIGN,
    MSG_NO_DIGEST,
    MSG_ORPHAN,
)
from governance.s3 import make_client
from governance.store.tables import audit_events
from tests.conftest_s3 import make_archive, settings_for_server, unique_bucket
from tests.support.audit_history import seed_history

pytestmark = pytest.mark.s3

TODAY = datetime.now(UTC).date()
D0 = TODAY - timedelta(days=30)
D1 = D0 + timedelta(days=1)
D2 = D0 + timedelta(days=2)
D3 = D0 + timedelta(days=3)
D4 = D0 + timedelta(days=4)


def _archived(store, settings, *, days=((D0, 250), (D1, 0), (D2, 30), (D3, 40))):
    seed_history(store.engine, days=list(days))
    archive = make_archive(store.engine, settings, part_size=100)
    archive.archive(until=D4)
    return archive, make_client(settings)


@pytest.fixture
def plain_settings(s3_server):
    """A bucket without Object Lock or versioning: tampering leaves no versions behind."""
    settings = settings_for_server(s3_server, unique_bucket("plain"))
    client = make_client(settings)
    client.create_bucket(Bucket=settings.bucket)
    client.put_object(Bucket=settings.bucket, Key="warmup", Body=b"warm")  # see conftest_s3.s3_settings
    return settings


def _kinds(report) -> set[tuple[str, str]]:
    return {(p.kind, p.subject) for p in report.problems}


def test_intact_archive_validates(archive_store, s3_settings):
    archive, _ = _archived(archive_store, s3_settings)
    report = archive.validate()
    assert report.ok, [p.line() for p in report.problems]
    assert (report.days, report.objects, report.events) == (4, 5, 320)
    assert (report.first_day, report.last_day, report.first_id, report.last_id) == (D0, D3, 1, 320)
    assert report.summary().startswith("OK: 4 day(s)")
    ranged = archive.validate(from_day=D2, to_day=D2)
    assert ranged.ok and ranged.days == 1 and ranged.events == 30


def test_overwritten_object_is_found_by_its_versions(archive_store, s3_settings):
    archive, client = _archived(archive_store, s3_settings)
    key = part_key(D0, 1)
    client.put_object(Bucket=s3_settings.bucket, Key=key, Body=gzip.compress(b"{}\n", mtime=0))
    report = archive.validate()
    assert (KIND_OVERWRITTEN, key) in _kinds(report)
    assert (KIND_ALTERED, key) in _kinds(report)  # the current version no longer matches the digest


def test_identical_rewrite_is_still_found(archive_store, s3_settings):
    archive, client = _archived(archive_store, s3_settings)
    key = digest_key(D1)
    same = client.get_object(Bucket=s3_settings.bucket, Key=key)["Body"].read()
    client.put_object(Bucket=s3_settings.bucket, Key=key, Body=same)
    assert _kinds(archive.validate()) == {(KIND_OVERWRITTEN, key)}


def test_deleted_object_is_found(archive_store, s3_settings):
    archive, client = _archived(archive_store, s3_settings)
    key = part_key(D2, 0)
    client.delete_object(Bucket=s3_settings.bucket, Key=key)  # a delete marker; the locked version stays
    report = archive.validate()
    assert (KIND_DELETED, key) in _kinds(report)
    assert not report.ok


def test_extra_orphan_and_foreign_objects_are_found(archive_store, s3_settings):
    archive, client = _archived(archive_store, s3_settings)
    extra = part_key(D0, 7)
    orphan = part_key(D4 + timedelta(days=3), 0)
    foreign = "audit/notes.txt"
    for key in (extra, orphan, foreign):
        client.put_object(Bucket=s3_settings.bucket, Key=key, Body=b"x")
    report = archive.validate()
    assert _kinds(report) == {(KIND_EXTRA, extra), (KIND_EXTRA, orphan), (KIND_EXTRA, foreign)}
    messages = {p.subject: p.message for p in report.problems}
    assert messages[orphan] == MSG_ORPHAN
    assert messages[foreign] == MSG_FOREIGN
    assert archive.validate(from_day=D2, to_day=D3).ok  # outside the range


def test_missing_object_is_found(archive_store, plain_settings):
    archive, client = _archived(archive_store, plain_settings)
    key = part_key(D0, 2)
    client.delete_object(Bucket=plain_settings.bucket, Key=key)
    report = archive.validate()
    assert (KIND_MISSING, key) in _kinds(report)


def test_altered_object_is_found(archive_store, plain_settings):
    archive, client = _archived(archive_store, plain_settings)
    key = part_key(D0, 0)
    body = client.get_object(Bucket=plain_settings.bucket, Key=key)["Body"].read()
    client.put_object(Bucket=plain_settings.bucket, Key=key, Body=body[:-5] + b"xxxxx")
    report = archive.validate()
    assert (KIND_ALTERED, key) in _kinds(report)


def test_altered_event_with_forged_digest_breaks_the_chain(archive_store, plain_settings):
    """An attacker who rewrites an event and the day's digest is still caught twice."""
    archive, client = _archived(archive_store, plain_settings)
    bucket = plain_settings.bucket
    key = part_key(D2, 0)
    lines = gzip.decompress(client.get_object(Bucket=bucket, Key=key)["Body"].read()).decode().splitlines()
    ev = json.loads(lines[3])
    ev["actor"] = "mallory"
    lines[3] = json.dumps(ev, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    content = ("\n".join(lines) + "\n").encode()
    body = gzip.compress(content, mtime=0)
    client.put_object(Bucket=bucket, Key=key, Body=body)
    doc = json.loads(client.get_object(Bucket=bucket, Key=digest_key(D2))["Body"].read())
    doc["objects"][0].update(sha256=sha256_hex(body), size=len(body), content_sha256=sha256_hex(content))
    client.put_object(Bucket=bucket, Key=digest_key(D2), Body=digest_bytes(doc))

    report = archive.validate(check_db=False)
    messages = {(p.kind, p.subject): p.message for p in report.problems}
    assert messages[(KIND_CHAIN, key)] == MSG_EVENT_HASH.format(id=ev["id"])
    assert (KIND_BROKEN_LINK, digest_key(D3)) in messages  # D3 links to the original D2 digest


def test_missing_digest_is_a_hole_in_the_chain(archive_store, plain_settings):
    archive, client = _archived(archive_store, plain_settings)
    client.delete_object(Bucket=plain_settings.bucket, Key=digest_key(D1))
    report = archive.validate()
    problems = {(p.kind, p.subject): p.message for p in report.problems}
    assert problems == {(KIND_MISSING, digest_key(D1)): MSG_NO_DIGEST.format(day=D1)}


def test_altered_digest_breaks_the_next_link(archive_store, plain_settings):
    archive, client = _archived(archive_store, plain_settings)
    doc = json.loads(client.get_object(Bucket=plain_settings.bucket, Key=digest_key(D1))["Body"].read())
    doc["events"] = 1
    client.put_object(Bucket=plain_settings.bucket, Key=digest_key(D1), Body=digest_bytes(doc))
    kinds = _kinds(archive.validate())
    assert (KIND_ALTERED, digest_key(D1)) in kinds
    assert (KIND_BROKEN_LINK, digest_key(D2)) in kinds


def test_first_digest_must_start_at_genesis(archive_store, plain_settings):
    archive, client = _archived(archive_store, plain_settings)
    for day in (D0, D1):
        client.delete_object(Bucket=plain_settings.bucket, Key=digest_key(day))
    for index in range(3):
        client.delete_object(Bucket=plain_settings.bucket, Key=part_key(D0, index))
    kinds = _kinds(archive.validate(check_db=False))
    assert kinds == {(KIND_BROKEN_LINK, digest_key(D2))}


def test_database_disagreeing_with_the_archive_is_found(archive_store, s3_settings):
    archive, _ = _archived(archive_store, s3_settings)
    with archive_store.engine.begin() as conn:
        conn.execute(update(audit_events).where(audit_events.c.id == 280).values(hash="f" * 64))
    report = archive.validate()
    assert _kinds(report) == {(KIND_DB, digest_key(D2))}
    assert archive.validate(check_db=False).ok


def test_unparseable_line_is_named(archive_store, plain_settings):
    archive, client = _archived(archive_store, plain_settings)
    bucket = plain_settings.bucket
    key = part_key(D3, 0)
    lines = gzip.decompress(client.get_object(Bucket=bucket, Key=key)["Body"].read()).decode().splitlines()
    lines[5] = "not json"
    content = ("\n".join(lines) + "\n").encode()
    body = gzip.compress(content, mtime=0)
    client.put_object(Bucket=bucket, Key=key, Body=body)
    doc = json.loads(client.get_object(Bucket=bucket, Key=digest_key(D3))["Body"].read())
    doc["objects"][0].update(sha256=sha256_hex(body), size=len(body), content_sha256=sha256_hex(content))
    client.put_object(Bucket=bucket, Key=digest_key(D3), Body=digest_bytes(doc))
    problems = [p for p in archive.validate().problems if p.subject == key]
    assert [p.kind for p in problems] == [KIND_CHAIN]
    assert problems[0].message.startswith(MSG_EVENT_PARSE.format(line=6, error="")[:-1])
