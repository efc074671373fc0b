"""governance.api.airflow_auth: invalid tokens are 401, valid ones are trusted again for a few
seconds (never past their own expiry) without asking Airflow's auth manager."""

from __future__ import annotations

import asyncio
import time

import jwt
import pytest
from fastapi import HTTPException
from fastapi.security import HTTPAuthorizationCredentials

from governance.api import airflow_auth


def token(exp: float) -> str:
    return jwt.encode({"sub": "gateway", "exp": int(exp)}, "k" * 64, algorithm="HS512")


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    seen: list[str] = []

    async def fake_get_user(request, _oauth, bearer):
        seen.append(bearer.credentials)
        if bearer.credentials == "bad":
            raise HTTPException(status_code=403, detail="Invalid JWT token")
        return {"user": "gateway"}

    import airflow.api_fastapi.core_api.security as security

    monkeypatch.setattr(security, "get_user", fake_get_user)
    airflow_auth._cache.clear()
    return seen


def ask(tok: str):
    return asyncio.run(airflow_auth.airflow_user(None, HTTPAuthorizationCredentials(scheme="Bearer", credentials=tok)))


def test_valid_token_checked_once_within_the_window(calls: list[str]) -> None:
    tok = token(time.time() + 3600)
    assert ask(tok) == ask(tok) == {"user": "gateway"}
    assert calls == [tok]


def test_window_never_passes_the_tokens_expiry(calls: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    t0 = time.time()
    tok = token(t0 + 1)
    ask(tok)
    monkeypatch.setattr(airflow_auth.time, "time", lambda: t0 + 2)  # past exp, inside the 10 s window
    ask(tok)
    assert calls == [tok, tok]


def test_invalid_token_is_401_and_never_cached(calls: list[str]) -> None:
    for _ in range(2):
        with pytest.raises(HTTPException) as err:
            ask("bad")
        assert err.value.status_code == 401 and err.value.detail.startswith("Invalid JWT token: log in again")
    assert calls == ["bad", "bad"]
