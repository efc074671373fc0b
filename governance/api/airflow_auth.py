"""The logged-in Airflow user of a governance request (bearer token, else the UI's ``_token``
cookie), as Airflow's own ``get_user`` finds it, with one difference: a token that is not
valid is 401 (log in again), where Airflow answers 403 — a gateway that retries on 401 with a
fresh token must not take an expired or mangled token for a missing permission."""

from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

ERR_BAD_TOKEN = "{detail}: log in again (POST /auth/token) and send the new token"

_bearer = HTTPBearer(auto_error=False)


async def airflow_user(
    request: Request, bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Any:
    """Airflow's user of this request, or 401."""
    from airflow.api_fastapi.core_api.security import get_user

    try:
        return await get_user(request, None, bearer)
    except HTTPException as exc:
        if exc.status_code == 403:
            raise HTTPException(
                status_code=401, detail=ERR_BAD_TOKEN.format(detail=exc.detail), headers={"WWW-Authenticate": "Bearer"}
            ) from None
        raise
