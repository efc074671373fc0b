"""The governance API: read-only views of the registry and the audit trail over HTTP, and the
usage API (:mod:`governance.api.usage`) that model-serving gateways call around each inference.

Mounted in Airflow's API server by ``plugins/governance_plugin.py`` under ``/governance``
(every route needs an Airflow login token), and served on its own by ``governance serve``
(:mod:`governance.api.serve`, same routes, same Airflow tokens).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, FastAPI, HTTPException, Query
from fastapi.exceptions import RequestValidationError

from governance import config
from governance.errors import GovernanceError, ModelNotFoundError

if TYPE_CHECKING:
    from governance.store import GovernanceStore


def _store() -> GovernanceStore:
    """The store over this process's one engine for the governance DB (opened on the first
    request, then reused: a request opens no engine, pool or connection of its own)."""
    from governance.store import shared_store

    return shared_store(config.db_url())


router = APIRouter()


@router.get("/models", summary="Model versions, optionally by status")
def list_models(status: str | None = None) -> list[dict[str, Any]]:
    try:
        return [_summary(m.to_dict()) for m in _store().list_models(status=status)]
    except GovernanceError as exc:
        raise HTTPException(status_code=400, detail=str(exc)) from None


def _summary(d: dict[str, Any]) -> dict[str, Any]:
    d = dict(d)
    d.pop("card", None)
    return d


@router.get("/models/{ref}", summary="One model version (id, NAME:VERSION or NAME), with its card")
def get_model(ref: str) -> dict[str, Any]:
    try:
        return _store().find(ref).to_dict()
    except ModelNotFoundError as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from None


@router.get("/models/{model_id}/evidence", summary="Evidence stored for a model version")
def get_evidence(model_id: str) -> list[dict[str, Any]]:
    store = _store()
    try:
        store.get(model_id)
    except ModelNotFoundError as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from None
    return [{**e, "created_at": e["created_at"].isoformat()} for e in store.list_evidence(model_id)]


@router.get("/audit/events", summary="Audit events, keyset-paginated")
def audit_events(
    model_id: str | None = None,
    actor: str | None = None,
    event_type: str | None = None,
    since: str | None = None,
    until: str | None = None,
    limit: int = Query(100, ge=1, le=10_000),
    cursor: str | None = None,
) -> dict[str, Any]:
    try:
        page = _store().audit.query(
            model_id=model_id, actor=actor, event_type=event_type, since=since, until=until, limit=limit, cursor=cursor
        )
    except GovernanceError as exc:
        raise HTTPException(status_code=400, detail=str(exc)) from None
    return {"events": [e.to_dict() for e in page.events], "next_cursor": page.next_cursor}


@router.get("/audit/verify", summary="Walk the hash chain")
def audit_verify() -> dict[str, Any]:
    r = _store().audit.verify()
    return {"ok": r.ok, "events": r.count, "first_bad_id": r.first_bad_id, "problem": r.problem, "message": r.message}


def create_app(*, dependencies: list[Any] | None = None, user: Callable[..., Awaitable[Any]] | None = None) -> FastAPI:
    """The governance API. ``dependencies`` run before every route (the plugin passes Airflow's
    login check); ``user`` is the dependency that answers the logged-in user, which the usage
    routes check against the ``model-gateways`` group (None: every caller is ``anonymous``,
    for tests of the routes alone)."""
    from governance.api.usage import usage_router, validation_error

    app = FastAPI(title="Model governance API", version="1")
    app.include_router(router, dependencies=dependencies or [])
    app.include_router(usage_router(user), dependencies=dependencies or [])
    app.add_exception_handler(RequestValidationError, validation_error)
    if user is not None:  # the fast path answers only callers whose Airflow token it knows
        from governance.api.fastpath import UsageCheckFastPath

        app.add_middleware(UsageCheckFastPath)
    return app
