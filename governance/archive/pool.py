"""governance.archive.pool: the worker-process pool (:class:`WorkerPool`) shared by the exporter
(:mod:`~governance.archive.export`) and validation (:mod:`~governance.archive.validate`)."""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor

from governance.archive.layout import MAX_PROCESSES


def default_processes(processes: int | None) -> int:
    """``processes``, or one per CPU, at most :data:`MAX_PROCESSES`."""
    return processes if processes is not None else min(os.cpu_count() or 1, MAX_PROCESSES)


def wants_processes(*, processes: int, events: int, parallel_min_events: int) -> bool:
    """Worth splitting over processes: more than one allowed, a big enough day, and not inside
    a daemonic process (which may not have children, e.g. a Celery worker)."""
    return processes >= 2 and events >= parallel_min_events and not multiprocessing.current_process().daemon


def start_pool(processes: int) -> ProcessPoolExecutor:
    methods = multiprocessing.get_all_start_methods()
    ctx = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
    return ProcessPoolExecutor(max_workers=processes, mp_context=ctx)


def stop_pool(pool: ProcessPoolExecutor | None) -> None:
    if pool is not None:
        pool.shutdown(wait=True, cancel_futures=True)


class WorkerPool:
    """Worker processes for big days: started on first need, reused, stopped by :meth:`close`."""

    def __init__(self, *, processes: int | None, parallel_min_events: int) -> None:
        self.processes = default_processes(processes)
        self.parallel_min_events = parallel_min_events
        self._pool: ProcessPoolExecutor | None = None

    def for_events(self, events: int) -> ProcessPoolExecutor | None:
        """The pool, for a day of ``events`` events worth splitting; None to work in-process."""
        if not wants_processes(processes=self.processes, events=events, parallel_min_events=self.parallel_min_events):
            return None
        if self._pool is None:
            self._pool = start_pool(self.processes)
        return self._pool

    def close(self) -> None:
        stop_pool(self._pool)
        self._pool = None
