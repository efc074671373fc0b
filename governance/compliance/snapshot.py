"""The compliance snapshot: every model's compliance report in one JSON-safe document, the input of
the nightly compliance report (:mod:`governance.tasks.compliance_report_nightly`).

:func:`build_compliance_snapshot` evaluates each model (by default the DEPLOYED ones) with
:func:`governance.compliance.report.evaluate_compliance` against its risk tier's workflow steps,
verifying the audit chain once for all of them, and adds the summary and the trend against
yesterday's snapshot (:mod:`governance.compliance.trend`). :func:`model_outcomes` is what the
``compliance_reports`` row and the nightly audit events record per model.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from governance.audit import format_ts, utc_now
from governance.checks.base import jsonable
from governance.compliance.report import evaluate_compliance
from governance.compliance.requirements import load_requirements
from governance.compliance.trend import compare_with_previous, failing_checks
from governance.errors import GovernanceError
from governance.lifecycle import ModelStatus
from governance.store.repository import GovernanceStore, ModelRecord

SNAPSHOT_VERSION = 1

ERR_NO_WORKFLOW = "no approval workflow is defined for risk tier {tier}: {problem}"


def _tier_steps(workflow_steps: Mapping[str, Sequence[str]] | None) -> tuple[dict[str, list[str]], str | None]:
    if workflow_steps is not None:
        return {k.lower(): list(v) for k, v in workflow_steps.items()}, None
    try:
        from governance.workflows import load_workflows

        return {k.lower(): list(v) for k, v in load_workflows().tiers.items()}, None
    except (ImportError, GovernanceError) as exc:
        return {}, str(exc)


def build_compliance_snapshot(
    *,
    store: GovernanceStore,
    models: Sequence[ModelRecord] | None = None,
    workflow_steps: Mapping[str, Sequence[str]] | None = None,
    evidence_encrypted_at_rest: bool | None = None,
    reviewers: Mapping[str, Sequence[str]] | None = None,
    include_dir: Path | None = None,
    previous: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Evaluate every model's compliance (default: DEPLOYED models) into one JSON-safe snapshot.

    ``workflow_steps`` maps a risk tier (low…critical) to its approval steps; by default it comes from
    the workflow definition. ``previous`` is yesterday's snapshot, for the trend.
    """
    models = list(models) if models is not None else store.list_models(status=ModelStatus.DEPLOYED)
    tiers, tiers_problem = _tier_steps(workflow_steps)
    requirements = load_requirements(include_dir=include_dir)
    chain = store.audit.verify()
    reports = []
    for model in models:
        steps = tiers.get(model.risk_level.lower(), [])
        report = evaluate_compliance(
            model=model,
            store=store,
            workflow_steps=steps,
            evidence_encrypted_at_rest=evidence_encrypted_at_rest,
            reviewers=reviewers,
            include_dir=include_dir,
            requirements=requirements,
            chain=chain,
        ).to_dict()
        report["status"] = model.status.value
        report["workflow_steps"] = steps
        if model.risk_level.lower() not in tiers:
            report["notes"] = [ERR_NO_WORKFLOW.format(tier=model.risk_level, problem=tiers_problem or "not in file")]
        reports.append(report)
    snapshot: dict[str, Any] = {
        "version": SNAPSHOT_VERSION,
        "generated_at": format_ts(utc_now()),
        "audit_chain": {"ok": chain.ok, "events": chain.count, "summary": chain.summary()},
        "summary": {
            "models": len(reports),
            "passed": sum(1 for r in reports if r["passed"]),
            "failed": sum(1 for r in reports if not r["passed"]),
            "failed_checks": sum(len(failing_checks(r)) for r in reports),
        },
        "models": reports,
    }
    snapshot["trend"] = compare_with_previous(snapshot, previous)
    return jsonable(snapshot)


def model_outcomes(snapshot: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Model id → its outcome in ``snapshot``: name, passed, failing checks and trend."""
    trends = (snapshot.get("trend") or {}).get("models") or {}
    return {
        m["model_id"]: {
            "model": m["model"],
            "passed": bool(m["passed"]),
            "failing": failing_checks(m),
            "trend": (trends.get(m["model_id"]) or {}).get("trend"),
        }
        for m in snapshot.get("models") or []
    }
