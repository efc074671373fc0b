"""Helpers the audit trail tests share: raw SQL on the store, the stored rows, a sample chain,
and forged events (hashed correctly, written behind the trail's back)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text

from governance.audit import compute_hash

N_CHAIN = 10


def run_sql(store, statement: str, **params: Any) -> None:
    with store.engine.begin() as conn:
        conn.execute(text(statement), params)


def stored_rows(store) -> list[tuple[Any, ...]]:
    with store.engine.connect() as conn:
        return [
            tuple(r)
            for r in conn.execute(
                text(
                    "SELECT id, timestamp, event_type, model_id, actor, details, prev_hash, hash "
                    "FROM audit_events ORDER BY id"
                )
            )
        ]


def append_chain(store, n: int = N_CHAIN) -> list:
    return [
        store.audit.append(
            event_type=f"type.{i % 3}",
            actor=f"user{i % 2}",
            model_id=f"m-{i % 4:012x}",
            details={"i": i, "note": 'é"\\'},
        )
        for i in range(n)
    ]


def forge_event(store, event_id: int, prev_hash: str, *, actor: str = "mallory") -> dict[str, Any]:
    """A well-formed event whose hash is computed correctly (a forger who knows the algorithm)."""
    row = {
        "id": event_id,
        "timestamp": "2099-01-01T00:00:00.000000Z",
        "event_type": "model.status_changed",
        "model_id": "m-000000000000",
        "actor": actor,
        "details": '{"from":"REVIEW_PENDING","to":"APPROVED"}',
        "prev_hash": prev_hash,
    }
    row["hash"] = compute_hash(*row.values())
    return row


def insert_row(store, row: dict[str, Any]) -> None:
    run_sql(
        store,
        "INSERT INTO audit_events (id, timestamp, event_type, model_id, actor, details, prev_hash, hash) "
        "VALUES (:id, :timestamp, :event_type, :model_id, :actor, :details, :prev_hash, :hash)",
        **row,
    )
