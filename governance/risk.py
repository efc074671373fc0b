"""Risk assessment: a risk tier (LOW..CRITICAL) from the card, plus the EU AI Act category."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any

from governance.cards import Domain, ModelCard

CRITICAL_DOMAINS = frozenset({Domain.HEALTHCARE, Domain.FINANCE, Domain.LEGAL, Domain.SAFETY})

# EU AI Act Annex III areas (plus safety components, Art. 6(1)) mapped from our domains.
EU_HIGH_RISK_DOMAINS: dict[Domain, str] = {
    Domain.BIOMETRICS: "Annex III(1) biometrics",
    Domain.CRITICAL_INFRASTRUCTURE: "Annex III(2) critical infrastructure",
    Domain.EDUCATION: "Annex III(3) education and vocational training",
    Domain.EMPLOYMENT: "Annex III(4) employment and workers management",
    Domain.FINANCE: "Annex III(5)(b) creditworthiness / essential private services",
    Domain.LAW_ENFORCEMENT: "Annex III(6) law enforcement",
    Domain.MIGRATION: "Annex III(7) migration, asylum and border control",
    Domain.LEGAL: "Annex III(8) administration of justice",
    Domain.HEALTHCARE: "Art. 6(1) safety component of a medical device / Annex III(5)(a)",
    Domain.SAFETY: "Art. 6(1) safety component of a regulated product",
}


class RiskLevel(StrEnum):
    LOW = "LOW"
    MEDIUM = "MEDIUM"
    HIGH = "HIGH"
    CRITICAL = "CRITICAL"


class EUAIActCategory(StrEnum):
    PROHIBITED = "prohibited"
    HIGH_RISK = "high-risk"
    LIMITED = "limited"
    MINIMAL = "minimal"


@dataclass(frozen=True, kw_only=True)
class RiskAssessment:
    level: RiskLevel
    score: int
    reasons: tuple[str, ...]
    eu_ai_act_category: EUAIActCategory
    eu_ai_act_rationale: str

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["level"] = self.level.value
        d["eu_ai_act_category"] = self.eu_ai_act_category.value
        d["reasons"] = list(self.reasons)
        return d


def level_for_score(score: int) -> RiskLevel:
    """≥5 CRITICAL, ≥3 HIGH, ≥1 MEDIUM, else LOW."""
    if score >= 5:
        return RiskLevel.CRITICAL
    if score >= 3:
        return RiskLevel.HIGH
    if score >= 1:
        return RiskLevel.MEDIUM
    return RiskLevel.LOW


def eu_ai_act_category(card: ModelCard) -> tuple[EUAIActCategory, str]:
    if card.prohibited_practices:
        practices = ", ".join(p.value for p in card.prohibited_practices)
        return EUAIActCategory.PROHIBITED, f"Art. 5 prohibited practice declared: {practices}"
    if card.domain in EU_HIGH_RISK_DOMAINS:
        return EUAIActCategory.HIGH_RISK, f"{EU_HIGH_RISK_DOMAINS[card.domain]} (domain {card.domain.value})"
    if card.user_facing:
        return (
            EUAIActCategory.LIMITED,
            "Art. 50 transparency obligations: people interact with the system directly",
        )
    return EUAIActCategory.MINIMAL, "no Art. 5 practice, no Annex III area, not user-facing"


def assess_risk(card: ModelCard) -> RiskAssessment:
    """Score the card: critical domain +2, user-facing +1, autonomous +2, processes PII +1."""
    score = 0
    reasons: list[str] = []
    if card.domain in CRITICAL_DOMAINS:
        score += 2
        reasons.append(f"critical domain '{card.domain.value}' (+2)")
    if card.user_facing:
        score += 1
        reasons.append("user-facing (+1)")
    if card.autonomous:
        score += 2
        reasons.append("makes autonomous decisions (+2)")
    if card.processes_pii:
        score += 1
        reasons.append("processes personal data (+1)")
    if not reasons:
        reasons.append("no risk factor declared")
    category, rationale = eu_ai_act_category(card)
    return RiskAssessment(
        level=level_for_score(score),
        score=score,
        reasons=tuple(reasons),
        eu_ai_act_category=category,
        eu_ai_act_rationale=rationale,
    )
