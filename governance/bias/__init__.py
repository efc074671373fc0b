"""Bias audits of binary predictions; fairlearn defines every number.

>>> from governance.bias import audit
>>> result = audit("predictions.parquet", label="label", prediction="prediction",
...                protected=["sex", "race", "race*sex"])  # doctest: +SKIP
>>> result.to_dict()["attributes"]["race"]["disparate_impact"]  # doctest: +SKIP

Speed comes from feeding fairlearn less data, never from redefining its metrics: the
predictions are streamed once and reduced to per-group confusion counts (integer
``bincount`` over dictionary codes), then fairlearn's metric functions run on each group's
(y_true, y_pred) cells with the counts as ``sample_weight``, as ``MetricFrame`` runs them on
each slice. The results equal a ``MetricFrame`` and fairlearn's fairness functions run on
the raw rows.
"""

from governance.bias._audit import (
    ERR_BAD_ATTRIBUTE,
    ERR_BAND,
    ERR_BOOTSTRAP,
    ERR_CI_LEVEL,
    ERR_DUPLICATE_ATTRIBUTE,
    ERR_EMPTY,
    ERR_MIN_GROUP_SIZE,
    ERR_NO_PROTECTED,
    ERR_REFERENCE_ATTRIBUTE,
    ERR_REFERENCE_GROUP,
    ERR_ROLE_CLASH,
    ERR_UNKNOWN_METRIC,
    NOTE_NO_SELECTION,
    NOTE_NOT_ASSESSED,
    ProgressCallback,
    audit,
    preload,
)
from governance.bias._counts import (
    ERR_BINARY_MISSING,
    ERR_BINARY_TYPE,
    ERR_BINARY_VALUES,
    ERR_PROTECTED_TYPE,
    ERR_SCORE_MISSING,
    ERR_SCORE_TYPE,
    ERR_TOO_MANY_GROUPS,
    MISSING_GROUP,
)
from governance.bias._metrics import CORE_METRICS, METRICS, Interval
from governance.bias._result import (
    FOUR_FIFTHS_NOTE,
    AttributeResult,
    BiasAuditResult,
    GroupResult,
)
from governance.bias._source import (
    ERR_MISSING_COLUMN,
    ERR_NOT_FOUND,
    ERR_S3_URI,
    ERR_UNREADABLE,
    ERR_UNSUPPORTED_INPUT,
    AuditInputError,
    PredictionsInput,
    s3_filesystem,
)

__all__ = [
    "CORE_METRICS",
    "ERR_BAD_ATTRIBUTE",
    "ERR_BAND",
    "ERR_BINARY_MISSING",
    "ERR_BINARY_TYPE",
    "ERR_BINARY_VALUES",
    "ERR_BOOTSTRAP",
    "ERR_CI_LEVEL",
    "ERR_DUPLICATE_ATTRIBUTE",
    "ERR_EMPTY",
    "ERR_MIN_GROUP_SIZE",
    "ERR_MISSING_COLUMN",
    "ERR_NOT_FOUND",
    "ERR_NO_PROTECTED",
    "ERR_PROTECTED_TYPE",
    "ERR_REFERENCE_ATTRIBUTE",
    "ERR_REFERENCE_GROUP",
    "ERR_ROLE_CLASH",
    "ERR_S3_URI",
    "ERR_SCORE_MISSING",
    "ERR_SCORE_TYPE",
    "ERR_TOO_MANY_GROUPS",
    "ERR_UNKNOWN_METRIC",
    "ERR_UNREADABLE",
    "ERR_UNSUPPORTED_INPUT",
    "FOUR_FIFTHS_NOTE",
    "METRICS",
    "MISSING_GROUP",
    "NOTE_NOT_ASSESSED",
    "NOTE_NO_SELECTION",
    "AttributeResult",
    "AuditInputError",
    "BiasAuditResult",
    "GroupResult",
    "Interval",
    "PredictionsInput",
    "ProgressCallback",
    "audit",
    "preload",
    "s3_filesystem",
]
