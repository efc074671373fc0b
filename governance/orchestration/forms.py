"""Trigger-form ``Param``s of the submission DAG, built from the model card's JSON schema."""

from __future__ import annotations

from typing import Any

from airflow.sdk import Param

from governance import config


def card_params() -> dict[str, Param]:
    """One ``Param`` per card field: the trigger form of ``model_submission``.

    Required fields have no default, so Airflow refuses a trigger that lacks one (HTTP 400,
    ``Invalid input for param <field>: No value passed``). When ``GOVERNANCE_FORM_DEFAULTS_CARD``
    names a card file (only the embedded default sets it, to the CRITICAL demo card), the form
    starts filled with its values. Airflow then also uses them for any field a REST or CLI
    trigger leaves out, in its trigger-time check and in the run's ``params``; they never become
    part of a submission: the card is the run's conf alone, and the task ``validate_card``
    (``governance.tasks.model_submission.validate_card``) refuses one that lacks required fields. Optional fields accept ``null``
    (= not given) whether or not they are pre-filled, so a form user can clear one.
    """
    from governance.cards import card_field_schemas, parse_card_text

    defaults: dict[str, Any] = {}
    path = config.form_defaults_card()
    if path is not None and path.is_file():
        defaults = parse_card_text(path.read_bytes())
    params: dict[str, Param] = {}
    for name, (schema, required) in card_field_schemas().items():
        schema = dict(schema)
        schema.pop("examples", None)
        title = schema.pop("title", name.replace("_", " ").capitalize())
        description = schema.pop("description", None)
        if not required:
            schema = _nullable(schema)
        if name in defaults:
            params[name] = Param(defaults[name], title=title, description=description, **schema)
        elif required:
            params[name] = Param(title=title, description=description, **schema)
        else:
            params[name] = Param(None, title=title, description=description, **schema)
    return params


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` admitting ``null`` too (a schema with ``anyOf``, from ``X | None``, already does)."""
    kind = schema.get("type")
    if kind is None or "anyOf" in schema:
        return schema
    kinds = [kind] if isinstance(kind, str) else list(kind)
    return {**schema, "type": kinds if "null" in kinds else [*kinds, "null"]}


def report_date_param(description: str) -> Param:
    """Optional ``report_date`` (YYYY-MM-DD) of the nightly report DAGs; empty = the run's own day."""
    return Param(None, type=["null", "string"], pattern=r"^\d{4}-\d{2}-\d{2}$", description=description)
