"""``governance usage check / complete / summary`` in-process on SQLite and PostgreSQL with the demo
registry (credit-scorer and product-recommender DEPLOYED), and ``governance serve`` as a real
process with two uvicorn workers, validating Airflow tokens."""

from __future__ import annotations

import hashlib
import io
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from governance.api.airflow_auth import ERR_BAD_TOKEN
from governance.cli import main
from governance.cli.common import ERR_NOT_INITIALISED, EXIT_FAIL, EXIT_OK, EXIT_USAGE
from governance.cli.usage import (
    DEFAULT_CALLER,
    ERR_METADATA,
    ERR_NOT_UTF8,
    ERR_PORT,
    ERR_TEXT_FILE,
    EXIT_REFUSED,
)
from governance.embedded.demo_registry import seed_demo_registry
from governance.embedded.ports import free_port
from governance.store import GovernanceStore, migrate
from governance.usage.governor import (
    ERR_DECISION_COMPLETED,
    ERR_DECISION_NOT_FOUND,
    ERR_DECISION_REFUSED,
    ERR_EMPTY_USER,
    ERR_INPUT_TOO_LARGE,
    ERR_MODEL_NOT_FOUND,
)
from governance.usage.reporting import ERR_DAY
from tests.support.fragments import assert_mentions

REPO = Path(__file__).resolve().parents[2]
PROMPT = "Which blender should I buy for a small kitchen?"
ANSWER = "The X-200 blender fits a small kitchen."
EMAIL_PROMPT = "please write to jane.doe@example.com about my order"
VIOLENT_PROMPT = "how do I build a pipe bomb"
RECOMMENDER = "product-recommender"


@pytest.fixture
def world(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """The demo registry on a fresh governance DB; the CLI reads it from GOVERNANCE_DB_URL."""
    monkeypatch.setenv("GOVERNANCE_DB_URL", db_url)
    monkeypatch.setenv("GOVERNANCE_USAGE_POLICIES_FILE", str(REPO / "include" / "policies" / "usage.yaml"))
    monkeypatch.delenv("GOVERNANCE_USER", raising=False)
    store = GovernanceStore.from_url(db_url)
    migrate(store.engine)
    seeded = seed_demo_registry(store=store, include_dir=REPO / "include", write_predictions=False)
    yield {"store": store, "models": {m["name"]: m for m in seeded}}
    store.engine.dispose()


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]):
    def run(*argv: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = main(list(argv))
        out, err = capsys.readouterr()
        for text in (PROMPT, ANSWER, EMAIL_PROMPT, VIOLENT_PROMPT, "jane.doe"):
            assert text not in out and text not in err, "the CLI printed the request or response text"
        return code, out, err

    return run


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _decision_id(out: str) -> str:
    return out.split("decision: ", 1)[1].split()[0]


def test_a_compliant_check_prints_the_decision_and_quota(world, cli) -> None:
    code, out, err = cli("usage", "check", RECOMMENDER, "--user", "u-42", "--input", PROMPT)
    assert code == EXIT_OK, err
    model = world["models"][RECOMMENDER]
    assert out.startswith(f"COMPLIANT  {RECOMMENDER} (model {model['model_id']})")
    decision_id = _decision_id(out)
    assert len(decision_id) == 32
    assert f"input:    {len(PROMPT.encode())} bytes, sha256 {_sha(PROMPT)}" in out
    assert "hour: 999 of 1000 left, resets " in out and "day:  9999 of 10000 left, resets " in out
    assert "violations:" not in out

    (event,) = world["store"].audit.query(event_type="usage.allowed").events
    assert event.details["decision_id"] == decision_id and event.details["input_sha256"] == _sha(PROMPT)
    assert event.actor == DEFAULT_CALLER


def test_a_refused_check_exits_refused_and_names_the_policy(world, cli) -> None:
    # credit-scorer is HIGH: open only to the credit officers the access_control policy names
    code, out, _ = cli("usage", "check", "credit-scorer", "--user", "u-42", "--input", PROMPT)
    assert code == EXIT_REFUSED
    assert out.startswith("REFUSED  credit-scorer")
    assert "  violations:\n    - access_control (access_control, severity high): " in out
    assert len(_decision_id(out)) == 32  # a refusal is a recorded decision too
    assert len(world["store"].audit.query(event_type="usage.denied").events) == 1

    code, out, _ = cli("usage", "check", "credit-scorer", "--user", "officer-1", "--input", PROMPT)
    assert code == EXIT_OK and out.startswith("COMPLIANT")
    assert "hour: 4 of 5 left" in out  # credit_scorer_quota, the tightest hourly window


def test_json_output_is_the_http_apis(world, cli) -> None:
    code, out, _ = cli(
        "usage",
        "check",
        RECOMMENDER,
        "--user",
        "u-42",
        "--input",
        PROMPT,
        "--metadata",
        "request_id=r-17",
        "--metadata",
        "retries=2",
        "--caller",
        "gw-test",
        "--json",
    )
    assert code == EXIT_OK
    answer = json.loads(out)
    assert set(answer) == {"compliant", "decision_id", "model_id", "violations", "warnings", "quota", "policy_sha256"}
    assert answer["compliant"] is True and answer["violations"] == []
    assert answer["model_id"] == world["models"][RECOMMENDER]["model_id"]
    assert answer["quota"]["hour"]["limit"] == 1000 and answer["quota"]["hour"]["remaining"] == 999
    (event,) = world["store"].audit.query(event_type="usage.allowed").events
    assert event.actor == "gw-test" and event.details["metadata"] == {"request_id": "r-17", "retries": 2}

    code, out, _ = cli("usage", "check", "credit-scorer", "--user", "u-42", "--input", PROMPT, "--json")
    assert code == EXIT_REFUSED
    refused = json.loads(out)
    assert refused["compliant"] is False and [v["policy_id"] for v in refused["violations"]] == ["access_control"]


def test_input_from_stdin_and_caller_from_the_environment(world, cli, monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("GOVERNANCE_USER", "alice")
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(PROMPT.encode())))
    code, out, _ = cli("usage", "check", RECOMMENDER, "--user", "u-42", "--input-file", "-")
    assert code == EXIT_OK and f"sha256 {_sha(PROMPT)}" in out
    (event,) = world["store"].audit.query(event_type="usage.allowed").events
    assert event.actor == "alice"

    prompt_file = tmp_path / "prompt.txt"
    prompt_file.write_text(PROMPT)
    code, out, _ = cli("usage", "check", RECOMMENDER, "--user", "u-42", "--input-file", str(prompt_file))
    assert code == EXIT_OK and f"sha256 {_sha(PROMPT)}" in out

    latin1 = tmp_path / "latin1.txt"
    latin1.write_bytes("caf\xe9".encode("latin-1"))
    code, _, err = cli("usage", "check", RECOMMENDER, "--user", "u-42", "--input-file", str(latin1))
    assert code == EXIT_USAGE
    assert_mentions(err, ERR_NOT_UTF8)
    code, _, err = cli("usage", "check", RECOMMENDER, "--user", "u-42", "--input-file", str(tmp_path / "nope"))
    assert code == EXIT_USAGE
    assert_mentions(err, ERR_TEXT_FILE)


def test_errors_unknown_model_too_large_empty_user_bad_metadata(world, cli, tmp_path, capsys) -> None:
    code, out, err = cli("usage", "check", "no-such-model", "--user", "u-42", "--input", PROMPT)
    assert code == EXIT_FAIL and out == ""
    assert_mentions(err, ERR_MODEL_NOT_FOUND)

    big = tmp_path / "big.txt"
    big.write_text("a" * 70_000)  # limits.max_input_bytes: 65536
    code, out, err = cli("usage", "check", RECOMMENDER, "--user", "u-42", "--input-file", str(big))
    assert code == EXIT_USAGE and out == ""
    assert_mentions(err, ERR_INPUT_TOO_LARGE)

    code, _, err = cli("usage", "check", RECOMMENDER, "--user", "", "--input", PROMPT)
    assert code == EXIT_USAGE
    assert_mentions(err, ERR_EMPTY_USER)

    with pytest.raises(SystemExit) as exited:  # argparse refuses it before anything runs
        main(["usage", "check", RECOMMENDER, "--user", "u-42", "--input", PROMPT, "--metadata", "novalue"])
    assert exited.value.code == EXIT_USAGE
    assert_mentions(capsys.readouterr().err, ERR_METADATA)
    with pytest.raises(SystemExit):  # --input and --input-file together
        main(["usage", "check", RECOMMENDER, "--user", "u-42", "--input", PROMPT, "--input-file", str(big)])
    assert world["store"].audit.query(event_type="usage.allowed").events == []


def test_an_uninitialised_database_is_refused(tmp_path, monkeypatch, cli) -> None:
    monkeypatch.setenv("GOVERNANCE_DB_URL", f"sqlite:///{tmp_path / 'empty.db'}")
    code, out, err = cli("usage", "check", RECOMMENDER, "--user", "u-42", "--input", PROMPT)
    assert code == EXIT_USAGE and out == ""
    assert_mentions(err, ERR_NOT_INITIALISED)


def test_complete_once_then_refused(world, cli) -> None:
    _, out, _ = cli("usage", "check", RECOMMENDER, "--user", "u-42", "--input", PROMPT)
    decision_id = _decision_id(out)

    code, out, err = cli("usage", "complete", decision_id, "--output", ANSWER)
    assert code == EXIT_OK, err
    assert out.startswith(f"COMPLIANT  output of decision {decision_id}")
    assert f"output:   {len(ANSWER.encode())} bytes, sha256 {_sha(ANSWER)}" in out
    (event,) = world["store"].audit.query(event_type="inference").events
    assert event.details["output_sha256"] == _sha(ANSWER) and event.details["input_sha256"] == _sha(PROMPT)

    code, out, err = cli("usage", "complete", decision_id, "--output", ANSWER, "--json")
    assert code == EXIT_FAIL and out == ""
    assert_mentions(err, ERR_DECISION_COMPLETED)
    assert len(world["store"].audit.query(event_type="inference").events) == 1

    code, _, err = cli("usage", "complete", "0" * 32, "--output", ANSWER)
    assert code == EXIT_FAIL
    assert_mentions(err, ERR_DECISION_NOT_FOUND)

    _, out, _ = cli("usage", "check", "credit-scorer", "--user", "u-42", "--input", PROMPT)
    code, _, err = cli("usage", "complete", _decision_id(out), "--output", ANSWER)
    assert code == EXIT_FAIL
    assert_mentions(err, ERR_DECISION_REFUSED)


def test_complete_json(world, cli, tmp_path) -> None:
    _, out, _ = cli("usage", "check", RECOMMENDER, "--user", "u-42", "--input", PROMPT, "--json")
    decision_id = json.loads(out)["decision_id"]
    answer_file = tmp_path / "answer.txt"
    answer_file.write_text(ANSWER)
    code, out, _ = cli("usage", "complete", decision_id, "--output-file", str(answer_file), "--json")
    assert code == EXIT_OK
    assert json.loads(out) == {"compliant": True, "decision_id": decision_id, "violations": [], "warnings": []}


def test_summary_table_and_json(world, cli) -> None:
    for user in ("u-1", "u-1", "u-2"):
        assert cli("usage", "check", RECOMMENDER, "--user", user, "--input", PROMPT)[0] == EXIT_OK
    assert cli("usage", "check", "credit-scorer", "--user", "u-1", "--input", PROMPT)[0] == EXIT_REFUSED
    assert cli("usage", "check", RECOMMENDER, "--user", "u-3", "--input", EMAIL_PROMPT)[0] == EXIT_OK  # PII, not kept
    code, out, _ = cli("usage", "check", RECOMMENDER, "--user", "u-3", "--input", VIOLENT_PROMPT)
    assert code == EXIT_REFUSED and "content_safety (content_filter, severity high)" in out

    code, out, _ = cli("usage", "summary", "--json")
    assert code == EXIT_OK
    s = json.loads(out)
    assert s["total"] == {
        "requests": 6,
        "compliant": 4,
        "refused": 2,
        "refused_by_policy": {"access_control": 1, "content_safety": 1},
    }
    recommender = f"{RECOMMENDER}:{world['models'][RECOMMENDER]['version']}"
    credit = f"credit-scorer:{world['models']['credit-scorer']['version']}"
    assert {m["model"]: (m["requests"], m["refused"]) for m in s["by_model"]} == {recommender: (5, 1), credit: (1, 1)}
    assert [(u["user"], u["requests"]) for u in s["by_user"]] == [("u-1", 3), ("u-3", 2), ("u-2", 1)]
    assert s["pii_detections"] == {"email": 1} and s["content_filter_hits"] == {"violence": 1}

    code, out, _ = cli("usage", "summary")
    assert code == EXIT_OK

    def section(title: str) -> list[list[str]]:
        return [row.split() for row in out.split(f"\n{title}\n", 1)[1].split("\n\n", 1)[0].splitlines()]

    assert out.splitlines()[0] == "usage first day..last day: 6 requests, 4 compliant, 2 refused"
    models = section("per model")
    assert models[0] == ["MODEL", "REQUESTS", "COMPLIANT", "REFUSED"]
    assert sorted(models[1:]) == sorted([[recommender, "5", "4", "1"], [credit, "1", "0", "1"]])
    assert section("per user (top 10)")[1:] == [["u-1", "3", "2", "1"], ["u-3", "2", "1", "1"], ["u-2", "1", "1", "0"]]
    days = section("per day (UTC)")
    assert len(days) == 2 and days[1][1:] == ["6", "4", "2"]
    assert section("refusals per policy")[1:] == [["access_control", "1"], ["content_safety", "1"]]
    assert section("PII detections (requests)") == [["KIND", "COUNT"], ["email", "1"]]
    assert section("content filter hits (requests)") == [["CATEGORY", "COUNT"], ["violence", "1"]]

    code, out, _ = cli("usage", "summary", "--model", RECOMMENDER, "--user", "u-2", "--json")
    assert json.loads(out)["total"]["requests"] == 1
    code, out, _ = cli("usage", "summary", "--since", "2000-01-01", "--until", "2000-01-31")
    assert code == EXIT_OK and out.startswith("usage 2000-01-01..2000-01-31: 0 requests")
    assert "per model\n  none" in out

    code, _, err = cli("usage", "summary", "--since", "yesterday")
    assert code == EXIT_USAGE
    assert_mentions(err, ERR_DAY)
    code, _, err = cli("usage", "summary", "--model", "no-such-model")
    assert code == EXIT_FAIL
    assert_mentions(err, ERR_MODEL_NOT_FOUND)


def test_summary_lists_the_top_10_users(world, cli) -> None:
    for i in range(12):
        assert cli("usage", "check", RECOMMENDER, "--user", f"u-{i:02d}", "--input", PROMPT)[0] == EXIT_OK
    code, out, _ = cli("usage", "summary")
    users = out.split("per user (top 10)\n", 1)[1].split("\n\n", 1)[0].splitlines()
    assert [row.split()[0] for row in users[1:11]] == [f"u-{i:02d}" for i in range(10)]
    assert users[11] == "  … and 2 more users (--json lists them all)"
    code, out, _ = cli("usage", "summary", "--json")
    assert len(json.loads(out)["by_user"]) == 12


def test_every_command_has_help_with_an_example(capsys) -> None:
    for argv in (["usage"], ["usage", "check"], ["usage", "complete"], ["usage", "summary"], ["serve"]):
        with pytest.raises(SystemExit) as exited:
            main([*argv, "--help"])
        assert exited.value.code == 0
        out = capsys.readouterr().out
        assert "example" in out and f"governance {' '.join(argv)}" in out, argv


def test_serve_refuses_a_bad_port(capsys) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["serve", "--port", "70000"])
    assert exited.value.code == EXIT_USAGE
    assert_mentions(capsys.readouterr().err, ERR_PORT)


# ----------------------------------------------------------------------------- governance serve


def _mint(username: str, role: str = "user") -> str:
    """An Airflow token as the API server's POST /auth/token issues it: Airflow's SimpleAuthManager
    signs it with this process's configuration, the same [api_auth] jwt_secret the served process
    reads (set by tests/conftest.py)."""
    from airflow.api_fastapi.auth.managers.simple.simple_auth_manager import SimpleAuthManager
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

    return SimpleAuthManager().generate_jwt(SimpleAuthManagerUser(username=username, role=role))


def _forged(username: str) -> str:
    from airflow.api_fastapi.auth.tokens import JWTGenerator

    return JWTGenerator(secret_key="not-the-secret-" + "y" * 64, valid_for=60, audience="apache-airflow").generate(
        {"sub": username, "role": "admin"}
    )


def _post(base: str, path: str, body: dict[str, Any], token: str | None) -> tuple[int, dict[str, Any]]:
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(base + path, data=json.dumps(body).encode(), headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def _children(pid: int) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat[stat.rindex(")") + 2 :].split()[1]) == pid:
                out.append(int(entry))
    return out


def _wait_healthy(proc: subprocess.Popen[bytes], base: str, *, timeout: float) -> float:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if proc.poll() is not None:
            raise AssertionError(f"governance serve exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(base + "/health", timeout=2) as response:
                if response.status == 200 and json.loads(response.read()) == {"status": "ok"}:
                    return time.monotonic() - start
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.2)
    raise AssertionError(f"governance serve did not answer /health within {timeout:.0f} s")


@pytest.mark.slow
def test_serve_validates_airflow_tokens_and_the_gateway_group(airflow_db, tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path / 'governance.db'}"
    store = GovernanceStore.from_url(db_url)
    migrate(store.engine)
    seed_demo_registry(store=store, include_dir=REPO / "include", write_predictions=False)
    groups = tmp_path / "groups.yaml"
    # a gateway named only here: the served process must read this file, not the repository's
    groups.write_text("groups:\n  security: [security]\n  model-gateways: [svc-gateway]\n")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "GOVERNANCE_DB_URL": db_url,
        "GOVERNANCE_GROUPS_FILE": str(groups),
        "GOVERNANCE_USAGE_POLICIES_FILE": str(REPO / "include" / "policies" / "usage.yaml"),
    }
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "governance.cli", "serve", "--port", str(port), "--workers", "2"],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
    try:
        _wait_healthy(proc, base, timeout=90)
        printed = log.read_text()
        assert f"listening on {base} (2 worker(s)" in printed and "Airflow tokens" in printed
        workers = [c for c in _children(proc.pid) if b"spawn_main" in Path(f"/proc/{c}/cmdline").read_bytes()]
        assert len(workers) == 2, printed

        body = {"model": RECOMMENDER, "user": "u-42", "input": PROMPT}
        status, answer = _post(base, "/governance/v1/usage/check", body, None)
        assert status == 401, answer
        # a token signed with another secret: 401 (governance.api.airflow_auth; Airflow itself says 403)
        status, answer = _post(base, "/governance/v1/usage/check", body, _forged("svc-gateway"))
        assert status == 401, answer
        assert_mentions(answer["detail"], ERR_BAD_TOKEN)
        status, answer = _post(base, "/governance/v1/usage/check", body, _mint("gateway"))
        assert status == 403 and "model-gateways" in answer["detail"], answer  # the repo's gateway: not here
        status, answer = _post(base, "/governance/v1/usage/check", body, _mint("outsider"))
        assert status == 403, answer
        token = _mint("svc-gateway")
        for _ in range(4):  # several requests: both workers answer, the quota counts across them
            status, answer = _post(base, "/governance/v1/usage/check", body, token)
            assert status == 200 and answer["compliant"] is True, answer
        assert answer["quota"]["hour"]["remaining"] == 996
        status, done = _post(base, f"/governance/v1/usage/{answer['decision_id']}/complete", {"output": ANSWER}, token)
        assert status == 200 and done["compliant"] is True, done
        allowed = store.audit.query(event_type="usage.allowed").events
        assert len(allowed) == 4 and {e.actor for e in allowed} == {"svc-gateway"}
        assert PROMPT not in log.read_text() and ANSWER not in log.read_text()
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        assert store.audit.verify().ok
        store.engine.dispose()
