"""Helpers for the check-engine tests: demo cards, copies of the include folder, card variants."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from governance.cards import ModelCard, parse_card_text, validate_card
from governance.lifecycle import ModelStatus
from governance.store import GovernanceStore, ModelRecord, migrate

REPO = Path(__file__).resolve().parents[2]
INCLUDE = REPO / "include"
CARDS = INCLUDE / "model_cards"
DEMO_CARDS = sorted(p.name for p in CARDS.glob("*.yaml"))


def card_dict(file_name: str) -> dict[str, Any]:
    # the card loader's own parser: the same YAML rules as a real submission
    return parse_card_text((CARDS / file_name).read_bytes())


def make_card(file_name: str = "high_credit_scorer.yaml", **changes: Any) -> ModelCard:
    """A demo card with top-level fields replaced (``None`` removes the field)."""
    doc = card_dict(file_name)
    for key, value in changes.items():
        if value is None:
            doc.pop(key, None)
        else:
            doc[key] = value
    return validate_card(doc)


@pytest.fixture
def include_copy(tmp_path: Path) -> Path:
    """A private copy of include/ (suites, requirements, demo data) the test may edit."""
    dest = tmp_path / "include"
    shutil.copytree(INCLUDE / "expectations", dest / "expectations")
    shutil.copytree(INCLUDE / "compliance", dest / "compliance")
    shutil.copytree(INCLUDE / "demo", dest / "demo")
    return dest


@pytest.fixture
def eval_card(include_copy: Path) -> Callable[..., ModelCard]:
    """Write a CSV into the include copy and return the credit-scorer card pointing at it."""
    import pandas as pd

    def build(frame: pd.DataFrame, *, name: str = "broken.csv", **card_changes: Any) -> ModelCard:
        path = include_copy / "demo" / "eval" / name
        frame.to_csv(path, index=False)
        doc = card_dict("high_credit_scorer.yaml")
        doc["evaluation"] = {**doc["evaluation"], "dataset_uri": f"demo/eval/{name}"}
        doc.update(card_changes)
        return validate_card(doc)

    return build


@pytest.fixture
def demo_frame() -> Any:
    import pandas as pd

    return pd.read_csv(INCLUDE / "demo" / "eval" / "credit-scorer.csv")


# --------------------------------------------------------------------------- governance store helpers

REVIEWERS = {
    "security_review": ["sec1"],
    "compliance_check": ["comp1"],
    "stakeholder_review": ["approver1", "approver2"],
}


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[GovernanceStore]:
    """A fast throwaway SQLite governance store (the shared ``store`` fixture also runs PostgreSQL)."""
    s = GovernanceStore.from_url(f"sqlite:///{tmp_path / 'governance.db'}")
    migrate(s.engine)
    yield s
    s.engine.dispose()


def record_automated(store: GovernanceStore, model: ModelRecord, *, run_id: str = "run-1") -> None:
    """Run the automated checks and store one evidence row per check, as the approval workflow does."""
    from governance.checks.automated import run_automated_checks

    report = run_automated_checks(validate_card(model.card), include_dir=INCLUDE)
    for check in report.checks:
        store.record_evidence(
            model.id,
            step="automated_checks",
            kind=check.name,
            passed=check.passed,
            details={"reasons": check.reasons, "details": check.details},
            actor="governance",
            run_id=run_id,
        )


def submit(
    store: GovernanceStore, card_file: str, *, owner: str = "alice", evidence: bool = True, **changes: Any
) -> ModelRecord:
    """Register a card, send it to review, and record its automated-check evidence."""
    card = make_card(card_file, **changes)
    model = store.register(card, owner=owner, run_id="run-1").model
    store.transition(model.id, ModelStatus.REVIEW_PENDING, actor=owner)
    if evidence:
        record_automated(store, store.get(model.id))
    return store.get(model.id)
