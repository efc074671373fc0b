"""Fixtures and helpers of the nightly tests (``tests/tasks/test_*nightly*.py``,
``tests/embedded/test_demo_registry.py``): a private include folder, the checks' throwaway SQLite
store, a local report store, and the demo registry seeded with prediction logs.

A test module imports the fixtures it uses and lists them in ``__all__`` (so linters see them used).
"""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest

from governance.cards import load_card
from governance.embedded.demo_predictions import write_predictions_atomic
from governance.embedded.demo_registry import seed_demo_registry
from governance.reports import LocalReportStore
from governance.store import GovernanceStore
from tests.checks.conftest import sqlite_store

__all__ = [
    "DAY",
    "NEXT_DAY",
    "ROWS",
    "audit_events",
    "demo_card_file",
    "entry",
    "include",
    "reports",
    "seed",
    "sqlite_store",
]

REPO = Path(__file__).resolve().parents[2]
DAY = date(2026, 11, 27)
NEXT_DAY = date(2026, 11, 28)
ROWS = 4000  # enough for every age band to be compared (>= 30 rows), small enough to be quick


@pytest.fixture
def include(tmp_path: Path) -> Path:
    """A private include folder: demo cards, compliance requirements, demo artifacts."""
    dest = tmp_path / "include"
    for part in ("model_cards", "compliance", "demo/artifacts", "demo/eval"):
        shutil.copytree(REPO / "include" / part, dest / part)
    return dest


@pytest.fixture
def reports(tmp_path: Path) -> LocalReportStore:
    return LocalReportStore(tmp_path / "reports")


def seed(store: GovernanceStore, include: Path) -> dict[str, dict]:
    """The demo registry, with :data:`ROWS` predictions per deployed model (the credit scorer's biased)."""
    seeded = seed_demo_registry(store=store, include_dir=include, write_predictions=False)
    for m in seeded:
        if m["status"] == "DEPLOYED":
            card = load_card(include / "model_cards" / demo_card_file(m["name"]))
            write_predictions_atomic(
                include / card.predictions_location / "predictions.parquet",
                model_name=m["name"],
                rows=ROWS,
                disparity=m["name"] == "credit-scorer",
            )
    return {m["name"]: m for m in seeded}


def demo_card_file(name: str) -> str:
    """The demo card file of model ``name``."""
    return next(p.name for p in (REPO / "include" / "model_cards").glob("*.yaml") if name in p.name.replace("_", "-"))


def entry(model: dict, day: date = DAY) -> dict:
    """The ``list_models`` entry of a seeded model for ``day``."""
    return {"model_id": model["model_id"], "name": model["name"], "version": model["version"], "report_date": str(day)}


def audit_events(store: GovernanceStore, event_type: str) -> list:
    return store.audit.query(event_type=event_type, limit=1000).events
