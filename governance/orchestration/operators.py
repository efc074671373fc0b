"""The review operator: a human-in-the-loop task whose reviewers and text come from the registry.

It extends the standard provider's ``HITLOperator``: the request shows up in the Airflow UI
under Required Actions and can be answered through the REST API. What it adds:

- assignees are computed when the task runs: the step's reviewer group minus the model's
  owner (and, for multi-approver steps, minus whoever already approved);
- the subject and Markdown body are built from the registry (findings, compliance results);
- the answer (or a timeout) is recorded in the governance DB with an audit event, and a
  negative answer or a timeout skips the rest of the workflow;
- an answer is never lost: the plugin records it in the governance DB when Airflow accepts
  it (``answer_capture``), and if Airflow then fails the parked task (the fast-answer race
  of Airflow 3.3, see README) every later execution of the
  task (a retry, or a stale workload Airflow reruns) uses that answer instead of asking again.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow.providers.standard.operators.hitl import HITLOperator
from airflow.sdk import BaseNotifier, Param
from airflow.sdk.definitions.param import ParamsDict
from airflow.sdk.exceptions import AirflowSkipException

from governance.orchestration.notifiers import LogNotifier


class GovernanceReviewOperator(HITLOperator):
    """One human review step of a model approval workflow."""

    def __init__(
        self,
        *,
        step: str,
        kind: str,
        group: str,
        tier: str,
        positive: str,
        negative: str,
        timeout_notifiers: Sequence[BaseNotifier] | None = None,
        **kwargs: Any,
    ) -> None:
        params = kwargs.pop("params", None) or {}
        params = ParamsDict(params) if not isinstance(params, ParamsDict) else params
        params["comment"] = Param(
            "", type="string", title="Comment", description="Why (recorded in the audit trail)", source="task"
        )
        super().__init__(
            subject=f"{step} (prepared when the task starts)",
            options=[positive, negative],
            defaults=[negative],  # applied by the scheduler on timeout, with no responder
            params=params,
            **kwargs,
        )
        self.step = step
        self.kind = kind
        self.group = group
        self.tier = tier
        self.timeout_notifiers = list(timeout_notifiers) if timeout_notifiers else [LogNotifier()]

    def execute(self, context: Any) -> Any:
        from governance.tasks import model_approval

        model_id, run_id = context["params"]["model_id"], context["run_id"]
        # Any execution of this task, whatever its try number, first looks for an answer already
        # on record: after the fast-answer race Airflow may rerun a stale workload as try 1.
        prior = model_approval.recorded_answer(model_id=model_id, run_id=run_id, task_id=self.task_id)
        if prior is not None:
            self.log.info(
                "%s already answered %s (recorded when the answer was given); not asking again",
                prior["actor"],
                prior["decision"],
            )
            positive, negative = self.options[0], self.options[-1]
            return self.execute_complete(
                context,
                event={
                    "chosen_options": [positive if prior["decision"] == "approve" else negative],
                    "params_input": {"comment": prior["comment"] or ""},
                    "responded_at": prior["at"],
                    "responded_by_user": {"id": prior["actor"], "name": prior["actor"]},
                },
            )
        req = model_approval.review_request(
            model_id=model_id,
            run_id=run_id,
            tier=self.tier,
            step=self.step,
            task_id=self.task_id,
            group=self.group,
            kind=self.kind,
        )
        self.subject = req["subject"]
        self.body = req["body"]
        self.assigned_users = [{"id": u, "name": u} for u in req["assigned_users"]]
        self.log.info("Review requested from %s", ", ".join(req["assigned_users"]))
        return super().execute(context)

    def execute_complete(self, context: Any, event: dict[str, Any]) -> Any:
        from governance.tasks import model_approval

        # A timeout resumes here too: with the request's defaults (the negative answer, always
        # set) and no responder, so the answer is recorded as a timeout.
        result = dict(super().execute_complete(context=context, event=event))
        user = result.get("responded_by_user")
        outcome = model_approval.record_answer(
            model_id=context["params"]["model_id"],
            run_id=context["run_id"],
            step=self.step,
            task_id=self.task_id,
            kind=self.kind,
            chosen_options=list(result.get("chosen_options") or []),
            comment=(result.get("params_input") or {}).get("comment") or None,
            responder=user["id"] if user else None,
        )
        if outcome["timed_out"]:
            for notifier in self.timeout_notifiers:
                if hasattr(notifier, "message"):
                    notifier.message = (
                        f"review '{self.task_id}' of model {context['params']['model_id']} timed out "
                        f"unanswered; the model goes back to DEVELOPMENT"
                    )
                notifier(context)
        if not outcome["passed"]:
            raise AirflowSkipException("; ".join(outcome["reasons"]))
        responded_at: Any = result.get("responded_at")
        return {
            "chosen_options": result.get("chosen_options"),
            "params_input": result.get("params_input"),
            "responded_at": responded_at.isoformat() if hasattr(responded_at, "isoformat") else responded_at,
            "responded_by_user": user,
        }
