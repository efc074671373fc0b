"""The strict pydantic base of every configuration object: unknown keys are refused and a
loaded object is immutable (Great Expectations 1.x validates its public objects this way)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
