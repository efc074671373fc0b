"""A governance database big enough that the CLI's output overflows a pipe.

Used by ``tests/test_cli_process.py`` and ``benchmarks/cli_latency.py``: ``events`` backdated
audit events (:func:`tests.support.audit_history.seed_history`), then one registered model
version (through the store, with its audit event) cloned into ``models`` rows in total.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import insert, select

from governance.cards import load_card
from governance.store import GovernanceStore, migrate
from governance.store.repository import new_model_id
from governance.store.tables import model_versions
from tests.support.audit_history import seed_history

CARD = Path(__file__).resolve().parents[2] / "include" / "model_cards" / "high_credit_scorer.yaml"
FIRST_DAY = date(2026, 1, 1)
EVENTS_PER_DAY = 2_000


def seed_cli_db(url: str, *, events: int, models: int) -> str:
    """Migrate and fill the database at ``url``; returns the registered model's name."""
    store = GovernanceStore.from_url(url)
    try:
        migrate(store.engine)
        days = []
        left, day = events, FIRST_DAY
        while left > 0:
            days.append((day, min(left, EVENTS_PER_DAY)))
            left -= EVENTS_PER_DAY
            day += timedelta(days=1)
        if days:
            seed_history(store.engine, days=days)
        model = store.register(load_card(CARD), owner="alice").model
        with store.engine.begin() as conn:
            row = dict(conn.execute(select(model_versions).where(model_versions.c.id == model.id)).mappings().one())
            clones = [
                {**row, "id": new_model_id(), "name": f"{model.name}-{i:05d}", "version": model.version}
                for i in range(1, models)
            ]
            if clones:
                conn.execute(insert(model_versions), clones)
        return model.name
    finally:
        store.engine.dispose()
