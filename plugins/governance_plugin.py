"""Airflow plugin: mounts the governance API at ``/governance`` in the API server and adds a
navigation link to its documentation page. Every route requires an Airflow login token."""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin
from fastapi import Depends

from governance.api import create_app


def _app():
    from airflow.api_fastapi.core_api.security import get_user

    return create_app(dependencies=[Depends(get_user)])


class GovernancePlugin(AirflowPlugin):
    name = "governance"
    fastapi_apps = [{"app": _app(), "url_prefix": "/governance", "name": "Model governance API"}]
    external_views = [
        {
            "name": "Governance API",
            "href": "/governance/docs",
            "destination": "nav",
            "category": "browse",
            "url_route": "governance",
        }
    ]
