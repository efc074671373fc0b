"""The compliance requirements file: validated when loaded, and what the shipped one covers."""

from __future__ import annotations

from pathlib import Path

import pytest

from governance.compliance import evaluators as cc
from governance.compliance import requirements as reqs
from governance.errors import GovernanceError
from tests.checks.conftest import INCLUDE


def test_requirements_file_is_validated(tmp_path: Path) -> None:
    path = tmp_path / "requirements.yaml"
    path.write_text(
        "requirements:\n  SOC2:\n    title: t\n    checks:\n      - {id: X-1, title: t, check: telepathy}\n"
    )
    with pytest.raises(GovernanceError) as err:
        reqs.load_requirements(path)
    assert reqs.ERR_UNKNOWN_KIND.format(check_id="X-1", kind="telepathy", known=", ".join(cc.EVALUATORS)) in str(
        err.value
    )
    path.write_text(
        "requirements:\n  SOC2:\n    title: t\n    checks:\n"
        "      - {id: X-1, title: t, check: audit_trail, applies_when: [mood]}\n"
    )
    with pytest.raises(GovernanceError) as err:
        reqs.load_requirements(path)
    assert "unknown condition 'mood'" in str(err.value)


def test_shipped_requirements_cover_the_eu_ai_act_high_risk_articles() -> None:
    definition = reqs.load_requirements(include_dir=INCLUDE)
    assert set(definition.requirements) == {"GDPR", "SOC2", "HIPAA", "EU_AI_ACT"}
    ids = {c.id for c in definition.requirements["EU_AI_ACT"].checks}
    assert {f"EU-AIA-{n}" for n in (5, 9, 10, 11, 12, 13, 14, 15)} <= ids
