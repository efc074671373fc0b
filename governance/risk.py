"""Risk assessment: a risk tier (LOW..CRITICAL) from the card, plus the EU AI Act category."""

from __future__ import annotations

from collections.abc import Iterable
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


LEVEL_ORDER: tuple[RiskLevel, ...] = (RiskLevel.LOW, RiskLevel.MEDIUM, RiskLevel.HIGH, RiskLevel.CRITICAL)
EU_HIGH_RISK_FLOOR = RiskLevel.HIGH
"""An EU AI Act high-risk system (Annex III / Art. 6(1)) goes through at least this tier."""

REASON_EU_HIGH_RISK_FLOOR = "EU AI Act high-risk system, {rationale}: tier at least {floor}"
ERR_PROHIBITED_PRACTICE = (
    "EU AI Act Art. 5 prohibits the declared practice(s) {practices}: a prohibited AI practice is never "
    "approved or deployed, at any risk tier"
)


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


def prohibited_practice_reason(*, category: str, practices: Iterable[str]) -> str | None:
    """Why a model may never be approved (EU AI Act Art. 5), or None when it declares no
    prohibited practice. The one derivation used by the approval workflow, the store and
    the reports."""
    if category != EUAIActCategory.PROHIBITED.value:
        return None
    names = ", ".join(str(getattr(p, "value", p)) for p in practices) or "(see the model card)"
    return ERR_PROHIBITED_PRACTICE.format(practices=names)


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
    """Score the card: critical domain +2, user-facing +1, autonomous +2, processes PII +1;
    ≥5 CRITICAL, ≥3 HIGH, ≥1 MEDIUM, else LOW. An EU AI Act high-risk system is at least
    HIGH whatever its score (the floor is one of the reasons)."""
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
    category, rationale = eu_ai_act_category(card)
    level = level_for_score(score)
    if category == EUAIActCategory.HIGH_RISK and LEVEL_ORDER.index(level) < LEVEL_ORDER.index(EU_HIGH_RISK_FLOOR):
        level = EU_HIGH_RISK_FLOOR
        reasons.append(REASON_EU_HIGH_RISK_FLOOR.format(rationale=rationale, floor=EU_HIGH_RISK_FLOOR.value))
    if not reasons:
        reasons.append("no risk factor declared")
    return RiskAssessment(
        level=level,
        score=score,
        reasons=tuple(reasons),
        eu_ai_act_category=category,
        eu_ai_act_rationale=rationale,
    )
