"""Risk assessment: score, tier boundaries and the EU AI Act category."""

from __future__ import annotations

from pathlib import Path

import pytest

from governance.cards import Domain, ModelCard, ProhibitedPractice, load_card
from governance.risk import (
    CRITICAL_DOMAINS,
    ERR_PROHIBITED_PRACTICE,
    EU_HIGH_RISK_DOMAINS,
    EU_HIGH_RISK_FLOOR,
    REASON_EU_HIGH_RISK_FLOOR,
    EUAIActCategory,
    RiskLevel,
    assess_risk,
    level_for_score,
    prohibited_practice_reason,
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
        assert risk.score == weight and words in risk.reasons[0]
        # a critical domain is also EU AI Act high-risk: the floor is its own, second reason
        assert len(risk.reasons) == (2 if "domain" in changes else 1)
    everything = assess_risk(_card(domain=Domain.SAFETY, user_facing=True, autonomous=True, processes_pii=True))
    assert everything.score == 6 and everything.level is RiskLevel.CRITICAL and len(everything.reasons) == 4


def test_critical_domains_are_scored_and_high_risk_under_the_act() -> None:
    for domain in Domain:
        risk = assess_risk(_card(domain=domain))
        assert risk.score == (2 if domain in CRITICAL_DOMAINS else 0)
        expected = EUAIActCategory.HIGH_RISK if domain in EU_HIGH_RISK_DOMAINS else EUAIActCategory.MINIMAL
        assert risk.eu_ai_act_category is expected
    assert CRITICAL_DOMAINS <= set(EU_HIGH_RISK_DOMAINS)


@pytest.mark.parametrize("domain", sorted(EU_HIGH_RISK_DOMAINS, key=str))
def test_eu_high_risk_is_at_least_high_whatever_the_score(domain: Domain) -> None:
    """Annex III / Art. 6(1): an internal, non-autonomous model without personal data scores
    0 or 2, yet it must get at least the HIGH workflow (compliance check and a human)."""
    risk = assess_risk(_card(domain=domain))
    assert risk.eu_ai_act_category is EUAIActCategory.HIGH_RISK
    assert risk.level is RiskLevel.HIGH and EU_HIGH_RISK_FLOOR is RiskLevel.HIGH
    floor = REASON_EU_HIGH_RISK_FLOOR.format(rationale=risk.eu_ai_act_rationale, floor="HIGH")
    assert risk.reasons[-1] == floor
    assert "no risk factor declared" not in risk.reasons


def test_employment_model_from_the_seed_is_high_not_low() -> None:
    risk = assess_risk(_card(domain=Domain.EMPLOYMENT, user_facing=False, autonomous=False, processes_pii=False))
    assert (risk.score, risk.level) == (0, RiskLevel.HIGH)
    assert "Annex III(4)" in risk.reasons[0]


def test_the_floor_never_lowers_a_tier() -> None:
    critical = assess_risk(_card(domain=Domain.HEALTHCARE, user_facing=True, autonomous=True))
    assert critical.level is RiskLevel.CRITICAL
    assert not any("tier at least" in r for r in critical.reasons)
    high = assess_risk(_card(domain=Domain.FINANCE, processes_pii=True))  # score 3: HIGH on its own
    assert high.level is RiskLevel.HIGH and not any("tier at least" in r for r in high.reasons)


def test_outside_annex_iii_the_score_alone_decides() -> None:
    assert assess_risk(_card(user_facing=True)).level is RiskLevel.MEDIUM
    assert assess_risk(_card()).level is RiskLevel.LOW


def test_prohibited_practice_reason_names_art5_and_the_practice() -> None:
    risk = assess_risk(_card(prohibited_practices=[ProhibitedPractice.SOCIAL_SCORING]))
    why = prohibited_practice_reason(category=risk.eu_ai_act_category, practices=["social_scoring"])
    assert why == ERR_PROHIBITED_PRACTICE.format(practices="social_scoring")
    assert "Art. 5" in why and "social_scoring" in why
    assert prohibited_practice_reason(category=EUAIActCategory.HIGH_RISK, practices=[]) is None


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
