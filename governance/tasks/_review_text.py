"""The Markdown body of a review request (``governance.tasks.model_approval.review_request``):
the model, its risk, and what the step's reviewers decide on (security findings, the
compliance report, or the steps and answers so far)."""

from __future__ import annotations

from typing import Any

from governance.cards import validate_card
from governance.store import GovernanceStore
from governance.workflows import StepKind


def review_body(store: GovernanceStore, model: Any, *, run_id: str, step: str, kind: StepKind) -> str:
    card = model.card
    lines = [
        f"**Model** `{model.name}` version `{model.version}` (id `{model.id}`), owner **{model.owner}** "
        f"(team {model.owner_team})",
        f"**Risk** {model.risk_level} (score {model.risk_score}): {'; '.join(model.risk_reasons)}",
        f"**EU AI Act** {model.eu_ai_act_category}: {model.eu_ai_act_rationale}",
        "",
        f"**Intended use** {card.get('intended_use', '')}",
        "",
    ]
    if kind == StepKind.REVIEW:
        lines.append(_security_markdown(store, model, run_id=run_id))
    elif kind == StepKind.COMPLIANCE:
        for ev in store.list_evidence(model.id):
            if ev["run_id"] == run_id and ev["step"] == step and ev["kind"] == "compliance_report":
                from governance.compliance.report import ComplianceReport

                lines.append(ComplianceReport.from_dict(ev["details"]).to_markdown())
    else:
        results = [
            f"- {ev['step']}: {'passed' if ev['passed'] else 'FAILED'}"
            for ev in store.list_evidence(model.id)
            if ev["run_id"] == run_id and ev["kind"] == "result"
        ]
        answers = [
            f"- {d['step']}: {d['decision']} by {d['actor']}" + (f" ({d['comment']})" if d["comment"] else "")
            for d in store.list_decisions(model.id)
            if d["run_id"] == run_id
        ]
        lines += ["**Steps so far**", *results, *answers]
    lines += ["", "Answer with a comment; a negative answer sends the model back to DEVELOPMENT."]
    return "\n".join(lines)


def _security_markdown(store: GovernanceStore, model: Any, *, run_id: str) -> str:
    from governance.checks.automated import AutomatedCheckReport
    from governance.checks.security import security_findings

    reports = [
        ev["details"] for ev in store.list_evidence(model.id) if ev["run_id"] == run_id and ev["kind"] == "report"
    ]
    if not reports:
        return "_No automated check report on record for this run._"
    report = AutomatedCheckReport.from_dict(reports[0])
    return security_findings(validate_card(model.card), report).to_markdown()
