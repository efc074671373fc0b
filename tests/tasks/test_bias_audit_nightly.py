"""The bias_audit_nightly tasks (governance.tasks.bias_audit_nightly): list_models and audit_model."""

from __future__ import annotations

import json

import pytest

from governance import bias
from governance.cards import load_card
from governance.embedded.demo_predictions import write_predictions_atomic
from governance.embedded.demo_registry import seed_demo_registry
from governance.errors import GovernanceError
from governance.store import GovernanceStore, migrate, nightly_reports
from governance.tasks import _nightly as shared
from governance.tasks import bias_audit_nightly
from tests.support.nightly import DAY, ROWS, audit_events, entry, include, reports, seed, sqlite_store

__all__ = ["include", "reports", "sqlite_store"]  # pytest fixtures of tests.support.nightly


def test_models_to_audit_lists_deployed_models_with_predictions_only(sqlite_store, include):
    seeded = seed(sqlite_store, include)
    # deployed, but nothing to audit: no predictions_location (doc-tagger) / no protected attributes
    tagger = seeded["doc-tagger"]["model_id"]
    for status in ("REVIEW_PENDING", "APPROVED", "DEPLOYED"):
        sqlite_store.transition(tagger, status, actor="governance")
    card = load_card(include / "model_cards" / "critical_clinical_triage.yaml")
    no_protected = card.model_copy(update={"version": "9.9.9", "protected_attributes": []})
    mid = sqlite_store.register(no_protected, owner="owner").model.id
    for status in ("REVIEW_PENDING", "APPROVED", "DEPLOYED"):
        sqlite_store.transition(mid, status, actor="governance")

    listed = bias_audit_nightly.list_models(requested_date="2026-11-27", store=sqlite_store)
    assert listed == [entry(seeded["credit-scorer"]), entry(seeded["product-recommender"])]
    with pytest.raises(GovernanceError) as err:
        bias_audit_nightly.audit_model(model={"model_id": tagger, "report_date": "2026-11-27"}, store=sqlite_store)
    assert bias.WHY_NO_LOCATION in str(err.value)


def test_bias_audit_flags_disparity_writes_reports_row_and_event(sqlite_store, include, reports):
    seeded = seed(sqlite_store, include)
    credit = seeded["credit-scorer"]
    messages: list[str] = []
    out = bias_audit_nightly.audit_model(
        model=entry(credit), store=sqlite_store, reports=reports, include_dir=include, notify=messages.append
    )
    assert out["outcome"] == nightly_reports.OUTCOME_RECORDED
    assert out["bias_detected"] is True and out["rows"] == ROWS
    assert [(f["attribute"], f["groups"]) for f in out["flagged"]] == [("age_band", ["66+"])]

    json_key, html_key = bias_audit_nightly.bias_report_keys(name="credit-scorer", version=credit["version"], day=DAY)
    assert json_key == "bias/credit-scorer/1.2.0-demo/2026-11-27/report.json"
    report = json.loads(reports.get(json_key))
    assert report["bias_detected"] is True and report["score"] == "score"
    assert report["provenance"]["model_id"] == credit["model_id"]
    assert report["provenance"]["time_window"]["column"] == "timestamp"
    html = reports.get(html_key).decode()
    assert "credit-scorer 1.2.0-demo" in html and "Screening flag raised" in html and "66+" in html
    assert out["report_json"] == (reports.root / json_key).resolve().as_uri()

    (row,) = nightly_reports.list_bias_audits(store=sqlite_store, model_id=credit["model_id"])
    assert row["report_date"] == DAY and row["rows"] == ROWS and row["bias_detected"] is True
    assert row["attributes"]["age_band"]["flagged_groups"] == ["66+"]
    assert row["attributes"]["sex"]["bias_detected"] is False
    (event,) = audit_events(sqlite_store, nightly_reports.EVENT_BIAS_RECORDED)
    assert event.model_id == credit["model_id"] and event.actor == shared.ACTOR
    assert event.details["flagged"][0]["attribute"] == "age_band"
    assert event.details["flagged"][0]["groups"] == ["66+"]
    assert event.details["report_html"] == out["report_html"]
    (message,) = messages
    assert "age_band" in message and "66+" in message and credit["model_id"] in message
    assert sqlite_store.audit.verify().ok


def test_bias_audit_of_a_fair_model_raises_no_flag(sqlite_store, include, reports):
    seeded = seed(sqlite_store, include)
    messages: list[str] = []
    out = bias_audit_nightly.audit_model(
        model=entry(seeded["product-recommender"]),
        store=sqlite_store,
        reports=reports,
        include_dir=include,
        notify=messages.append,
    )
    assert out["bias_detected"] is False and out["flagged"] == [] and messages == []
    (event,) = audit_events(sqlite_store, nightly_reports.EVENT_BIAS_RECORDED)
    assert event.details["bias_detected"] is False and event.details["flagged"] == []
    report = json.loads(reports.get(out["report_json"].split("/reports/", 1)[1]))
    assert set(report["attributes"]) == {"sex", "age_band"}  # the card's protected attributes


def test_bias_audit_rerun_is_idempotent(db_url, include, reports):
    store = GovernanceStore.from_url(db_url)
    migrate(store.engine)
    try:
        seeded = seed(store, include)
        credit = entry(seeded["credit-scorer"])
        run = {"store": store, "reports": reports, "include_dir": include}
        bias_audit_nightly.audit_model(model=credit, **run)
        keys = reports.list("bias/")
        stored = {k: reports.get(k) for k in keys}
        events = store.audit.count()
        messages: list[str] = []

        again = bias_audit_nightly.audit_model(model=credit, notify=messages.append, **run)
        assert again["outcome"] == nightly_reports.OUTCOME_UNCHANGED and again["bias_detected"] is True
        assert store.audit.count() == events and messages == []
        assert reports.list("bias/") == keys and {k: reports.get(k) for k in keys} == stored  # not even rewritten

        # a lost HTML report is written again; no event, the row stays
        (reports.root / keys[0]).unlink()
        assert bias_audit_nightly.audit_model(model=credit, **run)["outcome"] == nightly_reports.OUTCOME_UNCHANGED
        assert reports.list("bias/") == keys and store.audit.count() == events

        # new predictions for the same day: same keys and row, one "updated" event
        card = load_card(include / "model_cards" / "high_credit_scorer.yaml")
        path = include / card.predictions_location / "predictions.parquet"
        write_predictions_atomic(path, model_name="credit-scorer", rows=ROWS + 500, disparity=False)
        updated = bias_audit_nightly.audit_model(model=credit, notify=messages.append, **run)
        assert updated["outcome"] == nightly_reports.OUTCOME_UPDATED and updated["bias_detected"] is False
        assert messages == []  # the flag went away: nothing to notify
        assert reports.list("bias/") == keys
        (row,) = nightly_reports.list_bias_audits(store=store, model_id=credit["model_id"])
        assert row["rows"] == ROWS + 500 and row["bias_detected"] is False
        (event,) = audit_events(store, nightly_reports.EVENT_BIAS_UPDATED)
        assert event.details["previous"] == {"rows": ROWS, "bias_detected": True}
        assert store.audit.count() == events + 1 and store.audit.verify().ok
    finally:
        store.engine.dispose()


def test_bias_audit_of_missing_predictions_names_model_and_location(sqlite_store, include, reports):
    seeded = seed_demo_registry(store=sqlite_store, include_dir=include, write_predictions=False)
    credit = next(m for m in seeded if m["name"] == "credit-scorer")
    with pytest.raises(GovernanceError) as err:
        bias_audit_nightly.audit_model(model=entry(credit), store=sqlite_store, reports=reports, include_dir=include)
    text = str(err.value)
    assert "credit-scorer 1.2.0-demo" in text and "demo/predictions/credit-scorer/" in text and "not found" in text
    assert reports.list() == [] and nightly_reports.list_bias_audits(store=sqlite_store) == []


def test_predictions_source_resolves_like_other_card_uris(include):
    assert bias.predictions_source("s3://bucket/preds/", include_dir=include) == "s3://bucket/preds/"
    assert bias.predictions_source("demo/p/", include_dir=include) == str((include / "demo" / "p").resolve())
    with pytest.raises(GovernanceError):
        bias.predictions_source("../outside/", include_dir=include)
