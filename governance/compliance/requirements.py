"""The compliance requirements model: ``include/compliance/requirements.yaml`` as strict pydantic
definitions (:class:`RequirementsDefinition`), the conditions a check may apply under
(:data:`CONDITIONS`) and :func:`load_requirements`, which reads and checks the file.

Each check names an evaluator (:data:`governance.compliance.evaluators.EVALUATORS`); an unknown
evaluator, an unknown condition or a check id used twice is refused when the file is loaded.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import yaml
from pydantic import Field, ValidationError, model_validator

from governance import config
from governance._pydantic import StrictModel
from governance.compliance.evaluators import EVALUATORS
from governance.errors import GovernanceError

REQUIREMENTS_FILE = Path("compliance") / "requirements.yaml"

ERR_REQUIREMENTS_FILE = "{path}: {problem}"
ERR_UNKNOWN_KIND = "check {check_id} uses check kind '{kind}', which does not exist (known: {known})"
ERR_UNKNOWN_CONDITION = "check {check_id}: unknown condition '{condition}' in applies_when (known: {known})"
ERR_DUPLICATE_ID = "check id {check_id} is used twice; ids must be unique"

CONDITIONS: dict[str, str] = {
    "processes_pii": "the model processes personal data",
    "autonomous": "the model makes autonomous decisions",
    "user_facing": "people interact with the model directly",
    "phi": "the model processes personal data in the healthcare domain",
    "eu_high_risk": "the model is high-risk under the EU AI Act",
    "eu_limited": "the model has limited risk under the EU AI Act (Art. 50)",
}
"""Condition name (as written in ``applies_when``) → what it means, shown when a check does not apply."""


class CheckDefinition(StrictModel):
    id: Annotated[str, Field(min_length=1, max_length=64)]
    title: Annotated[str, Field(min_length=1)]
    reference: str = ""
    check: str
    evidence: list[str] = Field(default_factory=list)
    applies_when: list[str] = Field(default_factory=list)


class RequirementDefinition(StrictModel):
    title: str
    applies_when: list[str] = Field(default_factory=list)
    not_applicable_note: str | None = None
    checks: list[CheckDefinition] = Field(min_length=1)


class RequirementsDefinition(StrictModel):
    version: int = 1
    human_review_steps: list[str] = Field(default_factory=list)
    requirements: dict[str, RequirementDefinition]

    @model_validator(mode="after")
    def _known(self) -> RequirementsDefinition:
        seen: set[str] = set()
        for name, req in self.requirements.items():
            for cond in req.applies_when:
                if cond not in CONDITIONS:
                    raise ValueError(
                        ERR_UNKNOWN_CONDITION.format(check_id=name, condition=cond, known=", ".join(CONDITIONS))
                    )
            for chk in req.checks:
                if chk.id in seen:
                    raise ValueError(ERR_DUPLICATE_ID.format(check_id=chk.id))
                seen.add(chk.id)
                if chk.check not in EVALUATORS:
                    raise ValueError(
                        ERR_UNKNOWN_KIND.format(check_id=chk.id, kind=chk.check, known=", ".join(EVALUATORS))
                    )
                for cond in chk.applies_when:
                    if cond not in CONDITIONS:
                        raise ValueError(
                            ERR_UNKNOWN_CONDITION.format(check_id=chk.id, condition=cond, known=", ".join(CONDITIONS))
                        )
        return self


def load_requirements(path: Path | None = None, *, include_dir: Path | None = None) -> RequirementsDefinition:
    """Read and check ``requirements.yaml`` (raises :class:`GovernanceError` naming the file and the problem)."""
    path = path or (include_dir or config.include_dir()) / REQUIREMENTS_FILE
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise GovernanceError(ERR_REQUIREMENTS_FILE.format(path=path, problem=f"cannot read: {exc.strerror}")) from None
    except yaml.YAMLError as exc:
        raise GovernanceError(ERR_REQUIREMENTS_FILE.format(path=path, problem=f"not valid YAML: {exc}")) from None
    try:
        return RequirementsDefinition.model_validate(data)
    except ValidationError as exc:
        problem = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'file'}: {e['msg'].removeprefix('Value error, ')}"
            for e in exc.errors()
        )
        raise GovernanceError(ERR_REQUIREMENTS_FILE.format(path=path, problem=problem)) from None
