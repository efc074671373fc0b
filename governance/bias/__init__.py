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

For the nightly audit of deployed models: the prediction-log convention of a card
(``predictions_source``, ``optional_columns``, ``why_not_auditable``) and what is recorded of a
report (``attribute_summary``, ``flagged_attributes``, ``flag_text``, ``report_outcome``).
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
from governance.bias._predictions_log import (
    LABEL_COLUMN,
    PREDICTION_COLUMN,
    SCORE_COLUMN,
    TIMESTAMP_COLUMN,
    WHY_NO_LOCATION,
    WHY_NO_PROTECTED,
    optional_columns,
    predictions_source,
    why_not_auditable,
)
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
from governance.bias._summary import (
    SUMMARY_KEYS,
    attribute_summary,
    flag_text,
    flagged_attributes,
    report_outcome,
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
    "LABEL_COLUMN",
    "METRICS",
    "MISSING_GROUP",
    "NOTE_NOT_ASSESSED",
    "NOTE_NO_SELECTION",
    "PREDICTION_COLUMN",
    "SCORE_COLUMN",
    "SUMMARY_KEYS",
    "TIMESTAMP_COLUMN",
    "WHY_NO_LOCATION",
    "WHY_NO_PROTECTED",
    "AttributeResult",
    "AuditInputError",
    "BiasAuditResult",
    "GroupResult",
    "Interval",
    "PredictionsInput",
    "ProgressCallback",
    "attribute_summary",
    "audit",
    "flag_text",
    "flagged_attributes",
    "optional_columns",
    "predictions_source",
    "preload",
    "report_outcome",
    "s3_filesystem",
    "why_not_auditable",
]
