"""The usage routes over HTTP (FastAPI's TestClient; a stand-in login dependency here, Airflow's
own in tests/e2e/test_usage_e2e.py): every status code, and no refused body echoed back."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi import Header, HTTPException
from fastapi.testclient import TestClient

from governance.api import create_app
from governance.api.usage import ERR_NOT_GATEWAY, GATEWAY_GROUP
from governance.store import dispose_shared
from tests.usage.conftest import UsageWorld

SECRET = "4111 1111 1111 1111"


@dataclass
class FakeUser:
    name: str
    role: str = "user"

    def get_name(self) -> str:
        return self.name


async def fake_login(x_user: str | None = Header(None)) -> FakeUser:
    if not x_user:
        raise HTTPException(status_code=401, detail="Not authenticated")
    name, _, role = x_user.partition(":")
    return FakeUser(name, role or "user")


@pytest.fixture
def client(world: UsageWorld, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    groups = tmp_path / "groups.yaml"
    groups.write_text(f"groups:\n  {GATEWAY_GROUP}: [gw]\n  security: [security]\n")
    monkeypatch.setenv("GOVERNANCE_GROUPS_FILE", str(groups))
    monkeypatch.setenv("GOVERNANCE_DB_URL", world.store.engine.url.render_as_string(hide_password=False))
    monkeypatch.setenv("GOVERNANCE_USAGE_POLICIES_FILE", str(world.policies))
    yield TestClient(create_app(user=fake_login))
    dispose_shared()


GW = {"X-User": "gw"}


def check(client: TestClient, headers: dict | None = None, **body):
    payload = {"model": "product-recommender", "user": "u-1", "input": "hello", **body}
    return client.post("/v1/usage/check", json=payload, headers=GW if headers is None else headers)


def test_200_compliant_and_refused(client: TestClient) -> None:
    ok = check(client)
    assert ok.status_code == 200
    body = ok.json()
    assert body["compliant"] is True and len(body["decision_id"]) == 32 and body["violations"] == []
    assert set(body["quota"]) == {"hour", "day"} and set(body["quota"]["hour"]) == {"limit", "remaining", "resets_at"}
    no = check(client, model="credit-scorer")
    assert no.status_code == 200 and no.json()["compliant"] is False
    (v,) = no.json()["violations"]
    assert set(v) == {"policy_id", "policy_name", "type", "severity", "reason"}


def test_401_403_and_admins(client: TestClient) -> None:
    assert check(client, headers={}).status_code == 401
    r = check(client, headers={"X-User": "security"})
    assert r.status_code == 403
    assert r.json()["detail"].startswith(ERR_NOT_GATEWAY.split("{")[0] + "'security'")
    assert check(client, headers={"X-User": "admin:admin"}).status_code == 200


def test_404_413(client: TestClient) -> None:
    r = check(client, model="nope")
    assert r.status_code == 404 and "nope" in r.json()["detail"]
    r = check(client, input="x" * 70_000)
    assert r.status_code == 413 and "max_input_bytes" in r.json()["detail"]


@pytest.mark.parametrize(
    "payload",
    [
        {"model": "product-recommender", "input": SECRET},  # no user
        {"model": "product-recommender", "user": "u-1", "input": SECRET, "extra": SECRET},
        {"model": "product-recommender", "user": "u-1", "input": 42},
        {"model": "", "user": "u-1", "input": SECRET},
    ],
)
def test_422_names_fields_and_never_echoes_values(client: TestClient, payload: dict) -> None:
    r = client.post("/v1/usage/check", json=payload, headers=GW)
    assert r.status_code == 422
    assert r.json()["detail"].startswith("malformed request: ") and '"user": END_USER_ID' in r.json()["detail"]
    assert SECRET not in r.text and "4111" not in r.text


def test_422_not_json(client: TestClient) -> None:
    r = client.post(
        "/v1/usage/check", content=b"{not json " + SECRET.encode(), headers={**GW, "Content-Type": "application/json"}
    )
    assert r.status_code == 422 and "not valid JSON" in r.json()["detail"] and SECRET not in r.text


def test_complete_200_404_409(client: TestClient) -> None:
    decision = check(client).json()["decision_id"]
    r = client.post(f"/v1/usage/{decision}/complete", json={"output": "fine"}, headers=GW)
    assert r.status_code == 200 and r.json() == {
        "compliant": True,
        "decision_id": decision,
        "violations": [],
        "warnings": [],
    }
    assert client.post(f"/v1/usage/{decision}/complete", json={"output": "fine"}, headers=GW).status_code == 409
    assert client.post(f"/v1/usage/{'0' * 32}/complete", json={"output": "x"}, headers=GW).status_code == 404
    r = client.post(f"/v1/usage/{decision}/complete", json={"text": "x"}, headers=GW)
    assert r.status_code == 422 and '"output": TEXT' in r.json()["detail"]


def test_503_when_the_check_cannot_be_made(client: TestClient, world: UsageWorld) -> None:
    world.policies.write_text("policies: []\n")
    r = check(client)
    assert r.status_code == 503
    body = r.json()
    assert body["compliant"] is False and body["decision_id"] is None and "policies" in body["detail"]


def test_summary(client: TestClient) -> None:
    check(client)
    check(client, model="credit-scorer")
    r = client.get("/v1/usage/summary", headers=GW)
    assert r.status_code == 200 and r.json()["total"]["requests"] == 2
    assert client.get("/v1/usage/summary", params={"model": "credit-scorer"}, headers=GW).json()["total"] == {
        "requests": 1,
        "compliant": 0,
        "refused": 1,
        "refused_by_policy": {"access_control": 1},
    }
    assert client.get("/v1/usage/summary", params={"since": "last week"}, headers=GW).status_code == 422
    assert client.get("/v1/usage/summary", params={"model": "nope"}, headers=GW).status_code == 404
    assert client.get("/v1/usage/summary").status_code == 401


def test_503_on_an_unexpected_error(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    from governance.usage import governor

    def boom(self, **kwargs):
        raise RuntimeError("detector crashed")

    monkeypatch.setattr(governor.UsageGovernor, "check", boom)
    r = check(client, input=SECRET)
    assert r.status_code == 503 and r.json()["compliant"] is False and "RuntimeError" in r.json()["detail"]
    assert SECRET not in r.text


def test_fast_path_answers_known_tokens_once_and_leaves_errors_to_the_route(
    client: TestClient, world: UsageWorld
) -> None:
    import time

    from governance.api import airflow_auth

    token = "known-token"
    airflow_auth._cache[airflow_auth._key(token)] = (time.time() + 60, FakeUser("gw"))
    try:
        fast = {"Authorization": f"Bearer {token}"}  # no X-User: only the fast path can answer it
        r = check(client, headers=fast)
        assert r.status_code == 200 and r.json()["compliant"] is True
        allowed = world.store.audit.query(event_type="usage.allowed", limit=100).events
        assert [e.details["decision_id"] for e in allowed] == [r.json()["decision_id"]]  # ran once
        # errors fall through to the route, which owns them (here it needs its login header)
        assert check(client, headers=fast, model="nope").status_code == 401
        assert check(client, headers={**fast, **GW}, model="nope").status_code == 404
        bad = client.post("/v1/usage/check", json={"model": "x", "input": SECRET}, headers={**fast, **GW})
        assert bad.status_code == 422 and SECRET not in bad.text
        outsider = airflow_auth._key("outsider-token")
        airflow_auth._cache[outsider] = (time.time() + 60, FakeUser("security"))
        assert (
            check(client, headers={"Authorization": "Bearer outsider-token", "X-User": "security"}).status_code == 403
        )
    finally:
        airflow_auth._cache.clear()
