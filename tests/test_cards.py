"""Model cards: parsing, validation, error messages, and the corpus of malformed cards."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from governance.cards import (
    ERR_ALIAS,
    ERR_BAD_NAME,
    ERR_BAD_SHA,
    ERR_BAD_URI,
    ERR_BINARY,
    ERR_DUPLICATE_KEY,
    ERR_DUPLICATES,
    ERR_EMPTY_CARD,
    ERR_EMPTY_TEXT,
    ERR_ENUM,
    ERR_KEY_NOT_TEXT,
    ERR_MISSING,
    ERR_NOT_FINITE,
    ERR_NOT_MAPPING,
    ERR_NOT_SEMVER,
    ERR_NOT_UTF8,
    ERR_SUBMITTER_FIELD,
    ERR_TEXT_TOO_LONG,
    ERR_TOO_DEEP,
    ERR_TOO_FEW,
    ERR_TOO_LARGE,
    ERR_TOO_MANY,
    ERR_UNKNOWN_FIELD,
    ERR_WRONG_TYPE,
    ERR_YAML,
    MAX_CARD_BYTES,
    ModelCard,
    card_json_schema,
    load_card,
    parse_card_text,
    validate_card,
)
from governance.cli import main as cli_main
from governance.cli.common import EXIT_OK
from governance.errors import CardValidationError
from governance.store.tables import audit_events, model_versions
from tests.support.fragments import assert_mentions

REPO = Path(__file__).resolve().parent.parent
CORPUS_DIR = Path(__file__).resolve().parent / "data" / "malformed_cards"
DEMO_CARDS = sorted((REPO / "include" / "model_cards").glob("*.yaml"))

BASELINE = """name: corpus-model
version: 1.0.0
description: A model used to test how malformed cards are refused.
owner_team: governance-qa
domain: retail
user_facing: false
autonomous: false
processes_pii: false
intended_use: Exercise the card validator.
limitations:
  - Only for tests.
evaluation:
  dataset_uri: demo/eval/doc-tagger.csv
  metrics:
    accuracy: {value: 0.9, threshold: 0.8}
artifact:
  uri: demo/artifacts/doc-tagger.pkl
  sha256: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
  format: pickle
tags: [corpus]
"""
"""The valid card every corpus file is a broken copy of."""

# file -> (the error constant its one problem is built from, the field the message must name)
CORPUS: dict[str, tuple[str, str | None]] = {
    "missing_name.yaml": (ERR_MISSING, "card.name"),
    "missing_version.yaml": (ERR_MISSING, "card.version"),
    "missing_domain.yaml": (ERR_MISSING, "card.domain"),
    "missing_evaluation.yaml": (ERR_MISSING, "card.evaluation"),
    "missing_artifact_sha256.yaml": (ERR_MISSING, "card.artifact.sha256"),
    "missing_metric_value.yaml": (ERR_MISSING, "card.evaluation.metrics.accuracy.value"),
    "empty_file.yaml": (ERR_EMPTY_CARD, None),
    "comment_only.yaml": (ERR_EMPTY_CARD, None),
    "list_document.yaml": (ERR_NOT_MAPPING, None),
    "scalar_document.yaml": (ERR_NOT_MAPPING, None),
    "name_integer.yaml": (ERR_WRONG_TYPE, "card.name"),
    "name_null.yaml": (ERR_WRONG_TYPE, "card.name"),
    "user_facing_yes_string.yaml": (ERR_WRONG_TYPE, "card.user_facing"),
    "autonomous_integer.yaml": (ERR_WRONG_TYPE, "card.autonomous"),
    "limitations_string.yaml": (ERR_WRONG_TYPE, "card.limitations"),
    "metric_value_text.yaml": (ERR_WRONG_TYPE, "card.evaluation.metrics.accuracy.value"),
    "metric_threshold_bool.yaml": (ERR_WRONG_TYPE, "card.evaluation.metrics.accuracy.threshold"),
    "metric_value_nan.yaml": (ERR_NOT_FINITE, "card.evaluation.metrics.accuracy.value"),
    "metric_value_infinite.yaml": (ERR_NOT_FINITE, "card.evaluation.metrics.accuracy.value"),
    "metric_entry_not_mapping.yaml": (ERR_WRONG_TYPE, "card.evaluation.metrics.accuracy"),
    "version_not_semver.yaml": (ERR_NOT_SEMVER, "card.version"),
    "version_float.yaml": (ERR_WRONG_TYPE, "card.version"),
    "version_leading_zero.yaml": (ERR_NOT_SEMVER, "card.version"),
    "version_date.yaml": (ERR_NOT_SEMVER, "card.version"),
    "version_too_long.yaml": (ERR_NOT_SEMVER, "card.version"),
    "name_uppercase_spaces.yaml": (ERR_BAD_NAME, "card.name"),
    "name_too_long.yaml": (ERR_BAD_NAME, "card.name"),
    "name_control_character.yaml": (ERR_BAD_NAME, "card.name"),
    "unknown_top_field.yaml": (ERR_UNKNOWN_FIELD, "card.favourite_colour"),
    "unknown_artifact_field.yaml": (ERR_UNKNOWN_FIELD, "card.artifact.size_bytes"),
    "unknown_metric_field.yaml": (ERR_UNKNOWN_FIELD, "card.evaluation.metrics.accuracy.unit"),
    "owner_field.yaml": (ERR_SUBMITTER_FIELD, "card.owner"),
    "submitted_by_field.yaml": (ERR_SUBMITTER_FIELD, "card.submitted_by"),
    "description_enormous.yaml": (ERR_TEXT_TOO_LONG, "card.description"),
    "explainability_uri_enormous.yaml": (ERR_TEXT_TOO_LONG, "card.explainability_uri"),
    "owner_team_empty.yaml": (ERR_EMPTY_TEXT, "card.owner_team"),
    "limitations_empty.yaml": (ERR_TOO_FEW, "card.limitations"),
    "metrics_empty.yaml": (ERR_TOO_FEW, "card.evaluation.metrics"),
    "tags_too_many.yaml": (ERR_TOO_MANY, "card.tags"),
    "tags_duplicate.yaml": (ERR_DUPLICATES, "card.tags"),
    "domain_unknown.yaml": (ERR_ENUM, "card.domain"),
    "compliance_unknown.yaml": (ERR_ENUM, "card.compliance_requirements[1]"),
    "prohibited_practice_unknown.yaml": (ERR_ENUM, "card.prohibited_practices[0]"),
    "sha256_too_short.yaml": (ERR_BAD_SHA, "card.artifact.sha256"),
    "sha256_uppercase.yaml": (ERR_BAD_SHA, "card.artifact.sha256"),
    "sha256_not_hex.yaml": (ERR_BAD_SHA, "card.artifact.sha256"),
    "uri_ftp_scheme.yaml": (ERR_BAD_URI, "card.artifact.uri"),
    "uri_with_spaces.yaml": (ERR_BAD_URI, "card.evaluation.dataset_uri"),
    "uri_javascript.yaml": (ERR_BAD_URI, "card.predictions_location"),
    "not_utf8_latin1.yaml": (ERR_NOT_UTF8, None),
    "utf16_encoded.yaml": (ERR_NOT_UTF8, None),
    "alias_bomb.yaml": (ERR_ALIAS, None),
    "anchor_reused_value.yaml": (ERR_ALIAS, None),
    "merge_key_alias.yaml": (ERR_ALIAS, None),
    "duplicate_top_key.yaml": (ERR_DUPLICATE_KEY, None),
    "duplicate_metric_key.yaml": (ERR_DUPLICATE_KEY, None),
    "key_not_text.yaml": (ERR_KEY_NOT_TEXT, None),
    "complex_key.yaml": (ERR_KEY_NOT_TEXT, None),
    "deeply_nested_junk.yaml": (ERR_TOO_DEEP, None),
    "deeply_nested_mapping.yaml": (ERR_TOO_DEEP, None),
    "invalid_yaml_syntax.yaml": (ERR_YAML, None),
    "python_object_tag.yaml": (ERR_YAML, None),
    "binary_value.yaml": (ERR_BINARY, None),
    "two_documents.yaml": (ERR_YAML, None),
    "oversized_file.yaml": (ERR_TOO_LARGE, None),
}


def _refusal(path: Path) -> CardValidationError:
    with pytest.raises(CardValidationError) as exc:
        load_card(path)
    return exc.value


# ----------------------------------------------------------------------------- valid cards


def test_baseline_and_demo_cards_are_valid() -> None:
    card = validate_card(parse_card_text(BASELINE))
    assert card.key == "corpus-model:1.0.0"
    assert [load_card(p).name for p in DEMO_CARDS] == [
        "clinical-triage",
        "credit-scorer",
        "doc-tagger",
        "product-recommender",
    ]


def test_json_card_and_bytes_source_are_accepted() -> None:
    doc = parse_card_text(BASELINE)
    as_json = json.dumps(doc).encode()
    assert load_card(as_json) == validate_card(doc)


def test_only_true_false_are_booleans_and_dates_stay_text() -> None:
    doc = parse_card_text("a: yes\nb: true\nc: 2026-11-27\nd: False\n")
    assert doc == {"a": "yes", "b": True, "c": "2026-11-27", "d": False}


def test_whitespace_is_stripped_and_metrics_check_thresholds() -> None:
    card = validate_card(parse_card_text(BASELINE.replace("owner_team: governance-qa", "owner_team: '  qa  '")))
    assert card.owner_team == "qa"
    metric = card.evaluation.metrics["accuracy"]
    assert metric.meets_threshold()
    lower = validate_card(
        parse_card_text(
            BASELINE.replace("{value: 0.9, threshold: 0.8}", "{value: 0.3, threshold: 0.2, higher_is_better: false}")
        )
    ).evaluation.metrics["accuracy"]
    assert not lower.meets_threshold()
    assert (
        validate_card(parse_card_text(BASELINE.replace(", threshold: 0.8", "")))
        .evaluation.metrics["accuracy"]
        .meets_threshold()
    )


def test_several_problems_are_all_listed() -> None:
    text = BASELINE.replace("version: 1.0.0", "version: one").replace("domain: retail", "domain: banking")
    with pytest.raises(CardValidationError) as exc:
        validate_card(parse_card_text(text))
    assert len(exc.value.problems) == 2
    assert "2 problems" in str(exc.value)
    assert_mentions(exc.value.problems[0], ERR_NOT_SEMVER)
    assert_mentions(exc.value.problems[1], ERR_ENUM)


def test_unreadable_path_is_a_card_error(tmp_path: Path) -> None:
    err = _refusal(tmp_path / "nope.yaml")
    assert "cannot read card file" in str(err)
    err = _refusal(tmp_path)  # a directory
    assert "cannot read card file" in str(err)


def test_validate_card_refuses_non_mapping_python_values() -> None:
    with pytest.raises(CardValidationError) as exc:
        validate_card(["not", "a", "mapping"])  # type: ignore[arg-type]
    assert_mentions(exc.value.problems[0], ERR_NOT_MAPPING)


def test_json_schema_lists_every_field() -> None:
    schema = card_json_schema()
    assert set(schema["properties"]) == set(ModelCard.model_fields)
    assert "owner" not in schema["properties"]


# ----------------------------------------------------------------------------- malformed corpus


def test_corpus_files_readme_and_table_agree() -> None:
    files = {p.name for p in CORPUS_DIR.iterdir() if p.name != "README.md"}
    assert files == set(CORPUS)
    assert len(CORPUS) >= 40
    readme = (CORPUS_DIR / "README.md").read_text()
    for name in CORPUS:
        assert f"`{name}`" in readme
    assert (CORPUS_DIR / "oversized_file.yaml").stat().st_size > MAX_CARD_BYTES


@pytest.mark.parametrize("name", list(CORPUS))
def test_malformed_card_is_refused_with_one_clear_problem(name: str) -> None:
    constant, field = CORPUS[name]
    err = _refusal(CORPUS_DIR / name)
    assert len(err.problems) == 1, err.problems
    problem = err.problems[0]
    assert_mentions(problem, constant)
    if field is not None:
        assert problem.startswith(field + ":"), problem
    assert len(problem) < 600  # the refusal quotes, it does not echo the whole input


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def register_db(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One migrated database per backend for the whole corpus (every card is refused, so it
    must stay empty: each test checks that)."""
    from governance.store import make_engine, migrate

    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('corpus') / 'governance.db'}"
    else:
        url = request.getfixturevalue("pg_server").create_database()
    engine = make_engine(url)
    migrate(engine)
    engine.dispose()
    yield url


def _counts(url: str) -> tuple[int, int]:
    from governance.store import make_engine

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            models = conn.execute(select(func.count()).select_from(model_versions)).scalar_one()
            events = conn.execute(select(func.count()).select_from(audit_events)).scalar_one()
    finally:
        engine.dispose()
    return models, events


@pytest.mark.parametrize("name", list(CORPUS))
def test_register_refuses_malformed_card_and_writes_nothing(
    name: str, register_db: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    constant, field = CORPUS[name]
    monkeypatch.setenv("GOVERNANCE_DB_URL", register_db)
    capsys.readouterr()
    code = cli_main(["register", str(CORPUS_DIR / name), "--owner", "alice"])
    captured = capsys.readouterr()
    assert code != EXIT_OK
    assert captured.out == ""
    assert captured.err.startswith("error: model card refused (1 problem)")
    assert_mentions(captured.err, constant)
    if field is not None:
        assert f"  - {field}:" in captured.err
    assert _counts(register_db) == (0, 0)


def test_register_accepts_the_baseline_into_the_same_kind_of_database(
    register_db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The corpus tests above could pass on a broken command; this one proves it can write."""
    card = tmp_path / "baseline.yaml"
    card.write_text(BASELINE.replace("name: corpus-model", "name: corpus-control"))
    monkeypatch.setenv("GOVERNANCE_DB_URL", register_db)
    assert cli_main(["register", str(card), "--owner", "alice"]) == EXIT_OK
    assert "registered corpus-control 1.0.0" in capsys.readouterr().out
    models, events = _counts(register_db)
    assert (models, events) == (1, 1)
    # leave the shared database empty for the corpus tests that may run after this one
    from governance.store import make_engine

    engine = make_engine(register_db)
    with engine.begin() as conn:
        conn.execute(audit_events.delete())
        conn.execute(model_versions.delete())
        conn.exec_driver_sql(
            "UPDATE audit_head SET last_id = 0, last_hash = '" + "0" * 64 + "', "
            "last_timestamp = '1970-01-01T00:00:00.000000Z' WHERE id = 1"
        )
    engine.dispose()
