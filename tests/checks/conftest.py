"""Helpers for the check-engine tests: demo cards, copies of the include folder, card variants."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from governance.cards import ModelCard, parse_card_text, validate_card

REPO = Path(__file__).resolve().parents[2]
INCLUDE = REPO / "include"
CARDS = INCLUDE / "model_cards"
DEMO_CARDS = sorted(p.name for p in CARDS.glob("*.yaml"))


def card_dict(file_name: str) -> dict[str, Any]:
    # parse_card_text, not yaml.safe_load: importing governance.cards currently strips the bool
    # resolver from yaml.SafeLoader itself, so safe_load would read `true` as a string.
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
