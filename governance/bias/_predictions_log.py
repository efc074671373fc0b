"""The prediction log of a deployed model, as the nightly bias audit reads it.

A model card declares where its production predictions are kept (``predictions_location``) and
which attributes to group them by (``protected_attributes``); a card without either cannot be
audited (:func:`why_not_auditable`). The log is Parquet (one file or a folder of files, local or
``s3://``) with the columns :data:`LABEL_COLUMN` (true outcome, 0/1), :data:`PREDICTION_COLUMN`
(the model's decision, 0/1, 1 = favourable) and the card's protected attributes; the optional
:data:`SCORE_COLUMN` (adds each group's mean score) and :data:`TIMESTAMP_COLUMN` (its min/max
become the report's time window) are used when present (:func:`optional_columns`).

Like every other URI of a card (``evaluation.dataset_uri``, ``artifact.uri``), a relative
``predictions_location`` is relative to the include folder (``GOVERNANCE_INCLUDE_DIR``) and must
stay inside it; ``s3://``, ``file://`` and absolute paths are used as they are
(:func:`predictions_source`).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

LABEL_COLUMN = "label"
PREDICTION_COLUMN = "prediction"
SCORE_COLUMN = "score"
TIMESTAMP_COLUMN = "timestamp"

WHY_NO_LOCATION = "its card declares no predictions_location (where production predictions are kept)"
WHY_NO_PROTECTED = "its card declares no protected_attributes to group the predictions by"


def why_not_auditable(card: Mapping[str, Any]) -> str | None:
    """Why a (stored) card's predictions cannot be bias-audited, or None when they can."""
    if not card.get("predictions_location"):
        return WHY_NO_LOCATION
    if not card.get("protected_attributes"):
        return WHY_NO_PROTECTED
    return None


def predictions_source(location: str, *, include_dir: Path | None = None) -> str:
    """The path or ``s3://`` URI to read for a card's ``predictions_location`` (see the module docstring)."""
    from governance.checks.base import resolve_uri

    source = resolve_uri(location, field="card.predictions_location", include_dir=include_dir)
    if source.is_s3:
        return location
    assert source.path is not None
    return str(source.path)


def optional_columns(source: str, protected: list[str]) -> tuple[str | None, str | None]:
    """(score column, timestamp column) when the predictions at ``source`` have them."""
    from governance.bias._source import open_source

    names = set(open_source(source, dictionary_columns=protected).schema.names)
    return (SCORE_COLUMN if SCORE_COLUMN in names else None, TIMESTAMP_COLUMN if TIMESTAMP_COLUMN in names else None)
