"""Fixtures of the DAG tests: a governance DB with a MEDIUM model waiting for review."""

from __future__ import annotations

from pathlib import Path

import pytest

from governance.cards import load_card
from governance.lifecycle import ModelStatus
from governance.store import GovernanceStore, migrate

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def pending_medium(tmp_path, monkeypatch):
    """(store, model_id): the MEDIUM demo model in REVIEW_PENDING, on a throwaway SQLite DB."""
    url = f"sqlite:///{tmp_path / 'governance.db'}"
    monkeypatch.setenv("GOVERNANCE_DB_URL", url)
    store = GovernanceStore.from_url(url)
    migrate(store.engine)
    card = load_card(REPO / "include" / "model_cards" / "medium_product_recommender.yaml")
    model = store.register(card, owner="owner").model
    store.transition(model.id, ModelStatus.REVIEW_PENDING, actor="owner")
    return store, model.id
