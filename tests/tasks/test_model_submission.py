"""A submission is the card that was submitted, nothing else (issue 9, item 3).

``card_from_trigger`` takes the run's conf alone, never the trigger form's defaults; a card
lacking required fields is refused naming each of them; the form is pre-filled only when
``GOVERNANCE_FORM_DEFAULTS_CARD`` is set (the embedded default).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from governance.cards import ERR_MISSING, ModelCard, card_field_schemas, missing_required_fields
from governance.errors import CardValidationError
from governance.tasks.model_submission import ERR_SUBMISSION_INCOMPLETE, card_from_trigger, validate_submission

REPO = Path(__file__).resolve().parents[2]
CARDS = REPO / "include" / "model_cards"
DEMO = CARDS / "critical_clinical_triage.yaml"
REQUIRED = [name for name, (_, required) in card_field_schemas().items() if required]


def _card(name: str) -> dict:
    return yaml.safe_load((CARDS / name).read_text())


def test_the_card_is_exactly_the_conf() -> None:
    conf = _card("low_doc_tagger.yaml")
    assert card_from_trigger(conf=conf) == conf
    assert card_from_trigger(conf={"name": "x"}) == {"name": "x"}
    assert card_from_trigger(conf=None) == {}


def test_card_from_trigger_takes_no_params() -> None:
    """The run's params hold the form's defaults for every field left out: not an input."""
    with pytest.raises(TypeError):
        card_from_trigger(params={"description": "from the demo"}, conf={"name": "x"})  # type: ignore[call-arg]


def test_a_null_top_level_field_is_a_field_not_given() -> None:
    assert card_from_trigger(conf={"name": "x", "human_oversight": None, "tags": None}) == {"name": "x"}


def test_missing_required_fields_names_each_one() -> None:
    assert missing_required_fields({"name": "x"}) == [f for f in REQUIRED if f != "name"]
    assert missing_required_fields({}) == REQUIRED
    card = _card("low_doc_tagger.yaml")
    assert missing_required_fields(card) == []
    del card["artifact"]["sha256"]
    del card["evaluation"]["metrics"]["f1"]["value"]
    assert missing_required_fields(card) == ["evaluation.metrics.f1.value", "artifact.sha256"]
    assert missing_required_fields(["not", "a", "mapping"]) == []


def test_a_card_lacking_required_fields_is_refused_naming_each() -> None:
    with pytest.raises(CardValidationError) as err:
        validate_submission(card=card_from_trigger(conf={"name": "x"}))
    missing = [f for f in REQUIRED if f != "name"]
    assert err.value.problems[0] == ERR_SUBMISSION_INCOMPLETE.format(fields=", ".join(missing))
    prefix = ERR_MISSING.split("{hint}")[0]
    for field in missing:  # and one line per field, with an example of a right value
        assert any(p.startswith(prefix.format(path=f"card.{field}")) for p in err.value.problems), field
    assert len(err.value.problems) == 1 + len(missing)


def test_other_problems_are_not_led_by_the_missing_fields_line() -> None:
    card = _card("low_doc_tagger.yaml") | {"version": "1.x"}
    with pytest.raises(CardValidationError) as err:
        validate_submission(card=card)
    assert len(err.value.problems) == 1
    assert ERR_SUBMISSION_INCOMPLETE.split("{")[0] not in str(err.value)


def test_an_optional_field_left_out_stays_out() -> None:
    """The LOW demo card has no human oversight text, no protected attributes…: it gets none."""
    conf = _card("low_doc_tagger.yaml")
    out = validate_submission(card=card_from_trigger(conf=conf))
    demo = _card("critical_clinical_triage.yaml")
    assert out == ModelCard.model_validate(conf).model_dump(mode="json")
    for field in ("human_oversight", "data_minimisation", "predictions_location", "explainability_uri"):
        assert field not in conf and out[field] is None and demo[field]
    assert out["protected_attributes"] == [] and demo["protected_attributes"]


# ---------------------------------------------------------------------------- the form


def test_form_without_defaults_card_has_no_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow.sdk.definitions._internal.types import NOTSET

    from governance.orchestration.forms import card_params

    monkeypatch.delenv("GOVERNANCE_FORM_DEFAULTS_CARD", raising=False)
    params = card_params()
    for name, (_, required) in card_field_schemas().items():
        assert params[name].value is (NOTSET if required else None), name


def test_form_with_defaults_card_is_prefilled(monkeypatch: pytest.MonkeyPatch) -> None:
    from governance.orchestration.forms import card_params

    monkeypatch.setenv("GOVERNANCE_FORM_DEFAULTS_CARD", str(DEMO))
    params = card_params()
    demo = yaml.safe_load(DEMO.read_text())
    for name, value in demo.items():
        assert params[name].value == value, name


def test_optional_form_fields_accept_null_even_when_prefilled(monkeypatch: pytest.MonkeyPatch) -> None:
    from governance.orchestration.forms import card_params

    monkeypatch.setenv("GOVERNANCE_FORM_DEFAULTS_CARD", str(DEMO))
    params = card_params()
    for name, (_, required) in card_field_schemas().items():
        if not required:
            params[name].resolve(value=None)  # raises ParamValidationError if null were refused
