"""governance.usage.writer: group commit for usage decisions and their audit events.

Every usage check and completion writes its rows (quota counts, the decision, kept payloads)
and its audit event in one transaction, and its caller is answered only after that transaction
committed. At request rates one commit per request would bound throughput, so concurrent
requests of a process share transactions: the first caller to find the writer idle becomes the
leader, takes every job queued so far (its own included), runs them in one transaction under
the audit chain's head lock (one lock, one commit) and wakes the others; a job that arrives
meanwhile waits for the next batch, whose leader is the first of them to wake. A caller alone
pays no hand-over to another thread.

When a batch fails (a database error, a broken job), it is rolled back and its jobs are run
again one by one, so one bad job cannot sink the others; a job whose own transaction fails
carries the error back to its caller (who then refuses the request: fail closed).
"""

from __future__ import annotations

import os
import threading
import weakref
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import Engine

from governance.audit.append import append_many_in, lock_head
from governance.audit.chain import AuditEvent, NewEvent, utc_now
from governance.store.engine import dbapi_in_transaction

MAX_BATCH = 256
WAIT_TIMEOUT_S = 30.0
ERR_TIMEOUT = "the usage writer did not answer within {seconds:.0f} s"


class Batch:
    """What the jobs of one transaction share: ``state`` (e.g. the decisions completed so far in
    this batch, whose rows are not written yet) and the deferred writes, run once for the whole
    batch with ``executemany`` (one round trip per statement on PostgreSQL, where psycopg
    pipelines it), by ``stage`` (rows that others refer to first), then in the order the
    statements were first added."""

    def __init__(self) -> None:
        self.state: dict[str, Any] = {}
        self.writes: dict[tuple[int, str], list[tuple[Any, ...]]] = {}

    def add(self, sql: str, params: tuple[Any, ...], *, stage: int = 0) -> None:
        self.writes.setdefault((stage, sql), []).append(params)

    def flush(self, cur: Any) -> None:
        for (_, sql), rows in sorted(self.writes.items(), key=lambda kv: kv[0][0]):
            if len(rows) == 1:
                cur.execute(sql, rows[0])
            else:
                cur.executemany(sql, rows)


class Job(Protocol):
    """One unit of work: ``apply`` decides and returns its events (it may run more than once
    when a batch is retried, so it keeps no state but its answer); ``after`` sees the appended
    events, in order, and adds its rows to the batch's writes.

    A job class may define ``prefetch(cur, dialect, jobs)`` (a classmethod), called once per
    batch with its jobs before any ``apply``: one query for what they all need to read."""

    def apply(self, cur: Any, dialect: str, now: datetime, batch: Batch) -> list[NewEvent]: ...

    def after(self, cur: Any, dialect: str, events: Sequence[AuditEvent], batch: Batch) -> None: ...


class _Slot:
    __slots__ = ("done", "error", "job")

    def __init__(self, job: Job) -> None:
        self.job = job
        self.done = False
        self.error: BaseException | None = None


class GroupCommitter:
    """Batches jobs of concurrent callers into shared transactions on one engine."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._cond = threading.Condition(threading.Lock())
        self._queue: list[_Slot] = []
        self._busy = False
        self.batches = 0
        self.jobs = 0

    def submit(self, job: Job) -> None:
        """Run ``job`` in the next transaction; return once it committed (raise its error)."""
        slot = _Slot(job)
        with self._cond:
            self._queue.append(slot)
            while not slot.done:
                if not self._busy:
                    self._busy = True
                    batch = self._queue[:MAX_BATCH]
                    del self._queue[:MAX_BATCH]
                    self._cond.release()
                    try:
                        self._process(batch)
                    finally:
                        self._cond.acquire()
                        self._busy = False
                        self._cond.notify_all()
                elif not self._cond.wait(timeout=WAIT_TIMEOUT_S) and slot in self._queue:
                    self._queue.remove(slot)  # never taken by a leader: give up (a batch it is in ends)
                    raise TimeoutError(ERR_TIMEOUT.format(seconds=WAIT_TIMEOUT_S))
        if slot.error is not None:
            raise slot.error

    def _process(self, batch: list[_Slot]) -> None:
        try:
            self._run(batch)
        except Exception as exc:
            if len(batch) == 1:
                batch[0].error = exc
            else:
                for slot in batch:
                    try:
                        self._run([slot])
                    except Exception as one:
                        slot.error = one
        finally:
            self.batches += 1
            self.jobs += len(batch)
            for slot in batch:
                slot.done = True

    def _run(self, batch: list[_Slot]) -> None:
        dialect = self.engine.dialect.name
        with self.engine.connect() as conn:
            dbapi = dbapi_in_transaction(conn)  # BEGIN IMMEDIATE on SQLite
            lock_head(conn)  # every writer of the governance DB queues here: decisions are serial
            cur = dbapi.cursor()
            try:
                now = utc_now()
                shared = Batch()
                by_type: dict[type, list[Job]] = {}
                for slot in batch:
                    by_type.setdefault(type(slot.job), []).append(slot.job)
                for kind, jobs in by_type.items():
                    prefetch = getattr(kind, "prefetch", None)
                    if prefetch is not None:
                        prefetch(cur, dialect, jobs)
                per_job = [slot.job.apply(cur, dialect, now, shared) for slot in batch]
                appended = append_many_in(conn, [e for events in per_job for e in events])
                at = 0
                for slot, events in zip(batch, per_job, strict=True):
                    slot.job.after(cur, dialect, appended[at : at + len(events)], shared)
                    at += len(events)
                shared.flush(cur)
            finally:
                cur.close()
            conn.commit()


_committers: weakref.WeakKeyDictionary[Engine, GroupCommitter] = weakref.WeakKeyDictionary()
_committers_lock = threading.Lock()


def committer_for(engine: Engine) -> GroupCommitter:
    """The group committer of ``engine`` in this process."""
    with _committers_lock:
        c = _committers.get(engine)
        if c is None:
            c = _committers[engine] = GroupCommitter(engine)
        return c


def _after_fork_in_child() -> None:
    global _committers_lock
    _committers_lock = threading.Lock()
    _committers.clear()


os.register_at_fork(after_in_child=_after_fork_in_child)
