"""AI model governance on Apache Airflow 3: the domain package (usable without Airflow).

The public names below load on first use (PEP 562), so ``import governance`` stays cheap for
DAG files and the CLI's ``--help``.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from governance.audit import AuditEvent, AuditTrail, VerifyResult
    from governance.bias import audit as bias_audit
    from governance.cards import ModelCard, load_card, validate_card
    from governance.errors import (
        AlreadyRegisteredError,
        CardValidationError,
        GovernanceError,
        IllegalTransitionError,
        ModelNotFoundError,
    )
    from governance.lifecycle import TRANSITIONS, ModelStatus
    from governance.risk import EUAIActCategory, RiskAssessment, RiskLevel, assess_risk
    from governance.store import GovernanceStore, ModelRecord
    from governance.store.migrate import upgrade as migrate
    from governance.workflows import WorkflowDefinition, load_workflows

_LAZY = {
    "AuditEvent": "governance.audit",
    "AuditTrail": "governance.audit",
    "VerifyResult": "governance.audit",
    "ModelCard": "governance.cards",
    "load_card": "governance.cards",
    "validate_card": "governance.cards",
    "AlreadyRegisteredError": "governance.errors",
    "CardValidationError": "governance.errors",
    "GovernanceError": "governance.errors",
    "IllegalTransitionError": "governance.errors",
    "ModelNotFoundError": "governance.errors",
    "TRANSITIONS": "governance.lifecycle",
    "ModelStatus": "governance.lifecycle",
    "EUAIActCategory": "governance.risk",
    "RiskAssessment": "governance.risk",
    "RiskLevel": "governance.risk",
    "assess_risk": "governance.risk",
    "GovernanceStore": "governance.store",
    "ModelRecord": "governance.store",
    "migrate": "governance.store",
    "WorkflowDefinition": "governance.workflows",
    "load_workflows": "governance.workflows",
}
_RENAMED = {"bias_audit": ("governance.bias", "audit")}

__all__ = [
    "TRANSITIONS",
    "AlreadyRegisteredError",
    "AuditEvent",
    "AuditTrail",
    "CardValidationError",
    "EUAIActCategory",
    "GovernanceError",
    "GovernanceStore",
    "IllegalTransitionError",
    "ModelCard",
    "ModelNotFoundError",
    "ModelRecord",
    "ModelStatus",
    "RiskAssessment",
    "RiskLevel",
    "VerifyResult",
    "WorkflowDefinition",
    "assess_risk",
    "bias_audit",
    "load_card",
    "load_workflows",
    "migrate",
    "validate_card",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    if name in _RENAMED:
        module, attr = _RENAMED[name]
        return getattr(import_module(module), attr)
    raise AttributeError(f"module 'governance' has no attribute {name!r}")
