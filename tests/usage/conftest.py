"""Fixtures for the usage tests: a governance DB (SQLite and PostgreSQL) holding the demo cards
in every status a usage check must tell apart, and an editable copy of the demo policy file."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from governance.cards import load_card
from governance.store import GovernanceStore

REPO = Path(__file__).resolve().parents[2]
CARDS = REPO / "include" / "model_cards"
POLICIES = REPO / "include" / "policies" / "usage.yaml"

PATHS = {
    "DEPLOYED": ["REVIEW_PENDING", "APPROVED", "DEPLOYED"],
    "REVIEW_PENDING": ["REVIEW_PENDING"],
    "APPROVED": ["REVIEW_PENDING", "APPROVED"],
    "DEPRECATED": ["REVIEW_PENDING", "APPROVED", "DEPLOYED", "DEPRECATED"],
    "RETIRED": ["REVIEW_PENDING", "APPROVED", "DEPLOYED", "DEPRECATED", "RETIRED"],
}


@dataclass
class UsageWorld:
    store: GovernanceStore
    policies: Path
    ids: dict[str, str]
    """name → model id: product-recommender (MEDIUM, DEPLOYED), credit-scorer (HIGH, DEPLOYED),
    doc-tagger (LOW, APPROVED), clinical-triage (CRITICAL, DEPLOYED)."""


def register(store: GovernanceStore, card_file: str, status: str, *, version: str | None = None) -> str:
    card = load_card(CARDS / card_file)
    if version:
        card = card.model_copy(update={"version": version})
    model_id = store.register(card, owner="owner").model.id
    for step in PATHS.get(status, []):
        store.transition(model_id, step, actor="admin")
    return model_id


@pytest.fixture
def world(store: GovernanceStore, tmp_path: Path) -> Iterator[UsageWorld]:
    policies = tmp_path / "usage.yaml"
    shutil.copy(POLICIES, policies)
    ids = {
        "product-recommender": register(store, "medium_product_recommender.yaml", "DEPLOYED"),
        "credit-scorer": register(store, "high_credit_scorer.yaml", "DEPLOYED"),
        "doc-tagger": register(store, "low_doc_tagger.yaml", "APPROVED"),
        "clinical-triage": register(store, "critical_clinical_triage.yaml", "DEPLOYED"),
    }
    yield UsageWorld(store=store, policies=policies, ids=ids)


@pytest.fixture
def governor(world: UsageWorld):
    from governance.usage import UsageGovernor

    return UsageGovernor(world.store.engine, policies_path=world.policies)
