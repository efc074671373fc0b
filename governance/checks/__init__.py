"""Check engines of the approval workflows: automated checks, security findings, compliance.

Each public function is one call from an Airflow task body; nothing here runs at import time, and the
heavy libraries (Great Expectations, pandas, picklescan, boto3) are imported inside the functions.
"""

from governance.checks.automated import (
    CHECK_CARD_COMPLETENESS,
    CHECK_NAMES,
    AutomatedCheckReport,
    check_card_completeness,
    run_automated_checks,
)
from governance.checks.base import CheckResult, SourceError
from governance.checks.compliance import (
    ComplianceCheck,
    ComplianceReport,
    RequirementResult,
    evaluate_compliance,
    load_requirements,
)
from governance.checks.security import Finding, SecurityFindings, Severity, security_findings

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
