"""Bodies of the processes that concurrency tests spawn: kept in a light module, so that a
spawned interpreter imports only what it runs (not pytest and the test modules)."""

from __future__ import annotations

from pathlib import Path


def append_events(url: str, writer: int, n: int) -> None:
    """Append ``n`` single-event transactions as ``writer{writer}``."""
    from governance.store import GovernanceStore

    store = GovernanceStore.from_url(url)
    try:
        for i in range(n):
            store.audit.append(event_type="concurrent", actor=f"writer{writer}", details={"seq": i})
    finally:
        store.engine.dispose()


def register_card(url: str, card_path: str, owner: str, start: object, results: object) -> None:
    """Wait for ``start`` (a multiprocessing Event), register the card, report the outcome."""
    from governance.cards import load_card
    from governance.errors import AlreadyRegisteredError
    from governance.store import GovernanceStore

    store = GovernanceStore.from_url(url)
    card = load_card(Path(card_path))
    start.wait(120)  # type: ignore[attr-defined]
    try:
        store.register(card, owner=owner)
        results.put(("ok", ""))  # type: ignore[attr-defined]
    except AlreadyRegisteredError as exc:
        results.put(("already", str(exc)))  # type: ignore[attr-defined]
    except Exception as exc:  # reported to the test
        results.put(("error", repr(exc)))  # type: ignore[attr-defined]
    finally:
        store.engine.dispose()
