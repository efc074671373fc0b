"""A small client for Airflow's REST API (``/api/v2``), as a model owner or reviewer uses it.

Used by ``governance submit / reviews / review`` and by the end-to-end tests. It logs in
with a user name and password (``POST /auth/token``) and keeps the token in memory only.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from typing import Any

from governance.errors import GovernanceError

SUBMISSION_DAG = "model_submission"
TERMINAL_RUN_STATES = frozenset({"success", "failed"})

ERR_UNREACHABLE = "cannot reach Airflow at {url}: {reason} (is `make run` running? set GOVERNANCE_AIRFLOW_URL)"
ERR_LOGIN = "Airflow refused the login of user {user!r} at {url} (HTTP {status}); check the user name and password"
ERR_HTTP = "{method} {path} → HTTP {status}: {detail}"
ERR_NO_REVIEW = "no pending review of model {model_id} is assigned to {user}"
ERR_TIMEOUT = "gave up waiting after {seconds:.0f} s: {what}"


def _detail(body: str) -> str:
    """The ``detail`` of a FastAPI error body, or the body itself when it is not that JSON."""
    try:
        return str(json.loads(body).get("detail", body))
    except (ValueError, AttributeError):
        return body


class AirflowAPIError(GovernanceError):
    def __init__(self, message: str, *, status: int, detail: str) -> None:
        super().__init__(message)
        self.status = status
        self.detail = detail


@dataclass
class AirflowClient:
    base_url: str
    username: str
    password: str = field(repr=False)
    timeout: float = 30.0
    _token: str | None = field(default=None, repr=False)

    # ------------------------------------------------------------------ HTTP

    def _request(self, method: str, path: str, body: Any = None, *, auth: bool = True) -> Any:
        """One API call; an HTTP 500/503 (on the SQLite embedded default usually "database is
        locked", rolled back by the server) is retried twice after a short pause."""
        for attempt in range(3):
            try:
                return self._request_once(method, path, body, auth=auth)
            except AirflowAPIError as exc:
                if exc.status not in (500, 503) or attempt == 2:
                    raise
                time.sleep(1.0 + attempt)
        raise AssertionError("unreachable")

    def _request_once(self, method: str, path: str, body: Any = None, *, auth: bool = True) -> Any:
        url = self.base_url.rstrip("/") + path
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if auth:
            headers["Authorization"] = f"Bearer {self.token()}"
        req = urllib.request.Request(url, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                raw = resp.read()
                return json.loads(raw) if raw else None
        except urllib.error.HTTPError as exc:
            detail = _detail(exc.read().decode(errors="replace"))
            raise AirflowAPIError(
                ERR_HTTP.format(method=method, path=path, status=exc.code, detail=detail[:2000]),
                status=exc.code,
                detail=detail,
            ) from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise GovernanceError(ERR_UNREACHABLE.format(url=self.base_url, reason=reason)) from None

    def token(self) -> str:
        if self._token is None:
            try:
                resp = self._request(
                    "POST", "/auth/token", {"username": self.username, "password": self.password}, auth=False
                )
            except AirflowAPIError as exc:
                raise GovernanceError(
                    ERR_LOGIN.format(user=self.username, url=self.base_url, status=exc.status)
                ) from None
            self._token = str(resp["access_token"])
        return self._token

    def get(self, path: str, **query: Any) -> Any:
        q = {k: v for k, v in query.items() if v is not None}
        return self._request("GET", path + (f"?{urllib.parse.urlencode(q, doseq=True)}" if q else ""))

    # ------------------------------------------------------------------ runs

    def trigger(self, dag_id: str, conf: dict[str, Any], *, run_id: str | None = None) -> dict[str, Any]:
        """Start a run; give ``run_id`` when starting many at once (Airflow's default ids are
        timestamps, and two runs started in the same microsecond collide)."""
        body: dict[str, Any] = {"logical_date": None, "conf": conf}
        if run_id is not None:
            body["dag_run_id"] = run_id
        return self._request("POST", f"/api/v2/dags/{dag_id}/dagRuns", body)

    def submit(self, card: dict[str, Any]) -> dict[str, Any]:
        """Trigger ``model_submission`` with the card as conf; the owner is this client's user."""
        return self.trigger(SUBMISSION_DAG, card)

    def dag_run(self, dag_id: str, run_id: str) -> dict[str, Any]:
        return self.get(f"/api/v2/dags/{dag_id}/dagRuns/{urllib.parse.quote(run_id, safe='')}")

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        return self.get(f"/api/v2/dags/{dag_id}/dagRuns/{urllib.parse.quote(run_id, safe='')}/taskInstances")[
            "task_instances"
        ]

    def xcom(self, dag_id: str, run_id: str, task_id: str) -> Any:
        run = urllib.parse.quote(run_id, safe="")
        entry = self.get(f"/api/v2/dags/{dag_id}/dagRuns/{run}/taskInstances/{task_id}/xcomEntries/return_value")
        return entry.get("value")

    def wait_run(self, dag_id: str, run_id: str, *, timeout: float = 300, poll: float = 1.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            run = self.dag_run(dag_id, run_id)
            if run["state"] in TERMINAL_RUN_STATES:
                return run
            if time.monotonic() > deadline:
                raise GovernanceError(
                    ERR_TIMEOUT.format(seconds=timeout, what=f"{dag_id} run {run_id} is {run['state']}")
                )
            time.sleep(poll)

    def approval_runs(self, model_id: str) -> list[dict[str, Any]]:
        """Approval runs of a model (their run ids start with ``approval__<model_id>__``)."""
        runs = []
        for tier in ("low", "medium", "high", "critical"):
            data = self.get(f"/api/v2/dags/model_approval_{tier}/dagRuns", limit=100, order_by="-run_after")
            runs += [r for r in data["dag_runs"] if r["dag_run_id"].startswith(f"approval__{model_id}__")]
        return runs

    # ------------------------------------------------------------------ reviews

    def pending_reviews(self, *, mine: bool = True) -> list[dict[str, Any]]:
        """Review requests waiting for an answer (only those assigned to this user if ``mine``)."""
        data = self.get("/api/v2/dags/~/dagRuns/~/hitlDetails", response_received="false", limit=1000)
        out = []
        conf_model: dict[tuple[str, str], str | None] = {}
        for h in data["hitl_details"]:
            ti = h["task_instance"]
            assigned = [u["id"] for u in h.get("assigned_users") or []]
            if mine and assigned and self.username not in assigned:
                continue
            run_id = ti["dag_run_id"]
            model_id = run_id.split("__")[1] if run_id.startswith("approval__") else None
            if model_id is None and ti["dag_id"].startswith("model_approval_"):
                # an approval run started by hand: the model id is in the run's conf
                key = (ti["dag_id"], run_id)
                if key not in conf_model:
                    conf_model[key] = (self.dag_run(ti["dag_id"], run_id).get("conf") or {}).get("model_id")
                model_id = conf_model[key]
            out.append(
                {
                    "dag_id": ti["dag_id"],
                    "run_id": run_id,
                    "task_id": ti["task_id"],
                    "map_index": ti.get("map_index", -1),
                    "state": ti.get("state"),
                    "model_id": model_id,
                    "subject": h["subject"],
                    "body": h.get("body"),
                    "options": h["options"],
                    "assigned_users": assigned,
                }
            )
        return out

    def answer(
        self, *, dag_id: str, run_id: str, task_id: str, option: str, comment: str = "", map_index: int = -1
    ) -> dict[str, Any]:
        run = urllib.parse.quote(run_id, safe="")
        return self._request(
            "PATCH",
            f"/api/v2/dags/{dag_id}/dagRuns/{run}/taskInstances/{task_id}/{map_index}/hitlDetails",
            {"chosen_options": [option], "params_input": {"comment": comment}},
        )

    def review(self, model_id: str, *, approve: bool, comment: str = "") -> dict[str, Any]:
        """Answer this user's pending review of ``model_id`` (positive or negative option)."""
        for req in self.pending_reviews():
            if req["model_id"] == model_id:
                option = req["options"][0] if approve else req["options"][-1]
                self.answer(
                    dag_id=req["dag_id"], run_id=req["run_id"], task_id=req["task_id"], option=option, comment=comment
                )
                return {**req, "answered": option}
        raise GovernanceError(ERR_NO_REVIEW.format(model_id=model_id, user=self.username))
