"""The automated step of the approval workflows: card completeness, evaluation data and metrics
(Great Expectations), artifact integrity and pickle scan, security findings, and the sources they read.

Each public function is one call from a task of :mod:`governance.tasks`; nothing here runs at import
time, and the heavy libraries (Great Expectations, pandas, picklescan, boto3) are imported inside the
functions. The names below are loaded on first access (PEP 562), so importing one submodule (e.g.
``governance.checks.automated``) does not import the others. The compliance tracker is
:mod:`governance.compliance`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from governance._util import lazy_exports

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

_EXPORTS: dict[str, str] = {
    "CHECK_CARD_COMPLETENESS": "governance.checks.automated",
    "CHECK_NAMES": "governance.checks.automated",
    "AutomatedCheckReport": "governance.checks.automated",
    "check_card_completeness": "governance.checks.automated",
    "run_automated_checks": "governance.checks.automated",
    "CheckResult": "governance.checks.base",
    "SourceError": "governance.checks.base",
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
    "Finding",
    "SecurityFindings",
    "Severity",
    "SourceError",
    "check_card_completeness",
    "run_automated_checks",
    "security_findings",
]


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, __all__)
