"""governance.audit.trail: :class:`AuditTrail`, the audit trail of one governance database.

A thin object over an engine: each method is one call into the module that holds the concept
(:mod:`~governance.audit.append`, :mod:`~governance.audit.verify`,
:mod:`~governance.audit.query`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine

from governance.audit.append import append_many, append_many_in, inference_event
from governance.audit.chain import AuditEvent, NewEvent
from governance.audit.query import Page, count, head, iter_events, query
from governance.audit.verify import VERIFY_CHUNK, VerifyResult, verify


class AuditTrail:
    """The audit trail of one governance database."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # ------------------------------------------------------------------ writing

    def append_in(
        self,
        conn: Connection,
        *,
        event_type: str,
        actor: str,
        model_id: str | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> AuditEvent:
        """Append one event inside the caller's transaction (commits with it)."""
        return append_many_in(
            conn, [NewEvent(event_type=event_type, actor=actor, model_id=model_id, details=details or {})]
        )[0]

    def append_many_in(self, conn: Connection, events: Iterable[NewEvent]) -> list[AuditEvent]:
        """Append events in order inside the caller's transaction, under the chain lock."""
        return append_many_in(conn, events)

    def append(
        self,
        *,
        event_type: str,
        actor: str,
        model_id: str | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> AuditEvent:
        """Append one event in its own transaction."""
        return append_many(
            self.engine, [NewEvent(event_type=event_type, actor=actor, model_id=model_id, details=details or {})]
        )[0]

    def append_many(self, events: Iterable[NewEvent]) -> list[AuditEvent]:
        """Append a batch of events in one transaction (one lock, one commit)."""
        return append_many(self.engine, events)

    def log_inference(
        self,
        *,
        model_id: str,
        actor: str,
        input_text: str | bytes,
        output_text: str | bytes,
        extra: Mapping[str, Any] | None = None,
    ) -> AuditEvent:
        """Record one inference by the SHA-256 of its input and output; never the raw text."""
        event = inference_event(
            model_id=model_id, actor=actor, input_text=input_text, output_text=output_text, extra=extra
        )
        return append_many(self.engine, [event])[0]

    # ------------------------------------------------------------------ reading

    def head(self) -> dict[str, Any]:
        return head(self.engine)

    def verify(self, *, chunk: int = VERIFY_CHUNK, workers: int | None = None) -> VerifyResult:
        """Walk the chain and report the first event where it breaks (see
        :func:`governance.audit.verify.verify`)."""
        return verify(self.engine, chunk=chunk, workers=workers)

    def query(
        self,
        *,
        model_id: str | None = None,
        actor: str | None = None,
        event_type: str | None = None,
        since: str | datetime | None = None,
        until: str | datetime | None = None,
        limit: int = 100,
        cursor: str | None = None,
        order: str = "asc",
    ) -> Page:
        """Events matching every given filter, ``limit`` at a time, in id order (see
        :func:`governance.audit.query.query`)."""
        return query(
            self.engine,
            model_id=model_id,
            actor=actor,
            event_type=event_type,
            since=since,
            until=until,
            limit=limit,
            cursor=cursor,
            order=order,
        )

    def iter_events(
        self, *, after_id: int = 0, until_ts: str | None = None, chunk: int = 10_000
    ) -> Iterator[AuditEvent]:
        """All events after ``after_id`` (and before ``until_ts``), in chain order."""
        return iter_events(self.engine, after_id=after_id, until_ts=until_ts, chunk=chunk)

    def count(self) -> int:
        return count(self.engine)
