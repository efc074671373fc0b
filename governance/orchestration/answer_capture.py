"""Records reviewers' answers, and review tasks completed by hand, where they happen: in
Airflow's API server.

An ASGI middleware (installed by ``plugins/governance_plugin.py``) watches successful
``PATCH …/hitlDetails`` responses for the approval DAGs and writes the answer — who, which
option, the comment — to the governance database right away. The review task records the
same answer again when it resumes (idempotent). So a decision survives even when Airflow
fails the parked task afterwards (the fast-answer race of Airflow 3.3): the retried task finds
the answer on record and does not ask again.

It also watches successful task-instance state changes (``PATCH …/taskInstances/{task}``, the
UI's "Mark as success / failed", and the bulk form) of review tasks: a review that a user
completes by hand has no reviewer's answer, so the governance DB records who set which state
(one evidence row and audit event, the user as actor), and ``record_decision`` names it as the
reason instead of a missing approver count.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

log = logging.getLogger(__name__)

HITL_PATCH = re.compile(
    r"^/api/v2/dags/(?P<dag_id>model_approval_[a-z]+)/dagRuns/(?P<run_id>[^/]+)"
    r"/taskInstances/(?P<task_id>[^/]+)/(?P<map_index>-?\d+)/hitlDetails$"
)
STATE_PATCH = re.compile(
    r"^/api/v2/dags/(?P<dag_id>model_approval_[a-z]+)/dagRuns/(?P<run_id>[^/]+)"
    r"/taskInstances(?:/(?P<task_id>[^/]+)(?:/(?P<map_index>-?\d+))?)?$"
)
"""The single (``…/{task_id}[/{map_index}]``) and bulk (``…/taskInstances``) state routes; the
``…/dry_run`` previews do not match."""
HAND_STATES = frozenset({"success", "failed", "skipped"})


def model_id_from_run(run_id: str) -> str | None:
    """Approval runs started by ``model_submission`` are named ``approval__<model_id>__<run>``."""
    parts = run_id.split("__")
    return parts[1] if len(parts) >= 3 and parts[0] == "approval" else None


def record_patch(*, dag_id: str, run_id: str, task_id: str, response: dict[str, Any]) -> bool:
    """Store the answer a successful PATCH returned; returns False if it is not ours to record."""
    from governance.tasks import model_approval

    model_id = model_id_from_run(run_id) or _model_id_from_conf(dag_id, run_id)
    if model_id is None:
        return False
    step, definition = model_approval.step_for_task(task_id)
    user = response.get("responded_by") or {}
    model_approval.record_answer(
        model_id=model_id,
        run_id=run_id,
        step=step,
        task_id=task_id,
        kind=definition.kind.value,
        chosen_options=list(response.get("chosen_options") or []),
        comment=(response.get("params_input") or {}).get("comment") or None,
        responder=user.get("id"),
    )
    return True


def state_changes(body: dict[str, Any], task_id: str | None) -> list[tuple[str, str]]:
    """(task_id, new_state) pairs of a state PATCH body: ``{"new_state": …}`` on a single task's
    route, ``{"actions": [{"action": "update", "entities": [{"task_id", "new_state"}, …]}]}``
    on the bulk route."""
    if task_id is not None:
        state = body.get("new_state")
        return [(task_id, str(state))] if state else []
    changes = []
    for action in body.get("actions") or []:
        if action.get("action") != "update":
            continue
        for entity in action.get("entities") or []:
            if isinstance(entity, dict) and entity.get("task_id") and entity.get("new_state"):
                changes.append((str(entity["task_id"]), str(entity["new_state"])))
    return changes


def record_state_patch(*, dag_id: str, run_id: str, changes: list[tuple[str, str]], user: str) -> int:
    """Record each review task set to a final state by hand; returns how many were recorded."""
    from governance.errors import GovernanceError
    from governance.tasks import model_approval

    changes = [(t, s) for t, s in changes if s in HAND_STATES]
    if not changes:
        return 0
    model_id = model_id_from_run(run_id) or _model_id_from_conf(dag_id, run_id)
    if model_id is None:
        return 0
    recorded = 0
    for task_id, state in changes:
        try:
            model_approval.step_for_task(task_id)
        except GovernanceError:
            continue  # not a review task (automated steps, record_decision)
        recorded += model_approval.record_task_set_by_hand(
            model_id=model_id, run_id=run_id, task_id=task_id, state=state, user=user
        )
    return recorded


async def request_user(scope: dict[str, Any]) -> str | None:
    """The Airflow user of a request (bearer token, else the UI's ``_token`` cookie), or None."""
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.base_auth_manager import COOKIE_NAME_JWT_TOKEN

    from governance._util import request_token

    token = request_token(scope, cookie=COOKIE_NAME_JWT_TOKEN)
    if not token:
        return None
    try:
        return (await get_auth_manager().get_user_from_token(token)).get_name()
    except Exception:  # an invalid token: Airflow refused the request already
        return None


def _model_id_from_conf(dag_id: str, run_id: str) -> str | None:
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        conf = session.scalar(select(DagRun.conf).where(DagRun.dag_id == dag_id, DagRun.run_id == run_id))
    return (conf or {}).get("model_id")


class HITLAnswerCapture:
    """Pure ASGI middleware: passes every request through untouched, then records answers."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        match = state = None
        if scope.get("type") == "http" and scope.get("method") == "PATCH":
            match = HITL_PATCH.match(scope.get("path", ""))
            state = None if match else STATE_PATCH.match(scope.get("path", ""))
        if state is not None:
            await self._capture_state(state, scope, receive, send)
            return
        if match is None:
            await self.app(scope, receive, send)
            return
        status: dict[str, int] = {}
        chunks: list[bytes] = []

        async def capture(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status["code"] = int(message["status"])
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
            await send(message)

        await self.app(scope, receive, capture)
        if status.get("code") != 200:
            return
        from starlette.concurrency import run_in_threadpool

        try:
            response = json.loads(b"".join(chunks) or b"{}")
            await run_in_threadpool(
                record_patch,
                dag_id=match["dag_id"],
                run_id=match["run_id"],
                task_id=match["task_id"],
                response=response,
            )
        except Exception:
            log.exception("could not record the HITL answer to %s", scope.get("path"))

    async def _capture_state(self, match: re.Match[str], scope: dict[str, Any], receive: Any, send: Any) -> None:
        body: list[bytes] = []
        status: dict[str, int] = {}

        async def read() -> dict[str, Any]:
            message = await receive()
            if message["type"] == "http.request":
                body.append(message.get("body", b""))
            return message

        async def watch(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status["code"] = int(message["status"])
            await send(message)

        await self.app(scope, read, watch)
        if status.get("code") != 200:
            return
        from starlette.concurrency import run_in_threadpool

        try:
            changes = state_changes(json.loads(b"".join(body) or b"{}"), match["task_id"])
            if not any(s in HAND_STATES for _, s in changes):
                return
            user = await request_user(scope) or "unknown Airflow user"
            await run_in_threadpool(
                record_state_patch, dag_id=match["dag_id"], run_id=match["run_id"], changes=changes, user=user
            )
        except Exception:
            log.exception("could not record the state change of %s", scope.get("path"))
