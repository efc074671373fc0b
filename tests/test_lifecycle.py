"""Lifecycle: the full status x status matrix, pure and through the store (one audit event per
legal change, nothing written for an illegal one), on SQLite and PostgreSQL."""

from __future__ import annotations

import itertools
from collections import deque
from pathlib import Path

import pytest

from governance.cards import load_card
from governance.errors import GovernanceError, IllegalTransitionError, ModelNotFoundError
from governance.lifecycle import (
    ERR_ILLEGAL_TRANSITION,
    ERR_UNKNOWN_STATUS,
    TRANSITIONS,
    ModelStatus,
    check_transition,
    parse_status,
)
from governance.store.repository import EVENT_STATUS
from tests.support.fragments import assert_mentions

S = ModelStatus
PAIRS = list(itertools.product(ModelStatus, ModelStatus))
LEGAL = {
    (S.DEVELOPMENT, S.REVIEW_PENDING),
    (S.DEVELOPMENT, S.RETIRED),
    (S.REVIEW_PENDING, S.APPROVED),
    (S.REVIEW_PENDING, S.DEVELOPMENT),
    (S.APPROVED, S.DEPLOYED),
    (S.APPROVED, S.DEVELOPMENT),
    (S.APPROVED, S.RETIRED),
    (S.DEPLOYED, S.DEPRECATED),
    (S.DEPRECATED, S.DEPLOYED),
    (S.DEPRECATED, S.RETIRED),
}
"""The lifecycle as the design states it, written out independently of TRANSITIONS."""


def test_transition_table_is_the_designed_one() -> None:
    assert {(a, b) for a, targets in TRANSITIONS.items() for b in targets} == LEGAL
    assert set(TRANSITIONS) == set(ModelStatus)


@pytest.mark.parametrize(("current", "target"), PAIRS, ids=[f"{a.value}->{b.value}" for a, b in PAIRS])
def test_check_transition_matrix(current: ModelStatus, target: ModelStatus) -> None:
    if (current, target) in LEGAL:
        check_transition(model_id="m-1", current=current, target=target)
        return
    with pytest.raises(IllegalTransitionError) as exc:
        check_transition(model_id="m-1", current=current, target=target)
    message = str(exc.value)
    assert_mentions(message, ERR_ILLEGAL_TRANSITION)
    assert f"from {current.value} to {target.value}" in message


def test_parse_status() -> None:
    assert parse_status(" deployed ") is S.DEPLOYED
    assert parse_status(S.RETIRED) is S.RETIRED
    with pytest.raises(IllegalTransitionError) as exc:
        parse_status("LIVE")
    assert_mentions(str(exc.value), ERR_UNKNOWN_STATUS)


def _path_to(status: ModelStatus) -> list[ModelStatus]:
    """Shortest legal path from DEVELOPMENT (breadth-first over TRANSITIONS)."""
    queue, seen = deque([[S.DEVELOPMENT]]), {S.DEVELOPMENT}
    while queue:
        path = queue.popleft()
        if path[-1] == status:
            return path[1:]
        for nxt in sorted(TRANSITIONS[path[-1]]):
            if nxt not in seen:
                seen.add(nxt)
                queue.append([*path, nxt])
    raise AssertionError(f"{status} unreachable")


def test_store_transition_matrix(store, demo_card_path: Path) -> None:
    card = load_card(demo_card_path)
    for n, (current, target) in enumerate(PAIRS):
        model = store.register(card.model_copy(update={"version": f"1.{n}.0"}), owner="owner").model
        for step in _path_to(current):
            store.transition(model.id, step, actor="driver")
        before = store.audit.head()["last_id"]
        if current == target:  # a rerun asking for the status it has: no change, no event
            assert store.transition(model.id, target, actor="rerun").status == current
            assert store.audit.head()["last_id"] == before
        elif (current, target) in LEGAL:
            after = store.transition(model.id, target, actor="actor", reason="matrix")
            assert after.status == target and after.status_reason == "matrix"
            events = store.audit.query(model_id=model.id, order="desc", limit=1).events
            assert store.audit.head()["last_id"] == before + 1
            assert (events[0].event_type, events[0].actor, events[0].details["from"], events[0].details["to"]) == (
                EVENT_STATUS,
                "actor",
                current.value,
                target.value,
            )
        else:
            with pytest.raises(IllegalTransitionError) as exc:
                store.transition(model.id, target, actor="actor", reason="matrix")
            assert_mentions(str(exc.value), ERR_ILLEGAL_TRANSITION)
            assert store.audit.head()["last_id"] == before
            assert store.get(model.id).status == current
    assert store.audit.verify().ok


def test_approval_fields_follow_the_status(store, demo_card_path: Path) -> None:
    m = store.register(load_card(demo_card_path), owner="owner").model
    store.transition(m.id, "REVIEW_PENDING", actor="owner")
    approved = store.transition(m.id, "APPROVED", actor="airflow", approved_by=["ann", "ben"])
    assert approved.approved_by == ["ann", "ben"] and approved.approved_at is not None
    ev = store.audit.query(model_id=m.id, order="desc", limit=1).events[0]
    assert ev.details["approved_by"] == ["ann", "ben"]
    back = store.transition(m.id, "DEVELOPMENT", actor="ann", reason="found a leak", details={"step": "security"})
    assert back.approved_by is None and back.approved_at is None and back.status_reason == "found a leak"
    ev = store.audit.query(model_id=m.id, order="desc", limit=1).events[0]
    assert ev.details == {"from": "APPROVED", "to": "DEVELOPMENT", "reason": "found a leak", "step": "security"}


def test_transition_refusals_write_nothing(store, demo_card_path: Path) -> None:
    m = store.register(load_card(demo_card_path), owner="owner").model
    with pytest.raises(ModelNotFoundError):
        store.transition("m-000000000000", "REVIEW_PENDING", actor="x")
    with pytest.raises(GovernanceError):
        store.transition(m.id, "REVIEW_PENDING", actor="")
    with pytest.raises(IllegalTransitionError):
        store.transition(m.id, "LIVE", actor="x")
    assert store.audit.head()["last_id"] == 1 and store.get(m.id).status == S.DEVELOPMENT
