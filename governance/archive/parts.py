"""governance.archive.parts: checking one archived part on its own (:func:`check_part`), what
validation runs, in worker processes for big days; the problem kinds and :class:`Problem`.

A part is checked against its digest entry (SHA-256, size, content SHA-256) and event by
event: each parses, re-hashes to its hash (:func:`governance.audit.compute_hash`), links to
the event before it, has the next id and lies in the day. The links *between* parts and days
are the caller's (:mod:`governance.archive.validate`).
"""

from __future__ import annotations

import contextlib
import gzip
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from governance.archive.layout import sha256_hex
from governance.audit import compute_hash

KIND_MISSING = "missing"
KIND_ALTERED = "altered"
KIND_EXTRA = "extra"
KIND_OVERWRITTEN = "overwritten"
KIND_DELETED = "deleted"
KIND_BROKEN_LINK = "broken-link"
KIND_CHAIN = "chain"
KIND_DB = "db-mismatch"

MSG_SHA = "sha256 {actual} size {size} does not match the digest's sha256 {expected} size {expected_size}"
MSG_CONTENT = "content sha256 {actual} does not match the digest's {expected}"
MSG_NOT_GZIP = "not a gzip stream: {error}"
MSG_EVENT_PARSE = "line {line}: not an event ({error})"
MSG_EVENT_ID = "event {found} where event {expected} was expected (events missing or reordered)"
MSG_EVENT_LINK = "event {id}: prev_hash {found} does not match the hash of event {before} ({expected})"
MSG_EVENT_HASH = "event {id}: hash does not match its fields (the event was altered)"
MSG_EVENT_DAY = "event {id}: timestamp {ts} lies outside the day [{start}, {end})"
MSG_OBJECT_COUNTS = "holds events {first}..{last} ({count}) but the digest says {efirst}..{elast} ({ecount})"


@dataclass(frozen=True, kw_only=True)
class Problem:
    kind: str
    subject: str
    message: str

    def line(self) -> str:
        return f"{self.kind.upper()} {self.subject}: {self.message}"

    def to_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "subject": self.subject, "message": self.message}


@dataclass(kw_only=True)
class PartCheck:
    """What one part holds, checked on its own (links to the parts around it are the caller's)."""

    problems: list[Problem] = field(default_factory=list)
    count: int = 0
    first: tuple[int, str, str] | None = None  # id, hash, prev_hash of the first event
    last: tuple[int, str] | None = None  # id, hash of the last event
    clean: bool = True


def check_part(key: str, entry: dict[str, Any], body: bytes, bounds: tuple[str, str]) -> PartCheck:
    """Check one part against its digest entry: SHA-256 and size, gzip, content SHA-256, then
    every event: parses, re-hashes (:func:`compute_hash`), links to the event before it, has
    the next id, lies in the day. Names the first bad event. Pure: runs in worker processes."""
    out = PartCheck()

    def bad(kind: str, message: str) -> None:
        out.problems.append(Problem(kind=kind, subject=key, message=message))
        out.clean = False

    actual = sha256_hex(body)
    if actual != entry.get("sha256") or len(body) != entry.get("size"):
        bad(
            KIND_ALTERED,
            MSG_SHA.format(
                actual=actual, size=len(body), expected=entry.get("sha256"), expected_size=entry.get("size")
            ),
        )
    try:
        content = gzip.decompress(body)
    except (OSError, EOFError) as exc:
        bad(KIND_ALTERED, MSG_NOT_GZIP.format(error=exc))
        return out
    content_sha = sha256_hex(content)
    if content_sha != entry.get("content_sha256"):
        bad(KIND_ALTERED, MSG_CONTENT.format(actual=content_sha, expected=entry.get("content_sha256")))
    start_ts, end_ts = bounds
    events, parse_error = _parse_events(content)
    total = len(events) if parse_error is None else sum(1 for _ in _lines(content))
    next_id: int | None = None
    prev: str | None = None
    first: tuple[int, str, str] | None = None
    last: tuple[int, str] | None = None
    for index, ev in enumerate(events):
        try:
            eid, ts, ph, h = ev["id"], ev["timestamp"], ev["prev_hash"], ev["hash"]
            computed = compute_hash(eid, ts, ev["event_type"], ev["model_id"], ev["actor"], ev["details"], ph)
        except (KeyError, TypeError, ValueError) as exc:
            parse_error = MSG_EVENT_PARSE.format(line=index + 1, error=f"{type(exc).__name__}: {exc}")
            break
        problem = None
        if next_id is not None and eid != next_id:
            problem = MSG_EVENT_ID.format(found=eid, expected=next_id)
        elif computed != h:
            problem = MSG_EVENT_HASH.format(id=eid)
        elif prev is not None and ph != prev:
            problem = MSG_EVENT_LINK.format(id=eid, found=ph, before=eid - 1, expected=prev)
        elif not start_ts <= ts < end_ts:
            problem = MSG_EVENT_DAY.format(id=eid, ts=ts, start=start_ts, end=end_ts)
        if problem is not None:
            bad(KIND_CHAIN, problem)  # the first bad event of the part is named
            out.count, out.first = total, first
            return out
        if first is None:
            first = (eid, h, ph)
        last = (eid, h)
        next_id, prev = eid + 1, h
    out.count, out.first, out.last = total, first, last
    if parse_error is not None:
        bad(KIND_CHAIN, parse_error)
        return out
    first_id = first[0] if first else None
    last_id = last[0] if last else None
    if (first_id, last_id, total) != (entry.get("first_id"), entry.get("last_id"), entry.get("events")):
        bad(
            KIND_ALTERED,
            MSG_OBJECT_COUNTS.format(
                first=first_id,
                last=last_id,
                count=total,
                efirst=entry.get("first_id"),
                elast=entry.get("last_id"),
                ecount=entry.get("events"),
            ),
        )
    return out


def _lines(content: bytes) -> Iterable[bytes]:
    return (line for line in content.split(b"\n") if line)


def _parse_events(content: bytes) -> tuple[list[Any], str | None]:
    """The object's events, parsed as one JSON array (fast); on failure, the first bad line."""
    with contextlib.suppress(UnicodeDecodeError, ValueError):  # then find the bad line below
        text = content.decode("utf-8")
        body = text[:-1] if text.endswith("\n") else text
        events = json.loads("[" + body.replace("\n", ",") + "]") if body else []
        if all(isinstance(ev, dict) for ev in events):
            return events, None
    parsed: list[Any] = []
    for line_no, line in enumerate(content.split(b"\n")[: -1 if content.endswith(b"\n") else None], start=1):
        try:
            ev = json.loads(line)
            if not isinstance(ev, dict):
                raise ValueError("not a JSON object")
        except ValueError as exc:
            return parsed, MSG_EVENT_PARSE.format(line=line_no, error=exc)
        parsed.append(ev)
    return parsed, None
