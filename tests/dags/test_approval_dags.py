"""``dag.test()`` of every approval tier, its human steps answered through Airflow's real
REST route (FastAPI ``TestClient`` on ``create_app()``) from a second thread."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from governance.cards import load_card
from governance.lifecycle import ModelStatus
from governance.store import GovernanceStore, migrate

REPO = Path(__file__).resolve().parents[2]
CARDS = REPO / "include" / "model_cards"
TIER_CARDS = {
    "low": "low_doc_tagger.yaml",
    "medium": "medium_product_recommender.yaml",
    "high": "high_credit_scorer.yaml",
    "critical": "critical_clinical_triage.yaml",
}

pytestmark = pytest.mark.timeout(600)


@pytest.fixture(scope="module")
def dags(airflow_db):
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(REPO / "dags" / "model_approval.py"))
    assert bag.import_errors == {}
    return bag.dags


@pytest.fixture(scope="module")
def api(airflow_db):
    from airflow.api_fastapi.app import create_app
    from fastapi.testclient import TestClient

    return TestClient(create_app())


@pytest.fixture
def gov(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'governance.db'}"
    monkeypatch.setenv("GOVERNANCE_DB_URL", url)
    monkeypatch.setenv("GOVERNANCE_EVIDENCE_ENCRYPTED_AT_REST", "true")
    store = GovernanceStore.from_url(url)
    migrate(store.engine)
    return store


class Answerer(threading.Thread):
    """Answers pending HITL requests of a DAG as given users, through the REST API."""

    def __init__(self, api, dag_id: str, answers: dict[str, tuple[str, str, str]]) -> None:
        super().__init__(daemon=True)
        self.api, self.dag_id, self.answers = api, dag_id, dict(answers)
        self.statuses: dict[str, list[int]] = {}
        self.stop = threading.Event()
        self.tokens: dict[str, str] = {}

    def token(self, user: str) -> str:
        if user not in self.tokens:
            r = self.api.post("/auth/token", json={"username": user, "password": user})
            r.raise_for_status()
            self.tokens[user] = r.json()["access_token"]
        return self.tokens[user]

    def run(self) -> None:
        while not self.stop.is_set() and self.answers:
            r = self.api.get(
                f"/api/v2/dags/{self.dag_id}/dagRuns/~/hitlDetails",
                params={"response_received": "false"},
                headers={"Authorization": f"Bearer {self.token('admin')}"},
            )
            for h in r.json().get("hitl_details", []):
                ti = h["task_instance"]
                task = ti["task_id"]
                if task not in self.answers or ti.get("state") not in ("awaiting_input", "deferred"):
                    continue
                time.sleep(1.0)  # answer like a person: not in the same second the task parked
                for user, option, comment in [self.answers[task]]:
                    resp = self.api.patch(
                        f"/api/v2/dags/{self.dag_id}/dagRuns/{ti['dag_run_id']}/taskInstances/{task}/-1/hitlDetails",
                        json={"chosen_options": [option], "params_input": {"comment": comment}},
                        headers={"Authorization": f"Bearer {self.token(user)}"},
                    )
                    self.statuses.setdefault(task, []).append(resp.status_code)
                    if resp.status_code == 200:
                        del self.answers[task]
            time.sleep(0.3)


def _pending_model(gov: GovernanceStore, tier: str, *, version: str = "9.9.9") -> str:
    card = load_card(CARDS / TIER_CARDS[tier]).model_copy(update={"version": version})
    model = gov.register(card, owner="owner").model
    gov.transition(model.id, ModelStatus.REVIEW_PENDING, actor="owner")
    return model.id


def _run(dags, api, tier: str, model_id: str, answers: dict[str, tuple[str, str, str]]) -> Answerer:
    dag = dags[f"model_approval_{tier}"]
    answerer = Answerer(api, dag.dag_id, answers)
    answerer.start()
    try:
        dag.test(run_conf={"model_id": model_id})
    finally:
        answerer.stop.set()
        answerer.join(timeout=10)
    return answerer


def test_low_tier(dags, api, gov):
    model_id = _pending_model(gov, "low")
    _run(dags, api, "low", model_id, {})
    model = gov.get(model_id)
    assert model.status == ModelStatus.APPROVED
    assert model.approved_by == ["governance:automated_checks"]
    kinds = {(e["step"], e["kind"]) for e in gov.list_evidence(model_id)}
    assert {("automated_checks", "result"), ("automated_checks", "report")} <= kinds


def test_medium_tier_answered(dags, api, gov):
    model_id = _pending_model(gov, "medium")
    _run(dags, api, "medium", model_id, {"security_review": ("security", "Pass", "looks fine")})
    model = gov.get(model_id)
    assert model.status == ModelStatus.APPROVED
    assert model.approved_by == ["security"]


def test_high_tier_answered(dags, api, gov):
    model_id = _pending_model(gov, "high")
    _run(
        dags,
        api,
        "high",
        model_id,
        {
            "security_review": ("security", "Pass", ""),
            "compliance_check_confirm": ("compliance", "Confirm", "evidence complete"),
        },
    )
    assert gov.get(model_id).approved_by == ["security", "compliance"]


def test_critical_tier_two_distinct_approvers(dags, api, gov):
    model_id = _pending_model(gov, "critical")
    answerer = _run(
        dags,
        api,
        "critical",
        model_id,
        {
            "security_review": ("security", "Pass", ""),
            "compliance_check_confirm": ("compliance", "Confirm", ""),
            "stakeholder_review_1": ("approver2", "Approve", "ok"),
            "stakeholder_review_2": ("approver1", "Approve", "ok"),
        },
    )
    model = gov.get(model_id)
    assert model.status == ModelStatus.APPROVED, model.status_reason
    assert model.approved_by == ["security", "compliance", "approver2", "approver1"]
    assert all(codes[-1] == 200 for codes in answerer.statuses.values())
    assert gov.audit.verify().ok


def test_rejection_records_step_and_reason(dags, api, gov):
    model_id = _pending_model(gov, "medium")
    _run(dags, api, "medium", model_id, {"security_review": ("security", "Fail", "unsafe artifact format")})
    model = gov.get(model_id)
    assert model.status == ModelStatus.DEVELOPMENT
    assert model.status_reason == "security_review: rejected by security: unsafe artifact format"


def test_tier_mismatch_is_refused(dags, api, gov):
    """A CRITICAL model pushed into the LOW workflow is not approved by it."""
    model_id = _pending_model(gov, "critical")
    dags["model_approval_low"].test(run_conf={"model_id": model_id})
    model = gov.get(model_id)
    assert model.status == ModelStatus.REVIEW_PENDING
    assert model.approved_by is None


@pytest.mark.parametrize("tier", ["low", "medium", "high", "critical"])
def test_a_prohibited_practice_is_rejected_at_every_tier(dags, api, gov, tier):
    """EU AI Act Art. 5: a declared prohibited practice ends every tier's workflow in a
    rejection naming Art. 5 and the practice, before any reviewer is asked."""
    from governance.cards import ProhibitedPractice
    from governance.risk import ERR_PROHIBITED_PRACTICE
    from governance.tasks.model_approval import EU_AI_ACT_STEP

    card = load_card(CARDS / TIER_CARDS[tier]).model_copy(
        update={"version": "9.9.7", "prohibited_practices": [ProhibitedPractice.SOCIAL_SCORING]}
    )
    model = gov.register(card, owner="owner").model
    assert model.risk_level.lower() == tier  # the tier comes from the score, as before
    gov.transition(model.id, ModelStatus.REVIEW_PENDING, actor="owner")
    _run(dags, api, tier, model.id, {})
    model = gov.get(model.id)
    why = ERR_PROHIBITED_PRACTICE.format(practices="social_scoring")
    assert model.status == ModelStatus.DEVELOPMENT and model.approved_by is None
    assert model.status_reason == f"{EU_AI_ACT_STEP}: {why}"
    assert "Art. 5" in model.status_reason and "social_scoring" in model.status_reason
    assert gov.list_decisions(model.id) == []  # nobody was asked to review it
    last = gov.audit.query(model_id=model.id, event_type="model.status_changed", order="desc", limit=1).events[0]
    assert (last.details["to"], last.details["failed_step"], last.details["reasons"]) == (
        "DEVELOPMENT",
        EU_AI_ACT_STEP,
        [why],
    )
    result = next(e for e in gov.list_evidence(model.id) if e["step"] == "automated_checks" and e["kind"] == "result")
    assert result["passed"] is False and result["details"]["reasons"][0] == why


def test_an_annex_iii_employment_model_goes_through_the_high_workflow(dags, api, gov):
    """The seed's internal, non-autonomous employment model scores 0 (LOW before); the EU AI
    Act floor makes it HIGH, so the compliance check and a human stand between it and APPROVED."""
    from governance.cards import Domain

    card = load_card(CARDS / TIER_CARDS["high"]).model_copy(
        update={
            "name": "cv-screener",
            "version": "1.0.0",
            "domain": Domain.EMPLOYMENT,
            "user_facing": False,
            "autonomous": False,
            "processes_pii": False,
        }
    )
    model = gov.register(card, owner="owner").model
    assert (model.risk_score, model.risk_level, model.eu_ai_act_category) == (0, "HIGH", "high-risk")
    assert any("Annex III(4)" in r and "at least HIGH" in r for r in model.risk_reasons)
    gov.transition(model.id, ModelStatus.REVIEW_PENDING, actor="owner")
    _run(
        dags,
        api,
        "high",
        model.id,
        {
            "security_review": ("security", "Pass", ""),
            "compliance_check_confirm": ("compliance", "Confirm", "checked"),
        },
    )
    model = gov.get(model.id)
    assert "compliance_check" in {e["step"] for e in gov.list_evidence(model.id)}
    assert model.status == ModelStatus.APPROVED, model.status_reason
    assert model.approved_by == ["security", "compliance"]
