"""Records reviewers' answers where they are given: in Airflow's API server.

An ASGI middleware (installed by ``plugins/governance_plugin.py``) watches successful
``PATCH …/hitlDetails`` responses for the approval DAGs and writes the answer — who, which
option, the comment — to the governance database right away. The review task records the
same answer again when it resumes (idempotent). So a decision survives even when Airflow
fails the parked task afterwards (the fast-answer race of Airflow 3.3): the retried task finds
the answer on record and does not ask again.
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


def model_id_from_run(run_id: str) -> str | None:
    """Approval runs started by ``model_submission`` are named ``approval__<model_id>__<run>``."""
    parts = run_id.split("__")
    return parts[1] if len(parts) >= 3 and parts[0] == "approval" else None


def record_patch(*, dag_id: str, run_id: str, task_id: str, response: dict[str, Any]) -> bool:
    """Store the answer a successful PATCH returned; returns False if it is not ours to record."""
    from governance import approval

    model_id = model_id_from_run(run_id) or _model_id_from_conf(dag_id, run_id)
    if model_id is None:
        return False
    step, definition = approval.step_for_task(task_id)
    user = response.get("responded_by") or {}
    approval.record_answer(
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
        match = None
        if scope.get("type") == "http" and scope.get("method") == "PATCH":
            match = HITL_PATCH.match(scope.get("path", ""))
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
