"""The worker-process pool shared by the exporter and the part checker."""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor


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
