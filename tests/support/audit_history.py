"""Backdated audit history for archive tests and benchmarks.

The audit trail stamps events with the current time; archiving needs closed days in the
past. :func:`seed_history` appends events with chosen timestamps, continuing the real chain
(same hashing as :mod:`governance.audit`) and moving ``audit_head`` like an append does.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import Engine, insert, select, update

from governance.audit import compute_hash, format_ts
from governance.store.tables import audit_events, audit_head

SEED_BATCH = 20_000


def seed_history(engine: Engine, *, days: Sequence[tuple[date, int]], actor: str = "seed") -> int:
    """Append ``n`` events spread over each given UTC day (days ascending); returns the last id."""
    with engine.begin() as conn:
        last_id, last_hash, last_ts = conn.execute(
            select(audit_head.c.last_id, audit_head.c.last_hash, audit_head.c.last_timestamp).where(
                audit_head.c.id == 1
            )
        ).one()
        rows: list[dict[str, object]] = []
        for day, n in days:
            start = datetime(day.year, day.month, day.day, tzinfo=UTC)
            step = timedelta(seconds=86_000 / max(n, 1))
            for i in range(n):
                ts = format_ts(start + step * i)
                if ts < last_ts:
                    raise ValueError(f"seed_history: {ts} is before the chain's last timestamp {last_ts}")
                last_id += 1
                payload: dict[str, object] = {"i": i, "day": day.isoformat()}
                if i % 5 == 0:
                    payload["note"] = 'café ✓ "quoted"'
                details = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
                model_id = f"m-{i % 7:012d}" if i % 3 else None
                h = compute_hash(last_id, ts, "seed.event", model_id, actor, details, last_hash)
                rows.append(
                    {
                        "id": last_id,
                        "timestamp": ts,
                        "event_type": "seed.event",
                        "model_id": model_id,
                        "actor": actor,
                        "details": details,
                        "prev_hash": last_hash,
                        "hash": h,
                    }
                )
                last_hash, last_ts = h, ts
                if len(rows) >= SEED_BATCH:
                    conn.execute(insert(audit_events), rows)
                    rows = []
        if rows:
            conn.execute(insert(audit_events), rows)
        conn.execute(
            update(audit_head)
            .where(audit_head.c.id == 1)
            .values(last_id=last_id, last_hash=last_hash, last_timestamp=last_ts)
        )
    return int(last_id)
