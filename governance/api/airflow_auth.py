"""The logged-in Airflow user of a governance request (bearer token, else the UI's ``_token``
cookie), as Airflow's own ``get_user`` finds it, with two differences:

- a token that is not valid is 401 (log in again), where Airflow answers 403: a gateway that
  retries on 401 with a fresh token must not take an expired or mangled token for a missing
  permission;
- a bearer token that was valid is trusted again for up to :data:`TOKEN_CACHE_SECONDS` (never
  past its own ``exp``) without asking the auth manager. Airflow checks every token against its
  ``revoked_token`` table in the metadata database, about 1.5 ms a request — more than the
  usage check itself — so a gateway's token is checked once every few seconds instead of on
  every call. The price: a token revoked by a logout keeps working for up to that long.
"""

import hashlib
import threading
import time
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

ERR_BAD_TOKEN = "{detail}: log in again (POST /auth/token) and send the new token"
TOKEN_CACHE_SECONDS = 10.0
TOKEN_CACHE_MAX = 1024

_bearer = HTTPBearer(auto_error=False)
_cache: dict[str, tuple[float, Any]] = {}
_cache_lock = threading.Lock()


def _key(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def _expiry(token: str) -> float:
    """The token's ``exp`` (already verified by the auth manager), or now when it has none."""
    import jwt

    try:
        exp = jwt.decode(token, options={"verify_signature": False}).get("exp")
    except jwt.PyJWTError:
        return 0.0
    return float(exp) if isinstance(exp, int | float) else 0.0


def cached_user(token: str) -> Any | None:
    """The user of a bearer token validated less than :data:`TOKEN_CACHE_SECONDS` ago (and not
    expired since), or None."""
    hit = _cache.get(_key(token))
    return hit[1] if hit is not None and hit[0] > time.time() else None


async def airflow_user(
    request: Request, bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Any:
    """Airflow's user of this request, or 401."""
    from airflow.api_fastapi.core_api.security import get_user

    token = bearer.credentials if bearer and bearer.scheme.lower() == "bearer" else None
    now = time.time()
    if token:
        known = cached_user(token)
        if known is not None:
            return known
    try:
        user = await get_user(request, None, bearer)
    except HTTPException as exc:
        if exc.status_code == 403:
            raise HTTPException(
                status_code=401, detail=ERR_BAD_TOKEN.format(detail=exc.detail), headers={"WWW-Authenticate": "Bearer"}
            ) from None
        raise
    if token:
        until = min(now + TOKEN_CACHE_SECONDS, _expiry(token))
        if until > now:
            with _cache_lock:
                if len(_cache) >= TOKEN_CACHE_MAX:
                    _cache.clear()
                _cache[_key(token)] = (until, user)
    return user
