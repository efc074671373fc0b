"""Nightly bias audits and compliance reports (governance.nightly) and the demo registry seed."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from governance import nightly
from governance.cards import load_card
from governance.embedded.demo_predictions import write_predictions_atomic
from governance.embedded.demo_registry import DEMO_ACTOR, DEMO_DEPLOYED, DEMO_REASON, demo_version, seed_demo_registry
from governance.errors import GovernanceError
from governance.lifecycle import ModelStatus
from governance.reports import LocalReportStore
from governance.store import GovernanceStore, migrate

REPO = Path(__file__).resolve().parent.parent
DAY = date(2026, 11, 27)
NEXT_DAY = date(2026, 11, 28)
ROWS = 4000  # enough for every age band to be compared (>= 30 rows), small enough to be quick


@pytest.fixture
def include(tmp_path: Path) -> Path:
    """A private include folder: demo cards, compliance requirements, demo artifacts."""
    dest = tmp_path / "include"
    for part in ("model_cards", "compliance", "demo/artifacts", "demo/eval"):
        shutil.copytree(REPO / "include" / part, dest / part)
    return dest


@pytest.fixture
def sqlite_store(tmp_path: Path):
    s = GovernanceStore.from_url(f"sqlite:///{tmp_path / 'governance.db'}")
    migrate(s.engine)
    yield s
    s.engine.dispose()


@pytest.fixture
def reports(tmp_path: Path) -> LocalReportStore:
    return LocalReportStore(tmp_path / "reports")


def _seed(store: GovernanceStore, include: Path) -> dict[str, dict]:
    seeded = seed_demo_registry(store=store, include_dir=include, write_predictions=False)
    for m in seeded:
        if m["status"] == "DEPLOYED":
            card = load_card(include / "model_cards" / _card_file(m["name"]))
            write_predictions_atomic(
                include / card.predictions_location / "predictions.parquet",
                model_name=m["name"],
                rows=ROWS,
                disparity=m["name"] == "credit-scorer",
            )
    return {m["name"]: m for m in seeded}


def _card_file(name: str) -> str:
    return next(p.name for p in (REPO / "include" / "model_cards").glob("*.yaml") if name in p.name.replace("_", "-"))


def _entry(model: dict, day: date = DAY) -> dict:
    return {"model_id": model["model_id"], "name": model["name"], "version": model["version"], "report_date": str(day)}


def _events(store: GovernanceStore, event_type: str) -> list:
    return store.audit.query(event_type=event_type, limit=1000).events


# --------------------------------------------------------------------------- demo registry


def test_seed_demo_registry_deploys_two_demo_versions_idempotently(sqlite_store, include):
    first = seed_demo_registry(store=sqlite_store, include_dir=include)
    events = sqlite_store.audit.count()
    again = seed_demo_registry(store=sqlite_store, include_dir=include)
    assert sqlite_store.audit.count() == events  # nothing written the second time
    assert [m["model_id"] for m in again] == [m["model_id"] for m in first]
    assert all(m["registered"] for m in first) and not any(m["registered"] for m in again)

    by_name = {m["name"]: m for m in again}
    assert set(by_name) == {"clinical-triage", "credit-scorer", "doc-tagger", "product-recommender"}
    for name, m in by_name.items():
        card = load_card(include / "model_cards" / _card_file(name))
        assert m["version"] == f"{card.version}-demo"
        assert m["status"] == ("DEPLOYED" if name in DEMO_DEPLOYED else "DEVELOPMENT")
    credit = sqlite_store.get(by_name["credit-scorer"]["model_id"])
    assert credit.owner == "owner" and credit.approved_by == [DEMO_ACTOR] and credit.status_reason == DEMO_REASON
    moves = [
        (e.details["to"], e.actor, e.details.get("reason"))
        for e in sqlite_store.audit.query(model_id=credit.id, event_type="model.status_changed").events
    ]
    assert moves == [(s, DEMO_ACTOR, DEMO_REASON) for s in ("REVIEW_PENDING", "APPROVED", "DEPLOYED")]
    for name in DEMO_DEPLOYED:
        assert Path(by_name[name]["predictions"]).is_file()

    # the demo user submits the very same cards: their versions are free
    for card_file in (include / "model_cards").glob("*.yaml"):
        sqlite_store.register(load_card(card_file), owner="owner")


def test_demo_version():
    assert demo_version("1.2.0") == "1.2.0-demo"
    assert demo_version("1.2.0-rc.1") == "1.2.0-rc.1.demo"
    assert demo_version("1.2.0+b7") == "1.2.0-demo+b7"
    assert demo_version("1.2.0", suffix="-e2e") == "1.2.0-e2e"


def test_seed_leaves_a_retired_demo_model_alone(sqlite_store, include):
    seeded = {
        m["name"]: m for m in seed_demo_registry(store=sqlite_store, include_dir=include, write_predictions=False)
    }
    pid = seeded["product-recommender"]["model_id"]
    sqlite_store.transition(pid, ModelStatus.DEPRECATED, actor="owner")
    seed_demo_registry(store=sqlite_store, include_dir=include, write_predictions=False)
    assert sqlite_store.get(pid).status == ModelStatus.DEPRECATED


# --------------------------------------------------------------------------- dates and listing


def test_report_day():
    late = datetime(2026, 11, 27, 23, 30, tzinfo=UTC)
    assert nightly.report_day(requested="2026-01-02", logical_date=late) == date(2026, 1, 2)
    assert nightly.report_day(requested=None, logical_date=late, run_after=datetime(2030, 1, 1)) == DAY
    assert nightly.report_day(logical_date=None, run_after=datetime(2026, 11, 28, 0, 5)) == NEXT_DAY  # naive = UTC
    assert nightly.report_day(requested="") == datetime.now(UTC).date()
    with pytest.raises(GovernanceError) as err:
        nightly.report_day(requested="27/11/2026")
    assert str(err.value) == nightly.ERR_BAD_DATE.format(value="27/11/2026")


def test_models_to_audit_lists_deployed_models_with_predictions_only(sqlite_store, include):
    seeded = _seed(sqlite_store, include)
    # deployed, but nothing to audit: no predictions_location (doc-tagger) / no protected attributes
    tagger = seeded["doc-tagger"]["model_id"]
    for status in ("REVIEW_PENDING", "APPROVED", "DEPLOYED"):
        sqlite_store.transition(tagger, status, actor="governance")
    card = load_card(include / "model_cards" / "critical_clinical_triage.yaml")
    no_protected = card.model_copy(update={"version": "9.9.9", "protected_attributes": []})
    mid = sqlite_store.register(no_protected, owner="owner").model.id
    for status in ("REVIEW_PENDING", "APPROVED", "DEPLOYED"):
        sqlite_store.transition(mid, status, actor="governance")

    listed = nightly.models_to_audit(requested_date="2026-11-27", store=sqlite_store)
    assert listed == [_entry(seeded["credit-scorer"]), _entry(seeded["product-recommender"])]
    with pytest.raises(GovernanceError) as err:
        nightly.audit_model(model={"model_id": tagger, "report_date": "2026-11-27"}, store=sqlite_store)
    assert nightly.WHY_NO_LOCATION in str(err.value)


# --------------------------------------------------------------------------- bias audit


def test_bias_audit_flags_disparity_writes_reports_row_and_event(sqlite_store, include, reports):
    seeded = _seed(sqlite_store, include)
    credit = seeded["credit-scorer"]
    messages: list[str] = []
    out = nightly.audit_model(
        model=_entry(credit), store=sqlite_store, reports=reports, include_dir=include, notify=messages.append
    )
    assert out["outcome"] == nightly.OUTCOME_RECORDED
    assert out["bias_detected"] is True and out["rows"] == ROWS
    assert [(f["attribute"], f["groups"]) for f in out["flagged"]] == [("age_band", ["66+"])]

    json_key, html_key = nightly.bias_report_keys(name="credit-scorer", version=credit["version"], day=DAY)
    assert json_key == "bias/credit-scorer/1.2.0-demo/2026-11-27/report.json"
    report = json.loads(reports.get(json_key))
    assert report["bias_detected"] is True and report["score"] == "score"
    assert report["provenance"]["model_id"] == credit["model_id"]
    assert report["provenance"]["time_window"]["column"] == "timestamp"
    html = reports.get(html_key).decode()
    assert "credit-scorer 1.2.0-demo" in html and "Screening flag raised" in html and "66+" in html
    assert out["report_json"] == (reports.root / json_key).resolve().as_uri()

    (row,) = nightly.list_bias_audits(store=sqlite_store, model_id=credit["model_id"])
    assert row["report_date"] == DAY and row["rows"] == ROWS and row["bias_detected"] is True
    assert row["attributes"]["age_band"]["flagged_groups"] == ["66+"]
    assert row["attributes"]["sex"]["bias_detected"] is False
    (event,) = _events(sqlite_store, nightly.EVENT_BIAS_RECORDED)
    assert event.model_id == credit["model_id"] and event.actor == nightly.ACTOR
    assert event.details["flagged"][0]["attribute"] == "age_band"
    assert event.details["flagged"][0]["groups"] == ["66+"]
    assert event.details["report_html"] == out["report_html"]
    (message,) = messages
    assert "age_band" in message and "66+" in message and credit["model_id"] in message
    assert sqlite_store.audit.verify().ok


def test_bias_audit_of_a_fair_model_raises_no_flag(sqlite_store, include, reports):
    seeded = _seed(sqlite_store, include)
    messages: list[str] = []
    out = nightly.audit_model(
        model=_entry(seeded["product-recommender"]),
        store=sqlite_store,
        reports=reports,
        include_dir=include,
        notify=messages.append,
    )
    assert out["bias_detected"] is False and out["flagged"] == [] and messages == []
    (event,) = _events(sqlite_store, nightly.EVENT_BIAS_RECORDED)
    assert event.details["bias_detected"] is False and event.details["flagged"] == []
    report = json.loads(reports.get(out["report_json"].split("/reports/", 1)[1]))
    assert set(report["attributes"]) == {"sex", "age_band"}  # the card's protected attributes


def test_bias_audit_rerun_is_idempotent(db_url, include, reports):
    store = GovernanceStore.from_url(db_url)
    migrate(store.engine)
    try:
        seeded = _seed(store, include)
        credit = _entry(seeded["credit-scorer"])
        run = {"store": store, "reports": reports, "include_dir": include}
        nightly.audit_model(model=credit, **run)
        keys = reports.list("bias/")
        stored = {k: reports.get(k) for k in keys}
        events = store.audit.count()
        messages: list[str] = []

        again = nightly.audit_model(model=credit, notify=messages.append, **run)
        assert again["outcome"] == nightly.OUTCOME_UNCHANGED and again["bias_detected"] is True
        assert store.audit.count() == events and messages == []
        assert reports.list("bias/") == keys and {k: reports.get(k) for k in keys} == stored  # not even rewritten

        # a lost HTML report is written again; no event, the row stays
        (reports.root / keys[0]).unlink()
        assert nightly.audit_model(model=credit, **run)["outcome"] == nightly.OUTCOME_UNCHANGED
        assert reports.list("bias/") == keys and store.audit.count() == events

        # new predictions for the same day: same keys and row, one "updated" event
        card = load_card(include / "model_cards" / "high_credit_scorer.yaml")
        path = include / card.predictions_location / "predictions.parquet"
        write_predictions_atomic(path, model_name="credit-scorer", rows=ROWS + 500, disparity=False)
        updated = nightly.audit_model(model=credit, notify=messages.append, **run)
        assert updated["outcome"] == nightly.OUTCOME_UPDATED and updated["bias_detected"] is False
        assert messages == []  # the flag went away: nothing to notify
        assert reports.list("bias/") == keys
        (row,) = nightly.list_bias_audits(store=store, model_id=credit["model_id"])
        assert row["rows"] == ROWS + 500 and row["bias_detected"] is False
        (event,) = _events(store, nightly.EVENT_BIAS_UPDATED)
        assert event.details["previous"] == {"rows": ROWS, "bias_detected": True}
        assert store.audit.count() == events + 1 and store.audit.verify().ok
    finally:
        store.engine.dispose()


def test_bias_audit_of_missing_predictions_names_model_and_location(sqlite_store, include, reports):
    seeded = seed_demo_registry(store=sqlite_store, include_dir=include, write_predictions=False)
    credit = next(m for m in seeded if m["name"] == "credit-scorer")
    with pytest.raises(GovernanceError) as err:
        nightly.audit_model(model=_entry(credit), store=sqlite_store, reports=reports, include_dir=include)
    text = str(err.value)
    assert "credit-scorer 1.2.0-demo" in text and "demo/predictions/credit-scorer/" in text and "not found" in text
    assert reports.list() == [] and nightly.list_bias_audits(store=sqlite_store) == []


def test_predictions_source_resolves_like_other_card_uris(include):
    assert nightly.predictions_source("s3://bucket/preds/", include_dir=include) == "s3://bucket/preds/"
    assert nightly.predictions_source("demo/p/", include_dir=include) == str((include / "demo" / "p").resolve())
    with pytest.raises(GovernanceError):
        nightly.predictions_source("../outside/", include_dir=include)


# --------------------------------------------------------------------------- compliance report


def test_compliance_report_trend_idempotency_and_events(sqlite_store, include, reports):
    seeded = _seed(sqlite_store, include)
    run = {"store": sqlite_store, "reports": reports, "include_dir": include, "evidence_encrypted_at_rest": True}
    first = nightly.compliance_report(requested_date="2026-11-27", **run)
    assert first["outcome"] == nightly.OUTCOME_RECORDED and first["models"] == 2 and first["events"] == 2
    snapshot = json.loads(reports.get("compliance/2026-11-27/report.json"))
    assert snapshot["report_date"] == "2026-11-27" and snapshot["trend"]["baseline"] is None
    assert {m["model"] for m in snapshot["models"]} == {"credit-scorer 1.2.0-demo", "product-recommender 2.1.0-demo"}
    html = reports.get("compliance/2026-11-27/report.html").decode()
    assert "credit-scorer 1.2.0-demo" in html and "models fail compliance" in html
    credit_id = seeded["credit-scorer"]["model_id"]
    recorded = _events(sqlite_store, nightly.EVENT_COMPLIANCE_RECORDED)
    assert {e.model_id for e in recorded} == {credit_id, seeded["product-recommender"]["model_id"]}
    credit_event = next(e for e in recorded if e.model_id == credit_id)
    assert credit_event.details["passed"] is False and "EU_AI_ACT/EU-AIA-10" in credit_event.details["failing"]

    events = sqlite_store.audit.count()
    stored = reports.get("compliance/2026-11-27/report.json")
    again = nightly.compliance_report(requested_date="2026-11-27", **run)
    assert again["outcome"] == nightly.OUTCOME_UNCHANGED and again["events"] == 0
    assert sqlite_store.audit.count() == events and reports.get("compliance/2026-11-27/report.json") == stored

    # the next day reads yesterday's JSON for the trend
    nxt = nightly.compliance_report(logical_date=datetime(2026, 11, 28, tzinfo=UTC), **run)
    assert nxt["report_date"] == "2026-11-28" and nxt["outcome"] == nightly.OUTCOME_RECORDED
    trend = json.loads(reports.get("compliance/2026-11-28/report.json"))["trend"]
    assert trend["baseline"] == snapshot["generated_at"]
    assert trend["models"][credit_id]["trend"] == "still failing"

    # a changed result the same day: same keys and row, "updated" events for the models that changed
    events = sqlite_store.audit.count()
    changed = nightly.compliance_report(requested_date="2026-11-28", **{**run, "evidence_encrypted_at_rest": False})
    assert changed["outcome"] == nightly.OUTCOME_UPDATED and changed["events"] == 2
    updated = _events(sqlite_store, nightly.EVENT_COMPLIANCE_UPDATED)
    assert {e.model_id for e in updated} == {credit_id, seeded["product-recommender"]["model_id"]}
    assert all("GDPR/GDPR-32-ENCRYPTION" in e.details["failing"] for e in updated)
    assert all("GDPR/GDPR-32-ENCRYPTION" not in e.details["previous"]["failing"] for e in updated)
    assert sqlite_store.audit.count() == events + 2
    assert [r["report_date"] for r in nightly.list_compliance_reports(store=sqlite_store)] == [DAY, NEXT_DAY]
    assert reports.list("compliance/") == [
        "compliance/2026-11-27/report.html",
        "compliance/2026-11-27/report.json",
        "compliance/2026-11-28/report.html",
        "compliance/2026-11-28/report.json",
    ]
    assert sqlite_store.audit.verify().ok


def test_compliance_report_without_deployed_models_and_with_unreadable_yesterday(sqlite_store, include, reports):
    reports.put("compliance/2026-11-26/report.json", b"{not json", "application/json")
    out = nightly.compliance_report(
        requested_date="2026-11-27", store=sqlite_store, reports=reports, include_dir=include
    )
    assert out["models"] == 0 and out["events"] == 0 and out["outcome"] == nightly.OUTCOME_RECORDED
    assert sqlite_store.audit.count() == 0  # nothing about any model to record
    html = reports.get("compliance/2026-11-27/report.html").decode()
    assert "No model in scope" in html and "no previous report" in html
    (row,) = nightly.list_compliance_reports(store=sqlite_store)
    assert row["models"] == 0 and row["outcomes"] == {}


@pytest.mark.s3
def test_reports_in_s3_as_in_the_embedded_default(sqlite_store, include, s3_settings):
    from governance.reports.s3_store import S3ReportStore

    reports = S3ReportStore.from_settings(s3_settings)
    seeded = _seed(sqlite_store, include)
    run = {"store": sqlite_store, "reports": reports, "include_dir": include}
    out = nightly.audit_model(model=_entry(seeded["credit-scorer"]), **run)
    bucket = s3_settings.bucket
    assert out["report_html"] == f"s3://{bucket}/reports/bias/credit-scorer/1.2.0-demo/2026-11-27/report.html"
    assert "Screening flag raised" in reports.get("bias/credit-scorer/1.2.0-demo/2026-11-27/report.html").decode()
    assert nightly.audit_model(model=_entry(seeded["credit-scorer"]), **run)["outcome"] == nightly.OUTCOME_UNCHANGED

    nightly.compliance_report(requested_date="2026-11-27", **run)
    nxt = nightly.compliance_report(requested_date="2026-11-28", **run)
    assert nxt["report_json"] == f"s3://{bucket}/reports/compliance/2026-11-28/report.json"
    assert json.loads(reports.get("compliance/2026-11-28/report.json"))["trend"]["baseline"] is not None
    assert nightly.compliance_report(requested_date="2026-11-28", **run)["outcome"] == nightly.OUTCOME_UNCHANGED
