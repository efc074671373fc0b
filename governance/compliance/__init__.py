"""Compliance tracking: the requirements a card declares (GDPR, SOC 2, HIPAA, EU AI Act) and their
definitions (:mod:`.requirements`), the evaluators of their checks (:mod:`.evaluators`), one
model's report (:mod:`.report`), the snapshot over many models (:mod:`.snapshot`) and its trend
against yesterday (:mod:`.trend`).

The names below are loaded on first access (PEP 562): the evaluators and the report pull in
SQLAlchemy, pydantic and YAML, which importing ``governance.compliance.trend`` (for the HTML
report) should not.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from governance._util import lazy_exports

if TYPE_CHECKING:
    from governance.compliance.evaluators import EVALUATORS, EvidenceContext, Outcome
    from governance.compliance.report import (
        STATUS_FAILED,
        STATUS_NOT_APPLICABLE,
        STATUS_PASSED,
        ComplianceCheck,
        ComplianceReport,
        RequirementResult,
        evaluate_compliance,
    )
    from governance.compliance.requirements import (
        CONDITIONS,
        CheckDefinition,
        RequirementDefinition,
        RequirementsDefinition,
        load_requirements,
    )
    from governance.compliance.snapshot import SNAPSHOT_VERSION, build_compliance_snapshot, model_outcomes
    from governance.compliance.trend import (
        TREND_FIXED,
        TREND_NEW,
        TREND_NOW_FAILING,
        TREND_STILL_FAILING,
        TREND_STILL_PASSING,
        compare_with_previous,
        failing_checks,
    )
    from governance.compliance.usage import ModelUsage, UsageFinding, UsageSection, UserUsage, build_usage_section

_EXPORTS: dict[str, str] = {
    "EVALUATORS": "governance.compliance.evaluators",
    "EvidenceContext": "governance.compliance.evaluators",
    "Outcome": "governance.compliance.evaluators",
    "STATUS_FAILED": "governance.compliance.report",
    "STATUS_NOT_APPLICABLE": "governance.compliance.report",
    "STATUS_PASSED": "governance.compliance.report",
    "ComplianceCheck": "governance.compliance.report",
    "ComplianceReport": "governance.compliance.report",
    "RequirementResult": "governance.compliance.report",
    "evaluate_compliance": "governance.compliance.report",
    "CONDITIONS": "governance.compliance.requirements",
    "CheckDefinition": "governance.compliance.requirements",
    "RequirementDefinition": "governance.compliance.requirements",
    "RequirementsDefinition": "governance.compliance.requirements",
    "load_requirements": "governance.compliance.requirements",
    "SNAPSHOT_VERSION": "governance.compliance.snapshot",
    "build_compliance_snapshot": "governance.compliance.snapshot",
    "model_outcomes": "governance.compliance.snapshot",
    "TREND_FIXED": "governance.compliance.trend",
    "TREND_NEW": "governance.compliance.trend",
    "TREND_NOW_FAILING": "governance.compliance.trend",
    "TREND_STILL_FAILING": "governance.compliance.trend",
    "TREND_STILL_PASSING": "governance.compliance.trend",
    "compare_with_previous": "governance.compliance.trend",
    "failing_checks": "governance.compliance.trend",
    "ModelUsage": "governance.compliance.usage",
    "UsageFinding": "governance.compliance.usage",
    "UsageSection": "governance.compliance.usage",
    "UserUsage": "governance.compliance.usage",
    "build_usage_section": "governance.compliance.usage",
}

__all__ = [
    "CONDITIONS",
    "EVALUATORS",
    "SNAPSHOT_VERSION",
    "STATUS_FAILED",
    "STATUS_NOT_APPLICABLE",
    "STATUS_PASSED",
    "TREND_FIXED",
    "TREND_NEW",
    "TREND_NOW_FAILING",
    "TREND_STILL_FAILING",
    "TREND_STILL_PASSING",
    "CheckDefinition",
    "ComplianceCheck",
    "ComplianceReport",
    "EvidenceContext",
    "ModelUsage",
    "Outcome",
    "RequirementDefinition",
    "RequirementResult",
    "RequirementsDefinition",
    "UsageFinding",
    "UsageSection",
    "UserUsage",
    "build_compliance_snapshot",
    "build_usage_section",
    "compare_with_previous",
    "evaluate_compliance",
    "failing_checks",
    "load_requirements",
    "model_outcomes",
]


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, __all__)
