"""governance.archive.validate: validating the S3 audit archive by recomputing everything from
the bucket (:func:`validate_archive`, which takes an :class:`~governance.archive.bucket.ArchiveBucket`).

Checks, for every archived day in the range (and the link to the day before it):

- each digest is readable, is the digest of its day, links to the previous day's digest by
  SHA-256 and continues its chain (``chain_start`` == previous ``chain_end``); the first
  digest starts at the genesis of the chain; no day after the first digest lacks one;
- each object a digest names exists, has the recorded SHA-256 and size, decompresses to the
  recorded content, and its events re-hash correctly (:func:`governance.audit.compute_hash`)
  and chain across objects and days, inside the day's interval;
- no object or digest has more than one version (versioned buckets: an overwrite leaves the
  old version behind) or a delete marker; no object lies outside what the digests name;
- optionally, the database agrees: the last event of each archived day still in the database
  has the archived hash, and the purge boundary (``audit_head.base_*``) ends an archived day.
"""

from __future__ import annotations

from collections import defaultdict
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from governance.archive.layout import (
    AUDIT_PREFIX,
    GENESIS,
    PARALLEL_MIN_EVENTS,
    ChainPoint,
    day_bounds,
    day_prefix,
    digest_key,
    parse_digest,
    parse_digest_key,
    parse_part_key,
    part_key,
    sha256_hex,
)
from governance.archive.parts import (
    KIND_ALTERED,
    KIND_BROKEN_LINK,
    KIND_CHAIN,
    KIND_DB,
    KIND_DELETED,
    KIND_EXTRA,
    KIND_MISSING,
    KIND_OVERWRITTEN,
    MSG_EVENT_ID,
    MSG_EVENT_LINK,
    PartCheck,
    Problem,
    check_part,
)
from governance.archive.pool import WorkerPool

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from governance.archive.bucket import ArchiveBucket

MSG_NO_DIGEST = "no digest for {day}: the digest chain has a hole here"
MSG_OBJECT_MISSING = "named by digest {digest} but not in the bucket"
MSG_VERSIONS = "{count} versions: the object was overwritten after it was archived"
MSG_DELETE_MARKER = "deleted (a delete marker hides {count} version(s))"
MSG_BAD_DIGEST = "unreadable digest: {error}"
MSG_DIGEST_WRONG_DAY = "digest is for {found}, not {day}"
MSG_FIRST_NOT_GENESIS = (
    "the first digest should start at the genesis of the chain with no previous digest, "
    "but starts after event {id} / previous digest {previous}"
)
MSG_PREV_DIGEST = "previous_digest {found} does not match {key} (sha256 {actual}): the previous digest was altered"
MSG_PREV_CHAIN = "chain_start {start} does not continue the previous day's chain_end {end}"
MSG_OBJECT_KEY = "digest lists object {found} where {expected} was expected"
MSG_DAY_END = "the day's events end at {found} but the digest's chain_end is {expected}"
MSG_DAY_COUNT = "the objects hold {found} events but the digest says {expected}"
MSG_DAY_EDGE = "{which} {found} does not match the events ({expected})"
MSG_EXTRA_OBJECT = "not named by the digest of {day}"
MSG_ORPHAN = "not covered by any digest (an interrupted archive run left it; rerun `governance audit archive`)"
MSG_FOREIGN = "not part of the archive layout (audit/events/date=…/part-NNNN.jsonl.gz, audit/digests/DATE.json)"
MSG_DB_HASH = "event {id} has hash {db} in the database but {archive} in the archive"
MSG_DB_GONE = "event {id} is archived but missing from the database, which still holds events up to {last}"
MSG_DB_BASE = "the database's chain starts after event {base_id}, inside the archived day (events {start}..{end})"
MSG_DB_BASE_HASH = "the database's chain starts after event {base_id} with hash {db}, the archive has {archive}"


@dataclass(kw_only=True)
class ValidationReport:
    problems: list[Problem] = field(default_factory=list)
    days: int = 0
    objects: int = 0
    events: int = 0
    bytes: int = 0
    first_day: date | None = None
    last_day: date | None = None
    first_id: int | None = None
    last_id: int | None = None

    @property
    def ok(self) -> bool:
        return not self.problems

    def add(self, kind: str, subject: str, message: str) -> None:
        self.problems.append(Problem(kind=kind, subject=subject, message=message))

    def summary(self) -> str:
        span = f" {self.first_day}..{self.last_day}" if self.first_day else ""
        ids = f" (ids {self.first_id}..{self.last_id})" if self.first_id is not None else ""
        body = f"{self.days} day(s){span}, {self.objects} object(s), {self.events} events{ids}, {self.bytes} bytes"
        if self.ok:
            return f"OK: {body}; digest chain intact"
        return f"FAIL: {len(self.problems)} problem(s) in {body}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "days": self.days,
            "objects": self.objects,
            "events": self.events,
            "bytes": self.bytes,
            "first_day": self.first_day.isoformat() if self.first_day else None,
            "last_day": self.last_day.isoformat() if self.last_day else None,
            "first_id": self.first_id,
            "last_id": self.last_id,
            "problems": [p.to_dict() for p in self.problems],
        }


@dataclass(kw_only=True)
class _Key:
    versions: int = 0
    markers: int = 0
    latest_is_marker: bool = False


def _list_versions(bucket: ArchiveBucket) -> dict[str, _Key]:
    keys: dict[str, _Key] = defaultdict(_Key)
    paginator = bucket.client.get_paginator("list_object_versions")
    with bucket.errors("ListObjectVersions"):
        for page in paginator.paginate(Bucket=bucket.bucket, Prefix=AUDIT_PREFIX):
            for v in page.get("Versions") or []:
                keys[str(v["Key"])].versions += 1
            for m in page.get("DeleteMarkers") or []:
                k = keys[str(m["Key"])]
                k.markers += 1
                if m.get("IsLatest"):
                    k.latest_is_marker = True
    return dict(keys)


def _key_day(key: str) -> date | None:
    day = parse_digest_key(key)
    if day is not None:
        return day
    part = parse_part_key(key)
    return part[0] if part else None


def validate_archive(
    bucket: ArchiveBucket,
    *,
    from_day: date | None = None,
    to_day: date | None = None,
    engine: Engine | None = None,
    parallel_min_events: int = PARALLEL_MIN_EVENTS,
    processes: int | None = None,
) -> ValidationReport:
    """Recompute the archive from S3 for ``[from_day, to_day]`` (default: every archived day).

    Days with at least ``parallel_min_events`` events are checked by ``processes`` worker
    processes (default: one per CPU, at most 4), part by part; the links between parts and
    days are checked here."""
    bucket.check()
    report = ValidationReport()
    listing = _list_versions(bucket)
    live = {k for k, v in listing.items() if v.versions and not v.latest_is_marker}
    digest_days = sorted(d for d in (parse_digest_key(k) for k in listing) if d is not None)
    full = from_day is None and to_day is None
    if not digest_days and not listing:
        return report
    first_archived = digest_days[0] if digest_days else None
    lo = from_day or first_archived or date.max
    hi = to_day or (digest_days[-1] if digest_days else date.min)

    def in_range(day: date | None) -> bool:
        return full or (day is not None and lo <= day <= hi)

    for key, info in sorted(listing.items()):
        day = _key_day(key)
        if day is None:
            if full:
                report.add(KIND_EXTRA, key, MSG_FOREIGN)
            continue
        if not in_range(day):
            continue
        if info.latest_is_marker:
            report.add(KIND_DELETED, key, MSG_DELETE_MARKER.format(count=info.versions))
        elif info.versions + info.markers > 1:
            report.add(KIND_OVERWRITTEN, key, MSG_VERSIONS.format(count=info.versions + info.markers))

    digests: dict[date, tuple[dict[str, Any], bytes]] = {}
    checker = WorkerPool(parallel_min_events=parallel_min_events, processes=processes)
    try:
        if first_archived is not None:
            day = max(lo, first_archived)
            while day <= hi:
                _check_day(bucket, report, day, first_archived, digests, live, listing, checker)
                day += timedelta(days=1)
    finally:
        checker.close()
    for key in sorted(live):
        part = parse_part_key(key)
        if part is not None and in_range(part[0]) and digest_key(part[0]) not in live:
            report.add(KIND_EXTRA, key, MSG_ORPHAN)
    if engine is not None:
        _check_db(engine, report, [doc for d, (doc, _raw) in sorted(digests.items()) if lo <= d <= hi])
    return report


def _load_digest(
    bucket: ArchiveBucket, report: ValidationReport | None, day: date, live: set[str]
) -> tuple[dict[str, Any], bytes] | None:
    key = digest_key(day)
    if key not in live:
        return None
    raw = bucket.get_bytes(key)
    if raw is None:
        return None
    try:
        doc = parse_digest(raw)
    except (ValueError, KeyError, TypeError) as exc:
        if report is not None:
            report.add(KIND_ALTERED, key, MSG_BAD_DIGEST.format(error=exc))
        return None
    if doc.get("date") != day.isoformat():
        if report is not None:
            report.add(KIND_ALTERED, key, MSG_DIGEST_WRONG_DAY.format(found=doc.get("date"), day=day))
        return None
    return doc, raw


def _check_day(
    bucket: ArchiveBucket,
    report: ValidationReport,
    day: date,
    first_archived: date,
    digests: dict[date, tuple[dict[str, Any], bytes]],
    live: set[str],
    listing: dict[str, _Key],
    checker: WorkerPool,
) -> None:
    key = digest_key(day)
    loaded = _load_digest(bucket, report, day, live)
    if loaded is None:
        if key not in listing:
            report.add(KIND_MISSING, key, MSG_NO_DIGEST.format(day=day))
        return
    digests[day] = loaded
    doc, _raw = loaded
    start = ChainPoint(**doc["chain_start"])
    end = ChainPoint(**doc["chain_end"])

    # link to the previous day
    if day == first_archived:
        if doc.get("previous_digest") is not None or start != GENESIS:
            report.add(
                KIND_BROKEN_LINK, key, MSG_FIRST_NOT_GENESIS.format(id=start.id, previous=doc.get("previous_digest"))
            )
    else:
        prev_day = day - timedelta(days=1)
        prev = digests.get(prev_day) or _load_digest(bucket, None, prev_day, live)
        if prev is not None:
            prev_doc, prev_raw = prev
            ref = doc.get("previous_digest") or {}
            actual = sha256_hex(prev_raw)
            if ref.get("key") != digest_key(prev_day) or ref.get("sha256") != actual:
                report.add(
                    KIND_BROKEN_LINK,
                    key,
                    MSG_PREV_DIGEST.format(found=ref or None, key=digest_key(prev_day), actual=actual),
                )
            prev_end = ChainPoint(**prev_doc["chain_end"])
            if start != prev_end:
                report.add(KIND_BROKEN_LINK, key, MSG_PREV_CHAIN.format(start=start.to_dict(), end=prev_end.to_dict()))

    entries = [e for e in doc["objects"] if isinstance(e, dict)]
    named = {str(e.get("key")) for e in entries}
    expect: int | None = start.id + 1
    prev_hash: str | None = start.hash
    counted = 0
    first_seen: dict[str, Any] | None = None
    last_seen: dict[str, Any] | None = None
    bounds = day_bounds(day)
    present = [str(e.get("key")) in live for e in entries]
    keys_to_fetch = [str(e.get("key")) for e, here in zip(entries, present, strict=True) if here]
    processes = checker.for_events(int(doc.get("events") or 0))
    with ThreadPoolExecutor(max_workers=bucket.upload_workers) as downloads:
        fetched = downloads.map(bucket.get_bytes, keys_to_fetch)
        jobs: list[tuple[dict[str, Any], str, Future[PartCheck] | PartCheck | None]] = []
        for index, (entry, here) in enumerate(zip(entries, present, strict=True)):
            obj_key = str(entry.get("key"))
            if obj_key != part_key(day, index):
                report.add(KIND_ALTERED, key, MSG_OBJECT_KEY.format(found=obj_key, expected=part_key(day, index)))
            body = next(fetched) if here else None
            if body is None:
                if obj_key not in listing or here:  # never stored, or deleted since the listing
                    report.add(KIND_MISSING, obj_key, MSG_OBJECT_MISSING.format(digest=key))
                jobs.append((entry, obj_key, None))
                continue
            report.objects += 1
            report.bytes += len(body)
            if processes is None:
                jobs.append((entry, obj_key, check_part(obj_key, entry, body, bounds)))
            else:
                jobs.append((entry, obj_key, processes.submit(check_part, obj_key, entry, body, bounds)))
        for entry, obj_key, job in jobs:
            if job is None:
                expect, prev_hash = _resync(entry)
                continue
            part = job if isinstance(job, PartCheck) else job.result()
            report.problems.extend(part.problems)
            counted += part.count
            if part.first is not None:
                first_id, _first_hash, first_prev = part.first
                if expect is not None and first_id != expect:
                    report.add(KIND_CHAIN, obj_key, MSG_EVENT_ID.format(found=first_id, expected=expect))
                elif prev_hash is not None and first_prev != prev_hash:
                    report.add(
                        KIND_CHAIN,
                        obj_key,
                        MSG_EVENT_LINK.format(id=first_id, found=first_prev, before=first_id - 1, expected=prev_hash),
                    )
                first_seen = first_seen or {"id": first_id, "hash": part.first[1]}
            if part.last is not None:
                last_seen = {"id": part.last[0], "hash": part.last[1]}
            if part.clean and part.last is not None:
                expect, prev_hash = part.last[0] + 1, part.last[1]
            else:
                expect, prev_hash = _resync(entry)

    if expect is not None and prev_hash is not None and ChainPoint(id=expect - 1, hash=prev_hash) != end:
        report.add(
            KIND_CHAIN, key, MSG_DAY_END.format(found={"id": expect - 1, "hash": prev_hash}, expected=end.to_dict())
        )
    if counted != doc.get("events") and all(present):
        report.add(KIND_ALTERED, key, MSG_DAY_COUNT.format(found=counted, expected=doc.get("events")))
    for which, seen in (("first_event", first_seen), ("last_event", last_seen)):
        recorded = doc.get(which)
        if seen is not None and (not isinstance(recorded, dict) or recorded.get("hash") != seen["hash"]):
            report.add(KIND_ALTERED, key, MSG_DAY_EDGE.format(which=which, found=recorded, expected=seen))
    prefix = day_prefix(day)
    for extra in sorted(k for k in live if k.startswith(prefix) and k not in named):
        report.add(KIND_EXTRA, extra, MSG_EXTRA_OBJECT.format(day=day))

    report.days += 1
    report.events += counted
    report.first_day = report.first_day or day
    report.last_day = day
    if first_seen is not None:
        report.first_id = report.first_id if report.first_id is not None else int(first_seen["id"])
    if last_seen is not None:
        report.last_id = int(last_seen["id"])


def _resync(entry: dict[str, Any]) -> tuple[int | None, str | None]:
    """After a bad or missing object: continue at the next id it declares; its hash is unknown."""
    try:
        return int(entry["last_id"]) + 1, None
    except (KeyError, TypeError, ValueError):
        return None, None


def _check_db(engine: Engine, report: ValidationReport, docs: list[dict[str, Any]]) -> None:
    """The database agrees with the archive where both hold the same events."""
    from sqlalchemy import select

    from governance.audit import AuditTrail
    from governance.store.engine import read_connection
    from governance.store.tables import audit_events

    if not docs:
        return
    head = AuditTrail(engine).head()
    base_id, base_hash, last_id = int(head["base_id"]), str(head["base_hash"]), int(head["last_id"])
    ends = {int(d["chain_end"]["id"]): d for d in docs if int(d["chain_end"]["id"]) > base_id}
    found: dict[int, str] = {}
    ids = sorted(ends)
    with read_connection(engine) as conn:
        for i in range(0, len(ids), 500):
            chunk = ids[i : i + 500]
            rows = conn.execute(
                select(audit_events.c.id, audit_events.c.hash).where(audit_events.c.id.in_(chunk))
            ).all()
            found.update({int(r[0]): str(r[1]) for r in rows})
    for eid, doc in sorted(ends.items()):
        subject = digest_key(date.fromisoformat(doc["date"]))
        archived = str(doc["chain_end"]["hash"])
        if eid in found and found[eid] != archived:
            report.add(KIND_DB, subject, MSG_DB_HASH.format(id=eid, db=found[eid], archive=archived))
        elif eid not in found and eid <= last_id:
            report.add(KIND_DB, subject, MSG_DB_GONE.format(id=eid, last=last_id))
    if base_id > 0:
        for doc in docs:
            start, end = int(doc["chain_start"]["id"]), int(doc["chain_end"]["id"])
            if start < base_id < end:
                subject = digest_key(date.fromisoformat(doc["date"]))
                report.add(KIND_DB, subject, MSG_DB_BASE.format(base_id=base_id, start=start + 1, end=end))
            elif base_id == end and base_hash != doc["chain_end"]["hash"]:
                subject = digest_key(date.fromisoformat(doc["date"]))
                report.add(
                    KIND_DB,
                    subject,
                    MSG_DB_BASE_HASH.format(base_id=base_id, db=base_hash, archive=doc["chain_end"]["hash"]),
                )
