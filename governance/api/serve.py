"""``governance serve``: the governance API (usage checks above all) in processes of its own.

A model-serving gateway calls the usage API many times a second; in production it runs beside
Airflow's API server rather than inside it, under uvicorn with N worker processes. Callers
authenticate with the same Airflow tokens (``POST /auth/token`` on the Airflow API server):
this process reads Airflow's configuration (``[api_auth] jwt_secret``, ``[core] auth_manager``)
and validates them with Airflow's own auth manager. Quotas stay exact across the workers (they
are counted in the governance database), and each worker group-commits its decisions.
"""

from __future__ import annotations

from fastapi import Depends, FastAPI

from governance.api import create_app

PREFIX = "/governance"


def create_serve_app() -> FastAPI:
    """The app of one ``governance serve`` worker (a uvicorn factory)."""
    from airflow.api_fastapi.app import init_auth_manager

    from governance.api.airflow_auth import airflow_user

    init_auth_manager()
    root = FastAPI(title="Model governance API (governance serve)", docs_url=None, redoc_url=None)

    @root.get("/health", include_in_schema=False)
    def health() -> dict[str, str]:
        return {"status": "ok"}

    # the same paths as in Airflow's API server: a gateway changes only the host
    root.mount(PREFIX, create_app(dependencies=[Depends(airflow_user)], user=airflow_user))
    return root
