"""The usage API in the real Airflow API server (the embedded default), as a gateway calls it:
every status code, every policy kind, a quota running out, the summary, and afterwards a scan
of the whole data folder (governance DB and its WAL, Airflow's DB, logs, S3) that finds none of
the personal data the requests carried."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from governance.airflow_client import AirflowClient
from governance.cards import load_card
from governance.embedded.airflow import EmbeddedAirflow
from governance.store import GovernanceStore
from tests.e2e.conftest import REPO

pytestmark = pytest.mark.slow

CARDS = REPO / "include" / "model_cards"
SUFFIX = "-usage-e2e"


def luhn_card() -> str:
    """A random Luhn-valid Visa number (16 digits), so it is found nowhere else."""
    digits = [4] + [secrets.randbelow(10) for _ in range(14)]
    total = 0
    for i, d in enumerate(reversed(digits)):
        d = d * 2 if i % 2 == 0 else d
        total += d - 9 if d > 9 else d
    digits.append((10 - total % 10) % 10)
    s = "".join(map(str, digits))
    return f"{s[:4]} {s[4:8]} {s[8:12]} {s[12:]}"


TAG = secrets.token_hex(4)
PII = {
    "email": f"maria.{TAG}@example.net",
    "card": luhn_card(),
    "ssn": f"{secrets.randbelow(600) + 100:03d}-{secrets.randbelow(90) + 10:02d}-{secrets.randbelow(9000) + 1000:04d}",
    "phone": f"+1 415 555 {secrets.randbelow(9000) + 1000:04d}",
    "user_email": f"end.user.{TAG}@example.com",
}


@pytest.fixture(scope="module")
def models(gov_store: GovernanceStore) -> dict[str, str]:
    """The demo cards under e2e versions: recommender and credit scorer DEPLOYED, doc tagger
    APPROVED only."""
    ids = {}
    for file, status in [
        ("medium_product_recommender.yaml", "DEPLOYED"),
        ("high_credit_scorer.yaml", "DEPLOYED"),
        ("low_doc_tagger.yaml", "APPROVED"),
    ]:
        card = load_card(CARDS / file)
        card = card.model_copy(update={"version": card.version + SUFFIX})
        mid = gov_store.register(card, owner="owner").model.id
        for step in ["REVIEW_PENDING", "APPROVED", "DEPLOYED"][: 3 if status == "DEPLOYED" else 2]:
            gov_store.transition(mid, step, actor="admin")
        ids[card.name] = f"{card.name}:{card.version}"
    return ids


@pytest.fixture(scope="module")
def http(airflow: EmbeddedAirflow) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=airflow.url, timeout=30) as client:
        yield client


@pytest.fixture(scope="module")
def gateway(as_user: Callable[[str], AirflowClient]) -> dict[str, str]:
    return {"Authorization": f"Bearer {as_user('gateway').token()}"}


def check(http: httpx.Client, headers: dict[str, str], **body: object) -> httpx.Response:
    return http.post("/governance/v1/usage/check", json=body, headers=headers)


def test_status_codes(
    http: httpx.Client, gateway: dict[str, str], models: dict[str, str], as_user: Callable[[str], AirflowClient]
) -> None:
    recommender = models["product-recommender"]
    body = {"model": recommender, "user": "u-e2e", "input": "Suggest a reading lamp"}
    # 401: no token, and a bad one
    assert check(http, {}, **body).status_code == 401
    assert check(http, {"Authorization": "Bearer not-a-token"}, **body).status_code == 401
    # 403: a logged-in user outside model-gateways
    outsider = {"Authorization": f"Bearer {as_user('owner').token()}"}
    r = check(http, outsider, **body)
    assert r.status_code == 403 and "model-gateways" in r.json()["detail"]
    # admins may call it
    admin = {"Authorization": f"Bearer {as_user('admin').token()}"}
    assert check(http, admin, **body).status_code == 200
    # 200 compliant
    r = check(http, gateway, **body)
    assert r.status_code == 200, r.text
    ok = r.json()
    assert ok["compliant"] is True and ok["quota"]["hour"]["limit"] == 1000
    # 404 unknown model
    r = check(http, gateway, **{**body, "model": "no-such-model"})
    assert r.status_code == 404 and "no-such-model" in r.json()["detail"]
    # 413 input over the limit
    r = check(http, gateway, **{**body, "input": "x" * 65_537})
    assert r.status_code == 413 and "max_input_bytes" in r.json()["detail"]
    # 422 malformed body, its values never echoed
    r = http.post("/governance/v1/usage/check", json={"model": recommender, "input": PII["card"]}, headers=gateway)
    assert r.status_code == 422 and "user" in r.json()["detail"] and PII["card"] not in r.text
    # complete: 200, then 409 twice over, 404 unknown
    url = f"/governance/v1/usage/{ok['decision_id']}/complete"
    r = http.post(url, json={"output": "The Tolomeo lamp", "metadata": {"model_latency_ms": 41}}, headers=gateway)
    assert r.status_code == 200 and r.json()["compliant"] is True
    assert http.post(url, json={"output": "again"}, headers=gateway).status_code == 409
    assert (
        http.post(f"/governance/v1/usage/{'f' * 32}/complete", json={"output": "x"}, headers=gateway).status_code == 404
    )
    assert http.post(url, json={"result": "x"}, headers=gateway).status_code == 422


def test_every_policy_kind_refuses(http: httpx.Client, gateway: dict[str, str], models: dict[str, str]) -> None:
    def violated(**body: object) -> list[str]:
        r = check(http, gateway, **body)
        assert r.status_code == 200, r.text
        return sorted(v["policy_id"] for v in r.json()["violations"])

    recommender, scorer, tagger = models["product-recommender"], models["credit-scorer"], models["doc-tagger"]
    assert violated(model=scorer, user="u-e2e", input="score me") == ["access_control"]  # HIGH, not allowed
    assert violated(model=tagger, user="u-e2e", input="tag this") == ["access_control"]  # APPROVED, not deployed
    assert violated(model=recommender, user="u-e2e", input="I will kill you") == ["content_safety"]
    assert violated(model=recommender, user="u-e2e", input=f"card {PII['card']}") == ["no_pii_retention"]
    assert violated(model=recommender, user="u-e2e", input=f"ssn {PII['ssn']}") == ["no_pii_retention"]
    # quota: the credit scorer allows an officer 5 requests an hour
    answers = [check(http, gateway, model=scorer, user="officer-2", input="score #7").json() for _ in range(6)]
    assert [a["compliant"] for a in answers] == [True] * 5 + [False]
    assert [v["policy_id"] for v in answers[-1]["violations"]] == ["credit_scorer_quota"]
    assert answers[-1]["quota"]["hour"]["remaining"] == 0


def test_output_refused_and_summary(http: httpx.Client, gateway: dict[str, str], models: dict[str, str]) -> None:
    recommender = models["product-recommender"]
    d = check(http, gateway, model=recommender, user="u-out", input="write a slogan").json()
    r = http.post(
        f"/governance/v1/usage/{d['decision_id']}/complete", json={"output": f"call {PII['card']}"}, headers=gateway
    )
    assert r.status_code == 200 and r.json()["compliant"] is False
    s = http.get("/governance/v1/usage/summary", params={"model": recommender}, headers=gateway)
    assert s.status_code == 200
    total = s.json()["total"]
    assert total["requests"] >= 6 and total["refused"] >= 3
    assert {"content_safety", "no_pii_retention"} <= set(total["refused_by_policy"])


def test_fail_closed_when_the_policy_file_breaks(
    http: httpx.Client, gateway: dict[str, str], models: dict[str, str], usage_policies: Path
) -> None:
    good = usage_policies.read_bytes()
    try:
        usage_policies.write_text(good.decode() + "\nunexpected_key: 1\n")
        r = check(http, gateway, model=models["product-recommender"], user="u-e2e", input="hello")
        assert r.status_code == 503 and r.json()["compliant"] is False and "unexpected_key" in r.json()["detail"]
    finally:
        usage_policies.write_bytes(good)
    time.sleep(0.01)
    assert check(http, gateway, model=models["product-recommender"], user="u-e2e", input="hello").json()["compliant"]


def test_personal_data_is_stored_nowhere(
    http: httpx.Client, gateway: dict[str, str], models: dict[str, str], airflow: EmbeddedAirflow, e2e_data: Path
) -> None:
    recommender = models["product-recommender"]
    inputs = [
        f"please email {PII['email']} about my order",
        f"my card number is {PII['card']}",
        f"my SSN is {PII['ssn']}",
        f"call me on {PII['phone']}",
    ]
    for text in inputs:
        r = check(http, gateway, model=recommender, user=PII["user_email"], input=text)
        assert r.status_code == 200
        if r.json()["compliant"]:
            http.post(
                f"/governance/v1/usage/{r.json()['decision_id']}/complete",
                json={"output": f"Sure, I wrote to {PII['email']}"},
                headers=gateway,
            )
    # a control: PII-free text the recommender's retention policy keeps, so the scan must find it
    control = f"control-{TAG} a lamp for a reading nook"
    assert check(http, gateway, model=recommender, user="u-control", input=control).json()["compliant"]
    # a refused body with PII in it
    http.post(
        "/governance/v1/usage/check",
        json={"model": recommender, "input": PII["card"], "x": PII["ssn"]},
        headers=gateway,
    )
    # every byte of the data folder: governance DB (+ WAL), Airflow's DB and logs, the S3 server
    time.sleep(1.0)  # let log handlers flush
    needles = {name: value.encode() for name, value in PII.items()}
    needles.update(
        {
            f"{n}-digits": "".join(ch for ch in v if ch.isdigit()).encode()
            for n, v in PII.items()
            if n in ("card", "ssn")
        }
    )
    found: list[str] = []
    scanned = 0
    for path in e2e_data.rglob("*"):
        if not path.is_file() or path.is_symlink():
            continue
        try:
            data = path.read_bytes()
        except OSError:
            continue
        scanned += 1
        for name, needle in needles.items():
            if needle in data:
                found.append(f"{name} in {path.relative_to(e2e_data)}")
    assert scanned > 10
    controls = [
        str(p.relative_to(e2e_data)) for p in e2e_data.rglob("*") if p.is_file() and control.encode() in p.read_bytes()
    ]
    assert any(c.startswith("governance.db") for c in controls), f"the scan cannot see the governance DB: {controls}"
    assert found == [], found
