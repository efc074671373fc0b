"""Airflow plugin: mounts the governance API (registry, audit trail, usage checks) at
``/governance`` in the API server (every route requires an Airflow login token), adds a navigation link to its documentation page, and
records reviewers' answers to the approval DAGs as they are given."""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin
from fastapi import Depends, FastAPI

from governance.api import create_app
from governance.orchestration.answer_capture import HITLAnswerCapture


def _app() -> FastAPI:
    from governance.api.airflow_auth import airflow_user

    return create_app(dependencies=[Depends(airflow_user)], user=airflow_user)


class GovernancePlugin(AirflowPlugin):
    name = "governance"
    fastapi_apps = [{"app": _app(), "url_prefix": "/governance", "name": "Model governance API"}]
    # records reviewers' answers in the governance DB the moment Airflow accepts them
    fastapi_root_middlewares = [{"middleware": HITLAnswerCapture, "args": [], "kwargs": {}, "name": "hitl-answers"}]
    external_views = [
        {
            "name": "Governance API",
            "href": "/governance/docs",
            "destination": "nav",
            "category": "browse",
            "url_route": "governance",
        }
    ]
