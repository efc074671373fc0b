"""The ``governance`` command line, run in-process against SQLite and PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from governance.cli import main
from governance.cli.common import ERR_NOT_INITIALISED, EXIT_FAIL, EXIT_OK, EXIT_USAGE
from governance.lifecycle import ERR_ILLEGAL_TRANSITION
from governance.store.repository import ERR_ALREADY_REGISTERED, ERR_NOT_FOUND
from tests.support.fragments import assert_mentions

CARDS = Path(__file__).resolve().parents[2] / "include" / "model_cards"


@pytest.fixture
def cli(db_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):
    monkeypatch.setenv("GOVERNANCE_DB_URL", db_url)

    def run(*argv: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = main(list(argv))
        out, err = capsys.readouterr()
        return code, out, err

    return run


def test_commands_refuse_an_uninitialised_database(cli) -> None:
    code, out, err = cli("list")
    assert code == EXIT_USAGE and out == ""
    assert_mentions(err, ERR_NOT_INITIALISED)


def test_init_is_idempotent(cli) -> None:
    code, out, _ = cli("init")
    assert code == EXIT_OK and "migrated from empty to revision" in out
    code, out, _ = cli("init")
    assert code == EXIT_OK and "is up to date" in out


def test_register_status_list_transition_and_audit(cli) -> None:
    assert cli("init")[0] == EXIT_OK
    code, out, _ = cli("register", str(CARDS / "high_credit_scorer.yaml"), "--owner", "alice")
    assert code == EXIT_OK
    assert "registered credit-scorer 1.2.0 as m-" in out and "risk: HIGH (score 3)" in out
    model_id = out.split(" as ")[1].split()[0]

    code, out, _ = cli("register", str(CARDS / "low_doc_tagger.yaml"), "--owner", "bob", "--json")
    assert code == EXIT_OK and json.loads(out)["risk"]["level"] == "LOW"

    code, _, err = cli("register", str(CARDS / "high_credit_scorer.yaml"), "--owner", "carol")
    assert code == EXIT_FAIL
    assert_mentions(err, ERR_ALREADY_REGISTERED)

    code, out, _ = cli("status", "credit-scorer")
    assert code == EXIT_OK and model_id in out and "DEVELOPMENT" in out
    code, out, _ = cli("status", "credit-scorer:1.2.0", "--json")
    assert json.loads(out)["id"] == model_id
    code, _, err = cli("status", "nope")
    assert code == EXIT_FAIL
    assert_mentions(err, ERR_NOT_FOUND)

    code, out, _ = cli("transition", model_id, "review_pending", "--actor", "alice", "--reason", "ready")
    assert code == EXIT_OK and "DEVELOPMENT -> REVIEW_PENDING" in out
    code, out, _ = cli("transition", model_id, "REVIEW_PENDING", "--actor", "alice", "--reason", "ready")
    assert code == EXIT_OK and "already REVIEW_PENDING; nothing changed" in out
    code, _, err = cli("transition", model_id, "DEPLOYED", "--actor", "alice")
    assert code == EXIT_FAIL
    assert_mentions(err, ERR_ILLEGAL_TRANSITION)

    code, out, _ = cli("list")
    assert code == EXIT_OK and len(out.strip().splitlines()) == 2
    code, out, _ = cli("list", "--status", "REVIEW_PENDING", "--json")
    assert [m["id"] for m in json.loads(out)] == [model_id]
    code, out, _ = cli("list", "--status", "DEPLOYED")
    assert out.strip() == "no model versions with status DEPLOYED"

    code, out, _ = cli("audit", "query", "--model-id", model_id, "--json")
    events = json.loads(out)["events"]
    assert [e["event_type"] for e in events] == ["model.registered", "model.status_changed"]
    code, out, err = cli("audit", "query", "--limit", "1")
    assert code == EXIT_OK and out.split()[:1] == ["1"] and "more: --cursor " in err
    cursor = err.split("--cursor ")[1].strip()
    code, out, _ = cli("audit", "query", "--limit", "1", "--cursor", cursor)
    assert out.split()[:1] == ["2"] and "bob" in out
    code, out, _ = cli("audit", "query", "--actor", "nobody")
    assert out.strip() == "no events match"
    code, _, err = cli("audit", "query", "--since", "not-a-time")
    assert code == EXIT_USAGE and "is not an ISO 8601 time" in err

    code, out, _ = cli("audit", "verify")
    assert code == EXIT_OK and out.strip() == "OK: 3 events, chain intact"


def test_usage_errors_exit_2(cli) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["register"])  # missing CARD and --owner: argparse
    assert exc.value.code == 2
