"""The usage API: ``/v1/usage/check``, ``/v1/usage/{decision_id}/complete``, ``/v1/usage/summary``.

Called by model-serving gateways before and after each inference. The caller authenticates
with an Airflow token (bearer header or the UI's cookie) and must be in the group
``model-gateways`` of the groups file (or an Airflow admin). Bodies are validated strictly
(unknown keys refused); a refused body's error names the fields and never echoes their values,
since they may hold personal data.

Status codes: 200 an answer (``compliant`` true or false), 401 no or bad token, 403 caller not
in ``model-gateways``, 404 unknown model or decision, 409 decision completed already (or
refused), 413 input/output over the policy file's limit, 422 malformed body or query, 503 the
check could not be made (store unreachable, policy file invalid): refused, fail closed.
"""

import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request

from governance import config
from governance._util import load_when_changed
from governance.errors import (
    DecisionCompletedError,
    DecisionNotFoundError,
    GovernanceError,
    ModelNotFoundError,
    PayloadTooLargeError,
)

log = logging.getLogger(__name__)

GATEWAY_GROUP = "model-gateways"
ERR_NOT_GATEWAY = (
    "user {user!r} may not call the usage API: only members of the group {group!r} (groups file {path}) "
    "and Airflow admins may; use the gateway's service account, or ask an administrator to add this user"
)
ERR_GROUPS = "cannot read the groups file: {error}"
ERR_UNEXPECTED = "the usage check failed ({error}): request refused (fail closed)"
ERR_MALFORMED = "malformed request: {problems}. Expected {expected}"
EXPECTED_CHECK = '{"model": NAME[:VERSION] | MODEL_ID, "user": END_USER_ID, "input": TEXT, "metadata": {...}}'
EXPECTED_COMPLETE = '{"output": TEXT, "metadata": {...}}'
EXPECTED_SUMMARY = "query parameters model=NAME[:VERSION], user=ID, since=YYYY-MM-DD, until=YYYY-MM-DD"


class CheckBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: Annotated[str, Field(min_length=1, max_length=300, description="NAME, NAME:VERSION or a model id")]
    user: Annotated[str, Field(min_length=1, max_length=200, description="the end user's id in the caller's app")]
    input: Annotated[str, Field(description="the request text the model would receive")]
    metadata: dict[str, Any] = Field(default_factory=dict, description="numbers and short ids only are recorded")


class CompleteBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    output: Annotated[str, Field(description="the model's answer")]
    metadata: dict[str, Any] = Field(default_factory=dict, description="e.g. model_latency_ms")


def _gateway_members(path: Path) -> frozenset[str]:
    from governance.workflows import load_groups

    return frozenset(load_groups(path).groups.get(GATEWAY_GROUP, []))


def is_admin(user: Any) -> bool:
    """An Airflow admin: SimpleAuthManager's ``admin`` role, or a FAB ``Admin`` role."""
    role = getattr(user, "role", None)
    if isinstance(role, str) and role.lower() == "admin":
        return True
    roles = getattr(user, "roles", None) or []
    return any(getattr(r, "name", r) == "Admin" for r in roles)


def gateway_dependency(user_dependency: Callable[..., Awaitable[Any]] | None) -> Callable[..., Awaitable[str]]:
    """A dependency that answers the calling gateway's user name, or raises 403."""

    if user_dependency is None:

        async def _anonymous() -> str:
            return "anonymous"

        return _anonymous

    async def _caller(user: Annotated[Any, Depends(user_dependency)]) -> str:
        return gateway_name(user)

    return _caller


def gateway_name(user: Any) -> str:
    """The user's name when they may call the usage API (an admin, or a member of
    ``model-gateways``); 403 otherwise, 503 when the groups file cannot be read."""
    name = str(user.get_name())
    if is_admin(user):
        return name
    path = config.groups_file()
    try:
        members = load_when_changed(path, _gateway_members, kind="gateway-members")
    except (OSError, GovernanceError) as exc:
        raise HTTPException(status_code=503, detail=ERR_GROUPS.format(error=exc)) from None
    if name not in members:
        raise HTTPException(status_code=403, detail=ERR_NOT_GATEWAY.format(user=name, group=GATEWAY_GROUP, path=path))
    return name


def decision_answer(decision: Any) -> tuple[int, dict[str, Any]]:
    """Status and body of a check's answer: 200, or 503 when it failed closed."""
    if decision.failed_closed:
        return 503, {**decision.to_dict(), "detail": decision.violations[0].reason}
    return 200, decision.to_dict()


def _unexpected(exc: Exception, *, decision_id: str | None) -> JSONResponse:
    """503 with ``compliant: false`` for an error no route expects (a broken install, a bug),
    so that a gateway reading ``compliant`` refuses the request: fail closed. The log names the
    error class and first line only (never a request's text)."""
    from governance.usage.governor import short_error

    reason = ERR_UNEXPECTED.format(error=short_error(exc))
    log.error("usage route failed, request refused: %s", reason)
    return JSONResponse(
        status_code=503,
        content={"compliant": False, "decision_id": decision_id, "violations": [], "detail": reason},
    )


def usage_governor() -> Any:
    from governance.usage.governor import UsageGovernor

    return UsageGovernor.shared()


def usage_router(user_dependency: Callable[..., Awaitable[Any]] | None = None) -> APIRouter:
    router = APIRouter(prefix="/v1/usage", tags=["usage"])
    caller_dep = gateway_dependency(user_dependency)

    # Answers are JSONResponse objects, so that FastAPI does not validate them again in a
    # second trip to the thread pool (this is the hot path of every gateway).
    @router.post("/check", summary="May this end user make this request of this model now?", response_model=None)
    def check(body: CheckBody, caller: Annotated[str, Depends(caller_dep)]) -> Any:
        try:
            decision = usage_governor().check(
                model=body.model, user=body.user, input=body.input, caller=caller, metadata=body.metadata
            )
        except ModelNotFoundError as exc:
            raise HTTPException(status_code=404, detail=str(exc)) from None
        except PayloadTooLargeError as exc:
            raise HTTPException(status_code=413, detail=str(exc)) from None
        except ValueError as exc:
            raise HTTPException(status_code=422, detail=str(exc)) from None
        except Exception as exc:  # a broken install or a bug: refuse, never admit
            return _unexpected(exc, decision_id=None)
        status, content = decision_answer(decision)
        return JSONResponse(status_code=status, content=content)

    @router.post(
        "/{decision_id}/complete", summary="Check the model's output and record the inference", response_model=None
    )
    def complete(decision_id: str, body: CompleteBody, caller: Annotated[str, Depends(caller_dep)]) -> Any:
        try:
            done = usage_governor().complete(decision_id, output=body.output, caller=caller, metadata=body.metadata)
        except DecisionNotFoundError as exc:
            raise HTTPException(status_code=404, detail=str(exc)) from None
        except DecisionCompletedError as exc:
            raise HTTPException(status_code=409, detail=str(exc)) from None
        except PayloadTooLargeError as exc:
            raise HTTPException(status_code=413, detail=str(exc)) from None
        except Exception as exc:
            return _unexpected(exc, decision_id=decision_id)
        if done.failed_closed:
            return JSONResponse(status_code=503, content={**done.to_dict(), "detail": done.violations[0].reason})
        return JSONResponse(content=done.to_dict())

    @router.get("/summary", summary="Compliant and refused requests per model, user, day and policy")
    def summary(
        caller: Annotated[str, Depends(caller_dep)],
        model: str | None = Query(None, description="NAME, NAME:VERSION or a model id"),
        user: str | None = Query(None, description="an end user's id"),
        since: str | None = Query(None, description="first UTC day, e.g. 2026-12-01"),
        until: str | None = Query(None, description="last UTC day, e.g. 2026-12-31"),
    ) -> dict[str, Any]:
        try:
            return usage_governor().summary(model=model, user=user, since=since, until=until)
        except ModelNotFoundError as exc:
            raise HTTPException(status_code=404, detail=str(exc)) from None
        except ValueError as exc:
            raise HTTPException(status_code=422, detail=str(exc)) from None

    return router


async def validation_error(request: Request, exc: Exception) -> JSONResponse:
    """422 for a malformed body or query: names each field and what is wrong, never its value
    (FastAPI's default echoes the input, which may be personal data)."""
    assert isinstance(exc, RequestValidationError)
    problems = []
    errors = []
    for e in exc.errors():
        loc = [str(p) for p in e.get("loc", ()) if p != "body"]
        where = ".".join(loc) or "body"
        msg = str(e.get("msg", "invalid"))
        if e.get("type") == "extra_forbidden":
            msg = "unknown field: remove it"
        elif e.get("type") == "json_invalid":
            where, msg = "body", "not valid JSON"
        problems.append(f"{where}: {msg}")
        errors.append({"loc": loc, "msg": msg, "type": e.get("type")})
    path = request.url.path
    expected = (
        EXPECTED_COMPLETE
        if path.endswith("/complete")
        else EXPECTED_SUMMARY
        if path.endswith("/summary")
        else EXPECTED_CHECK
    )
    detail = ERR_MALFORMED.format(problems="; ".join(problems), expected=expected)
    return JSONResponse(status_code=422, content={"detail": detail, "errors": errors})
