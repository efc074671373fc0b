"""Risk assessment: score, tier boundaries and the EU AI Act category."""

from __future__ import annotations

from pathlib import Path

import pytest

from governance.cards import Domain, ModelCard, ProhibitedPractice, load_card
from governance.risk import (
    CRITICAL_DOMAINS,
    EU_HIGH_RISK_DOMAINS,
    EUAIActCategory,
    RiskLevel,
    assess_risk,
    level_for_score,
)

CARDS = Path(__file__).resolve().parent.parent / "include" / "model_cards"


def _card(**changes: object) -> ModelCard:
    base = load_card(CARDS / "low_doc_tagger.yaml")
    return base.model_copy(update=changes)


@pytest.mark.parametrize(
    ("score", "level"),
    [(0, RiskLevel.LOW), (1, RiskLevel.MEDIUM), (2, RiskLevel.MEDIUM), (3, RiskLevel.HIGH), (4, RiskLevel.HIGH)]
    + [(5, RiskLevel.CRITICAL), (6, RiskLevel.CRITICAL)],
)
def test_level_boundaries(score: int, level: RiskLevel) -> None:
    assert level_for_score(score) is level


@pytest.mark.parametrize(
    ("file", "level", "score", "category"),
    [
        ("low_doc_tagger.yaml", RiskLevel.LOW, 0, EUAIActCategory.MINIMAL),
        ("medium_product_recommender.yaml", RiskLevel.MEDIUM, 2, EUAIActCategory.LIMITED),
        ("high_credit_scorer.yaml", RiskLevel.HIGH, 3, EUAIActCategory.HIGH_RISK),
        ("critical_clinical_triage.yaml", RiskLevel.CRITICAL, 6, EUAIActCategory.HIGH_RISK),
    ],
)
def test_demo_cards_land_in_their_tiers(file: str, level: RiskLevel, score: int, category: EUAIActCategory) -> None:
    risk = assess_risk(load_card(CARDS / file))
    assert (risk.level, risk.score, risk.eu_ai_act_category) == (level, score, category)


def test_each_factor_adds_its_weight_and_a_reason() -> None:
    assert assess_risk(_card()).reasons == ("no risk factor declared",)
    for changes, weight, words in [
        ({"domain": Domain.HEALTHCARE}, 2, "critical domain 'healthcare'"),
        ({"user_facing": True}, 1, "user-facing"),
        ({"autonomous": True}, 2, "autonomous"),
        ({"processes_pii": True}, 1, "personal data"),
    ]:
        risk = assess_risk(_card(**changes))
        assert risk.score == weight and len(risk.reasons) == 1 and words in risk.reasons[0]
    everything = assess_risk(_card(domain=Domain.SAFETY, user_facing=True, autonomous=True, processes_pii=True))
    assert everything.score == 6 and everything.level is RiskLevel.CRITICAL and len(everything.reasons) == 4


def test_critical_domains_are_scored_and_high_risk_under_the_act() -> None:
    for domain in Domain:
        risk = assess_risk(_card(domain=domain))
        assert risk.score == (2 if domain in CRITICAL_DOMAINS else 0)
        expected = EUAIActCategory.HIGH_RISK if domain in EU_HIGH_RISK_DOMAINS else EUAIActCategory.MINIMAL
        assert risk.eu_ai_act_category is expected
    assert CRITICAL_DOMAINS <= set(EU_HIGH_RISK_DOMAINS)


def test_prohibited_practice_wins_over_everything() -> None:
    risk = assess_risk(_card(domain=Domain.FINANCE, prohibited_practices=[ProhibitedPractice.SOCIAL_SCORING]))
    assert risk.eu_ai_act_category is EUAIActCategory.PROHIBITED
    assert "social_scoring" in risk.eu_ai_act_rationale


def test_to_dict_is_plain_json() -> None:
    d = assess_risk(_card(user_facing=True)).to_dict()
    assert d == {
        "level": "MEDIUM",
        "score": 1,
        "reasons": ["user-facing (+1)"],
        "eu_ai_act_category": "limited",
        "eu_ai_act_rationale": d["eu_ai_act_rationale"],
    }
    assert "Art. 50" in d["eu_ai_act_rationale"]
