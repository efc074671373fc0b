"""Every DAG file imports cleanly and follows the project's DAG conventions."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
DAG_FILES = sorted((REPO / "dags").glob("*.py"))
HEAVY = ("pandas", "fairlearn", "great_expectations", "boto3", "pyarrow", "matplotlib", "duckdb")


@pytest.fixture(scope="module")
def dagbag(airflow_db):
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(REPO / "dags"))


def test_no_import_errors(dagbag):
    assert dagbag.import_errors == {}
    assert len(DAG_FILES) >= 2


def test_expected_dags_present(dagbag):
    expected = {"model_submission", *(f"model_approval_{t}" for t in ("low", "medium", "high", "critical"))}
    assert expected <= set(dagbag.dag_ids)


def test_dag_conventions(dagbag):
    for dag_id, dag in dagbag.dags.items():
        assert dag.doc_md and len(dag.doc_md) > 80, f"{dag_id}: doc_md missing"
        assert dag.tags and "governance" in dag.tags, f"{dag_id}: tags"
        assert dag.owner != "airflow", f"{dag_id}: owner not set"
        for t in dag.tasks:
            assert t.retries >= 1 or t.task_id in {"validate_card", "register"}, f"{dag_id}.{t.task_id}: retries"
        assert not dag.catchup or dag_id == "audit_archive", f"{dag_id}: catchup"


def test_manually_triggered_dags_declare_params(dagbag):
    sub = dagbag.dags["model_submission"]
    assert {"name", "version", "evaluation", "artifact"} <= set(sub.params.keys())
    assert "owner" not in sub.params  # the owner is the triggering user, never a card field
    for tier in ("low", "medium", "high", "critical"):
        assert "model_id" in dagbag.dags[f"model_approval_{tier}"].params


def test_tier_task_chains(dagbag):
    def tasks(tier):
        return [t.task_id for t in dagbag.dags[f"model_approval_{tier}"].topological_sort()]

    assert tasks("low") == ["automated_checks", "record_decision"]
    assert tasks("medium") == ["automated_checks", "security_review", "record_decision"]
    assert tasks("high") == [
        "automated_checks",
        "security_review",
        "compliance_check",
        "compliance_check_confirm",
        "record_decision",
    ]
    assert tasks("critical")[-3:] == ["stakeholder_review_1", "stakeholder_review_2", "record_decision"]
    record = dagbag.dags["model_approval_critical"].get_task("record_decision")
    assert record.trigger_rule == "all_done"


def test_no_heavy_imports_at_parse_time():
    """Parsing the DAG files must not import the heavy libraries (checked in a fresh process)."""
    import subprocess

    code = (
        "import sys, runpy\n"
        f"for f in {[str(p) for p in DAG_FILES]!r}:\n"
        "    runpy.run_path(f)\n"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]"


def _load_approval_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workflow: dict) -> dict:
    path = tmp_path / "approval.yaml"
    path.write_text(yaml.safe_dump(workflow))
    monkeypatch.setenv("GOVERNANCE_WORKFLOWS_FILE", str(path))
    spec = importlib.util.spec_from_file_location("model_approval_under_test", REPO / "dags" / "model_approval.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules.pop("model_approval_under_test", None)
    spec.loader.exec_module(module)
    return {k: v for k, v in vars(module).items() if k.startswith("model_approval_")}


def test_changing_the_yaml_changes_the_dags(tmp_path, monkeypatch, airflow_db):
    workflow = yaml.safe_load((REPO / "include" / "workflows" / "approval.yaml").read_text())
    workflow["tiers"]["medium"] = ["automated_checks", "security_review", "compliance_check"]
    workflow["steps"]["stakeholder_review"]["approvals"] = 3
    workflow["steps"]["security_review"]["response_timeout"] = "90m"
    dags = _load_approval_module(tmp_path, monkeypatch, workflow)
    medium = dags["model_approval_medium"]
    assert [t.task_id for t in medium.topological_sort()] == [
        "automated_checks",
        "security_review",
        "compliance_check",
        "compliance_check_confirm",
        "record_decision",
    ]
    critical = dags["model_approval_critical"]
    assert [t for t in critical.task_ids if t.startswith("stakeholder_review_")] == [
        "stakeholder_review_1",
        "stakeholder_review_2",
        "stakeholder_review_3",
    ]
    from datetime import timedelta

    assert medium.get_task("security_review").response_timeout == timedelta(minutes=90)


def test_a_broken_yaml_is_a_clear_import_error(tmp_path, monkeypatch, airflow_db):
    from governance.errors import GovernanceError
    from governance.workflows import ERR_UNKNOWN_STEP

    workflow = yaml.safe_load((REPO / "include" / "workflows" / "approval.yaml").read_text())
    workflow["tiers"]["low"] = ["automated_checks", "penetration_test"]
    with pytest.raises(GovernanceError) as err:
        _load_approval_module(tmp_path, monkeypatch, workflow)
    assert ERR_UNKNOWN_STEP.split("{")[0] in str(err.value)
    assert "penetration_test" in str(err.value)
