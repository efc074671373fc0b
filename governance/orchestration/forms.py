"""Trigger-form ``Param``s of the submission DAG, built from the model card's JSON schema."""

from __future__ import annotations

from typing import Any

from airflow.sdk import Param

from governance import config


def card_params() -> dict[str, Param]:
    """One ``Param`` per card field. Required fields have no default, so Airflow refuses a
    trigger that lacks them; when ``GOVERNANCE_FORM_DEFAULTS_CARD`` names a card file (the
    embedded default sets the CRITICAL demo card), the form starts filled with its values."""
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
        if name in defaults:
            params[name] = Param(defaults[name], title=title, description=description, **schema)
        elif required:
            params[name] = Param(title=title, description=description, **schema)
        else:
            if "type" in schema and "anyOf" not in schema:
                schema["type"] = [schema["type"], "null"] if isinstance(schema["type"], str) else schema["type"]
            params[name] = Param(None, title=title, description=description, **schema)
    return params


def report_date_param(description: str) -> Param:
    """Optional ``report_date`` (YYYY-MM-DD) of the nightly report DAGs; empty = the run's own day."""
    return Param(None, type=["null", "string"], pattern=r"^\d{4}-\d{2}-\d{2}$", description=description)
