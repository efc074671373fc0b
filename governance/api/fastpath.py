"""The hot path of ``POST …/v1/usage/check``, answered below FastAPI's routing.

Gateways call the check before every inference. For the common case — a bearer token validated
a moment ago, a caller in ``model-gateways``, a well-formed body, a check that raises nothing —
this ASGI middleware answers directly: one JSON parse and pydantic validation, the cached user,
the check in the thread pool, and the same JSON the route answers. FastAPI's dependency solving
and routing, the larger part of a request's CPU time here, are skipped.

Everything else falls through, with its body replayed, to the FastAPI route, which owns every
error and its status code: the first request of a token (Airflow validates it), 401/403,
malformed bodies (422), unknown models (404), oversized input (413). A check that raises has
written nothing, so running it again in the route is safe; a check that answered (200, or 503
when it failed closed) is never run twice.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

CHECK_PATH = "/v1/usage/check"


class UsageCheckFastPath:
    """ASGI middleware for the governance app (see the module docstring)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") != "POST" or not _is_check(scope):
            await self.app(scope, receive, send)
            return
        body = b""
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            body += message.get("body", b"")
            more = bool(message.get("more_body", False))
        answer = await _answer(scope, body)
        if answer is None:
            await self.app(scope, _replay(body, receive), send)
            return
        status, content = answer
        data = json.dumps(content, separators=(",", ":")).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": data})


def _is_check(scope: Scope) -> bool:
    path = str(scope.get("path", ""))
    root = str(scope.get("root_path", ""))
    if root and path.startswith(root):
        path = path[len(root) :]
    return path == CHECK_PATH


async def _answer(scope: Scope, body: bytes) -> tuple[int, dict[str, Any]] | None:
    """The check's status and body, or None to let the FastAPI route answer."""
    from airflow.api_fastapi.auth.managers.base_auth_manager import COOKIE_NAME_JWT_TOKEN
    from anyio import to_thread
    from fastapi import HTTPException
    from pydantic import ValidationError

    from governance._util import request_token
    from governance.api.airflow_auth import cached_user
    from governance.api.usage import CheckBody, decision_answer, gateway_name, usage_governor

    token = request_token(scope, cookie=COOKIE_NAME_JWT_TOKEN)
    user = cached_user(token) if token else None
    if user is None:
        return None
    try:
        caller = gateway_name(user)
        req = CheckBody.model_validate_json(body)
    except (HTTPException, ValidationError, ValueError):
        return None
    governor = usage_governor()

    def run() -> Any:
        return governor.check(model=req.model, user=req.user, input=req.input, caller=caller, metadata=req.metadata)

    try:
        decision = await to_thread.run_sync(run)
    except Exception:  # raised before writing anything: the route answers it
        return None
    return decision_answer(decision)


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def again() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return again
