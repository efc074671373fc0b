"""UsageGovernor: every policy kind, the model's status, completions, the audit events, payload
retention, policy reloads and fail closed; on SQLite and PostgreSQL (the ``store`` fixture)."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from governance.errors import DecisionCompletedError, DecisionNotFoundError, ModelNotFoundError, PayloadTooLargeError
from governance.store.tables import usage_decisions, usage_payloads, usage_quota
from governance.usage import EVENT_USAGE_ALLOWED, EVENT_USAGE_DENIED, UsageGovernor
from governance.usage.evaluate import (
    HASHED_USER_PREFIX,
    REASON_DEPRECATED,
    REASON_NOT_ALLOWED,
    REASON_NOT_DEPLOYED,
)
from governance.usage.governor import ERR_DECISION_REFUSED, REASON_POLICIES, REASON_STORE
from governance.usage.results import FAIL_CLOSED_ID, FAIL_CLOSED_TYPE
from tests.usage.conftest import UsageWorld, register

CARD = "4111 1111 1111 1111"  # a Luhn-valid Visa test number
EMAIL = "jane.roe@example.org"


def ids(violations) -> list[str]:
    return sorted(v.policy_id for v in violations)


def rows(world: UsageWorld, table) -> list:
    with world.store.engine.connect() as conn:
        return list(conn.execute(select(table)).mappings())


def events(world: UsageWorld, event_type: str) -> list:
    return world.store.audit.query(event_type=event_type, limit=10_000).events


# ----------------------------------------------------------------------------- access control


def test_deployed_medium_model_is_open_to_any_user(governor: UsageGovernor, world: UsageWorld) -> None:
    d = governor.check(model="product-recommender", user="u-1", input="Suggest a lamp", caller="gateway")
    assert d.compliant and d.violations == [] and d.decision_id
    assert d.model_id == world.ids["product-recommender"]
    assert d.quota["hour"].limit == 1000 and d.quota["hour"].remaining == 999
    assert d.quota["day"].limit == 10000 and d.quota["day"].remaining == 9999
    assert d.quota["hour"].resets_at.endswith(":00:00Z")


def test_high_model_denied_by_default_and_allowed_to_its_group(governor: UsageGovernor) -> None:
    refused = governor.check(model="credit-scorer", user="u-1", input="score me", caller="gateway")
    assert not refused.compliant and ids(refused.violations) == ["access_control"]
    assert refused.violations[0].reason == REASON_NOT_ALLOWED.format(ref="credit-scorer:1.2.0", tier="HIGH")
    allowed = governor.check(model="credit-scorer", user="officer-1", input="score applicant 7", caller="gateway")
    assert allowed.compliant, allowed.violations


def test_critical_model_only_for_named_group(governor: UsageGovernor) -> None:
    assert not governor.check(model="clinical-triage", user="officer-1", input="triage", caller="g").compliant
    assert governor.check(model="clinical-triage", user="clinician-7", input="triage", caller="g").compliant


def test_deny_rule_wins(governor: UsageGovernor) -> None:
    d = governor.check(model="product-recommender", user="u-suspended", input="hi", caller="g")
    assert not d.compliant and ids(d.violations) == ["access_control"]


@pytest.mark.parametrize("status", ["APPROVED", "RETIRED", "REVIEW_PENDING"])
def test_model_must_be_deployed(governor: UsageGovernor, world: UsageWorld, status: str) -> None:
    register(world.store, "low_doc_tagger.yaml", status, version="9.0.0")
    d = governor.check(model="doc-tagger:9.0.0", user="u-1", input="tag this", caller="g")
    assert not d.compliant
    assert [v.reason for v in d.violations] == [REASON_NOT_DEPLOYED.format(ref="doc-tagger:9.0.0", status=status)]
    assert d.quota["hour"].remaining == 1000  # a refused request consumes nothing


def test_deprecated_model_allowed_with_warning(governor: UsageGovernor, world: UsageWorld) -> None:
    register(world.store, "low_doc_tagger.yaml", "DEPRECATED", version="0.9.0")
    d = governor.check(model="doc-tagger:0.9.0", user="u-1", input="tag this", caller="g")
    assert d.compliant
    assert [w.reason for w in d.warnings] == [REASON_DEPRECATED.format(ref="doc-tagger:0.9.0")]


def test_status_change_takes_effect_on_the_next_check(governor: UsageGovernor, world: UsageWorld) -> None:
    mid = world.ids["product-recommender"]
    ref = f"product-recommender:{world.store.get(mid).version}"
    assert governor.check(model=ref, user="u-1", input="a", caller="g").compliant
    world.store.transition(mid, "DEPRECATED", actor="admin")
    world.store.transition(mid, "RETIRED", actor="admin")
    d = governor.check(model=ref, user="u-1", input="a", caller="g")  # the version is cached, its status is not
    assert not d.compliant and "RETIRED" in d.violations[0].reason


def test_model_references(governor: UsageGovernor, world: UsageWorld) -> None:
    mid = world.ids["product-recommender"]
    for ref in (mid, "product-recommender", "product-recommender:2.1.0", " product-recommender "):
        assert governor.check(model=ref, user="u-1", input="x", caller="g").model_id == mid
    # a bare name means its deployed version, even when a newer one is only approved
    register(world.store, "medium_product_recommender.yaml", "APPROVED", version="3.0.0")
    assert governor.check(model="product-recommender", user="u-1", input="x", caller="g").model_id == mid
    with pytest.raises(ModelNotFoundError):
        governor.check(model="no-such-model", user="u-1", input="x", caller="g")


# ----------------------------------------------------------------------------- content filter


def test_content_filter_on_input_names_the_category_only(governor: UsageGovernor, world: UsageWorld) -> None:
    text = "I will kill you tomorrow"
    d = governor.check(model="product-recommender", user="u-1", input=text, caller="g")
    assert not d.compliant and ids(d.violations) == ["content_safety"]
    assert "violence" in d.violations[0].reason and "kill" not in d.violations[0].reason
    ok = governor.check(model="product-recommender", user="u-1", input="kill the process on port 80", caller="g")
    assert ok.compliant, ok.violations
    assert "kill" not in json.dumps([e.to_dict() for e in world.store.audit.query(limit=10_000).events])


def test_content_filter_on_output(governor: UsageGovernor) -> None:
    d = governor.check(model="product-recommender", user="u-1", input="write a review", caller="g")
    c = governor.complete(d.decision_id, output="I will kill you, you idiot", caller="g")
    assert not c.compliant and ids(c.violations) == ["content_safety"]
    d2 = governor.check(model="product-recommender", user="u-1", input="write a review", caller="g")
    assert governor.complete(d2.decision_id, output="Shoot me an email about the lamp.", caller="g").compliant


# ----------------------------------------------------------------------------- PII


def test_sensitive_data_refused_other_pii_warned_and_never_stored(governor: UsageGovernor, world: UsageWorld) -> None:
    refused = governor.check(model="product-recommender", user="u-1", input=f"my card is {CARD}", caller="g")
    assert not refused.compliant and ids(refused.violations) == ["no_pii_retention"]
    assert "payment_card" in refused.violations[0].reason and CARD not in refused.violations[0].reason
    warned = governor.check(model="product-recommender", user="u-1", input=f"mail me at {EMAIL}", caller="g")
    assert warned.compliant and "no_pii_retention" in ids(warned.warnings)
    assert rows(world, usage_payloads) == []  # PII: never kept, even under a retention policy
    decision = next(r for r in rows(world, usage_decisions) if r["id"] == warned.decision_id)
    assert decision["pii_kinds"] == "email" and len(decision["input_sha256"]) == 64
    dump = json.dumps([e.to_dict() for e in world.store.audit.query(limit=10_000).events])
    assert EMAIL not in dump and CARD not in dump and "4111" not in dump


def test_payload_kept_only_without_pii_where_retention_allows(governor: UsageGovernor, world: UsageWorld) -> None:
    kept = governor.check(model="product-recommender", user="u-1", input="Suggest a desk lamp", caller="g")
    governor.complete(kept.decision_id, output="The Arco lamp.", caller="g")
    other = governor.check(model="clinical-triage", user="clinician-7", input="triage notes", caller="g")
    assert other.compliant
    stored = rows(world, usage_payloads)
    assert {(r["decision_id"], r["kind"], r["text"]) for r in stored} == {
        (kept.decision_id, "input", "Suggest a desk lamp"),
        (kept.decision_id, "output", "The Arco lamp."),
    }
    for r in stored:
        expires = r["expires_at"].replace(tzinfo=UTC) if r["expires_at"].tzinfo is None else r["expires_at"]
        stored_at = r["stored_at"].replace(tzinfo=UTC) if r["stored_at"].tzinfo is None else r["stored_at"]
        assert expires - stored_at == timedelta(days=30)


def test_end_user_id_that_is_personal_data_is_stored_hashed(governor: UsageGovernor, world: UsageWorld) -> None:
    d = governor.check(model="product-recommender", user=EMAIL, input="hello", caller="g")
    assert d.compliant
    (row,) = [r for r in rows(world, usage_decisions) if r["id"] == d.decision_id]
    assert row["end_user"].startswith(HASHED_USER_PREFIX) and EMAIL not in row["end_user"]
    assert all(EMAIL not in r["end_user"] for r in rows(world, usage_quota))
    # the summary finds the user by the id the gateway knows
    assert governor.summary(user=EMAIL)["total"]["requests"] == 1


# ----------------------------------------------------------------------------- quotas


def test_quota_runs_out_exactly_and_refusals_consume_nothing(governor: UsageGovernor, world: UsageWorld) -> None:
    for i in range(5):
        d = governor.check(model="credit-scorer", user="officer-2", input="score", caller="g")
        assert d.compliant and d.quota["hour"].remaining == 4 - i
    out = governor.check(model="credit-scorer", user="officer-2", input="score", caller="g")
    assert not out.compliant and ids(out.violations) == ["credit_scorer_quota"]
    assert out.quota["hour"].remaining == 0
    # another user has their own quota; a request refused by content consumes none
    assert governor.check(model="credit-scorer", user="officer-1", input="score", caller="g").compliant
    governor.check(model="credit-scorer", user="officer-1", input="I will kill you", caller="g")
    counts = {(r["policy_id"], r["end_user"], r["period"]): r["count"] for r in rows(world, usage_quota)}
    assert counts[("credit_scorer_quota", "officer-2", "hour")] == 5
    assert counts[("standard_quota", "officer-2", "hour")] == 5  # the refused 6th took its increment back
    assert counts[("credit_scorer_quota", "officer-1", "hour")] == 1


def test_policy_file_edit_takes_effect_without_restart(governor: UsageGovernor, world: UsageWorld) -> None:
    first = governor.check(model="product-recommender", user="u-9", input="a", caller="g")
    text = world.policies.read_text().replace("requests_per_hour: 1000", "requests_per_hour: 1")
    world.policies.write_text(text)
    second = governor.check(model="product-recommender", user="u-9", input="a", caller="g")
    assert not second.compliant and ids(second.violations) == ["standard_quota"]
    assert first.policy_sha256 != second.policy_sha256
    (ev,) = [e for e in events(world, EVENT_USAGE_DENIED) if e.details["decision_id"] == second.decision_id]
    assert ev.details["policy_sha256"] == second.policy_sha256


# ----------------------------------------------------------------------------- audit and completion


def test_one_event_per_check_and_per_inference(governor: UsageGovernor, world: UsageWorld) -> None:
    ok = governor.check(model="product-recommender", user="u-1", input="hello", caller="gw", metadata={"app": "shop"})
    governor.check(model="credit-scorer", user="u-1", input="hello", caller="gw")
    c = governor.complete(ok.decision_id, output="hi there", caller="gw", metadata={"model_latency_ms": 12.5})
    assert c.compliant
    (allowed,) = events(world, EVENT_USAGE_ALLOWED)
    (denied,) = events(world, EVENT_USAGE_DENIED)
    (inference,) = events(world, "inference")
    assert allowed.actor == "gw" and allowed.details["decision_id"] == ok.decision_id
    assert allowed.details["metadata"] == {"app": "shop"}
    assert denied.details["violated"] == ["access_control"]
    import hashlib

    assert inference.details["input_sha256"] == hashlib.sha256(b"hello").hexdigest()
    assert inference.details["output_sha256"] == hashlib.sha256(b"hi there").hexdigest()
    assert inference.details["metadata"] == {"model_latency_ms": 12.5}
    assert inference.details["latency_ms"] >= 0
    assert world.store.audit.verify().ok


def test_completion_refusals(governor: UsageGovernor) -> None:
    d = governor.check(model="product-recommender", user="u-1", input="hello", caller="g")
    governor.complete(d.decision_id, output="ok", caller="g")
    with pytest.raises(DecisionCompletedError):
        governor.complete(d.decision_id, output="ok", caller="g")
    with pytest.raises(DecisionNotFoundError):
        governor.complete("0" * 32, output="ok", caller="g")
    refused = governor.check(model="credit-scorer", user="u-1", input="hello", caller="g")
    with pytest.raises(DecisionCompletedError) as err:
        governor.complete(refused.decision_id, output="ok", caller="g")
    assert str(err.value) == ERR_DECISION_REFUSED.format(id=refused.decision_id)


def test_concurrent_completions_record_one_inference(governor: UsageGovernor, world: UsageWorld) -> None:
    d = governor.check(model="product-recommender", user="u-1", input="hello", caller="g")
    outcomes: list[str] = []

    def finish() -> None:
        try:
            governor.complete(d.decision_id, output="ok", caller="g")
            outcomes.append("ok")
        except DecisionCompletedError:
            outcomes.append("409")

    threads = [threading.Thread(target=finish) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["409"] * 7 + ["ok"]
    assert len(events(world, "inference")) == 1


def test_too_large_input_and_output(governor: UsageGovernor, world: UsageWorld) -> None:
    with pytest.raises(PayloadTooLargeError):
        governor.check(model="product-recommender", user="u-1", input="x" * 65_537, caller="g")
    d = governor.check(model="product-recommender", user="u-1", input="x" * 65_536, caller="g")
    with pytest.raises(PayloadTooLargeError):
        governor.complete(d.decision_id, output="y" * 262_145, caller="g")
    assert len(rows(world, usage_decisions)) == 1


def test_empty_user_refused(governor: UsageGovernor) -> None:
    with pytest.raises(ValueError):
        governor.check(model="product-recommender", user="  ", input="x", caller="g")


def test_group_commit_batches_concurrent_checks(governor: UsageGovernor, world: UsageWorld) -> None:
    from governance.usage.writer import committer_for

    committer = committer_for(world.store.engine)
    before_batches, before_jobs = committer.batches, committer.jobs
    results = []

    def client(k: int) -> None:
        for _ in range(25):
            results.append(governor.check(model="product-recommender", user=f"c-{k}", input="hi", caller="g"))

    threads = [threading.Thread(target=client, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 200 and all(r.compliant for r in results)
    assert committer.jobs - before_jobs == 200
    assert committer.batches - before_batches < 200  # some transactions carried several decisions
    assert len(events(world, EVENT_USAGE_ALLOWED)) == 200
    assert world.store.audit.verify().ok


# ----------------------------------------------------------------------------- fail closed


def test_invalid_policy_file_fails_closed(governor: UsageGovernor, world: UsageWorld) -> None:
    world.policies.write_text(world.policies.read_text() + "\nsurprise: true\n")
    d = governor.check(model="product-recommender", user="u-1", input="hello", caller="g")
    assert not d.compliant and d.failed_closed and d.decision_id is None
    (v,) = d.violations
    assert v.policy_id == FAIL_CLOSED_ID and v.type == FAIL_CLOSED_TYPE
    assert v.reason.startswith(REASON_POLICIES.split("{")[0]) and "surprise" in v.reason
    assert rows(world, usage_decisions) == []


def test_unreachable_store_fails_closed(world: UsageWorld) -> None:
    from governance.store import make_engine

    engine = make_engine("postgresql://nobody:secret@127.0.0.1:9/governance", connect_args={"connect_timeout": 2})
    d = UsageGovernor(engine, policies_path=world.policies).check(
        model="product-recommender", user="u-1", input="hello", caller="g"
    )
    assert not d.compliant and d.failed_closed
    assert d.violations[0].reason.startswith(REASON_STORE.split("{")[0]) and "secret" not in d.violations[0].reason


def test_store_failing_at_commit_fails_closed(governor: UsageGovernor, world: UsageWorld, monkeypatch) -> None:
    from governance.usage import writer

    def broken(self, batch):
        raise ConnectionError("database went away")

    monkeypatch.setattr(writer.GroupCommitter, "_run", broken)
    d = governor.check(model="product-recommender", user="u-1", input="hello", caller="g")
    assert not d.compliant and d.failed_closed and "database went away" in d.violations[0].reason
    monkeypatch.undo()
    with world.store.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(usage_quota)).scalar_one() == 0


# ----------------------------------------------------------------------------- summary


def test_summary_counts(governor: UsageGovernor, world: UsageWorld) -> None:
    governor.check(model="product-recommender", user="u-1", input="a", caller="g")
    governor.check(model="product-recommender", user="u-2", input="a", caller="g")
    governor.check(model="credit-scorer", user="u-1", input="a", caller="g")
    governor.check(model="product-recommender", user="u-1", input="I will kill you", caller="g")
    s = governor.summary()
    assert s["total"] == {
        "requests": 4,
        "compliant": 2,
        "refused": 2,
        "refused_by_policy": {"access_control": 1, "content_safety": 1},
    }
    by_model = {m["model"]: m["requests"] for m in s["by_model"]}
    assert by_model == {"product-recommender:2.1.0": 3, "credit-scorer:1.2.0": 1}
    assert [u["user"] for u in s["by_user"]][:1] == ["u-1"]
    assert s["content_filter_hits"] == {"violence": 1}
    today = datetime.now(UTC).date().isoformat()
    assert [d["day"] for d in s["by_day"]] == [today]
    assert governor.summary(model="credit-scorer")["total"]["requests"] == 1
    assert governor.summary(since="2000-01-01", until="2000-01-02")["total"]["requests"] == 0
    with pytest.raises(ValueError):
        governor.summary(since="yesterday")
