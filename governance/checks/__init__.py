"""Check engines of the approval workflows: automated checks, security findings, compliance.

Each public function is one call from an Airflow task body; nothing here runs at import time, and the
heavy libraries (Great Expectations, pandas, picklescan, boto3) are imported inside the functions.
The names below are loaded on first access (PEP 562), so importing one submodule (e.g.
``governance.checks.automated``) does not import the others (the compliance tracker pulls in
SQLAlchemy).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from governance.checks.automated import (
        CHECK_CARD_COMPLETENESS,
        CHECK_NAMES,
        AutomatedCheckReport,
        check_card_completeness,
        run_automated_checks,
    )
    from governance.checks.base import CheckResult, SourceError
    from governance.checks.security import Finding, SecurityFindings, Severity, security_findings
    from governance.compliance.report import (
        ComplianceCheck,
        ComplianceReport,
        RequirementResult,
        evaluate_compliance,
        load_requirements,
    )

_EXPORTS: dict[str, str] = {
    "CHECK_CARD_COMPLETENESS": "governance.checks.automated",
    "CHECK_NAMES": "governance.checks.automated",
    "AutomatedCheckReport": "governance.checks.automated",
    "check_card_completeness": "governance.checks.automated",
    "run_automated_checks": "governance.checks.automated",
    "CheckResult": "governance.checks.base",
    "SourceError": "governance.checks.base",
    "ComplianceCheck": "governance.compliance.report",
    "ComplianceReport": "governance.compliance.report",
    "RequirementResult": "governance.compliance.report",
    "evaluate_compliance": "governance.compliance.report",
    "load_requirements": "governance.compliance.report",
    "Finding": "governance.checks.security",
    "SecurityFindings": "governance.checks.security",
    "Severity": "governance.checks.security",
    "security_findings": "governance.checks.security",
}

__all__ = [
    "CHECK_CARD_COMPLETENESS",
    "CHECK_NAMES",
    "AutomatedCheckReport",
    "CheckResult",
    "ComplianceCheck",
    "ComplianceReport",
    "Finding",
    "RequirementResult",
    "SecurityFindings",
    "Severity",
    "SourceError",
    "check_card_completeness",
    "evaluate_compliance",
    "load_requirements",
    "run_automated_checks",
    "security_findings",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'governance.checks' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
