"""The governance API holds no connection it does not need (issue 9, item 5).

Thousands of requests to ``/governance/…`` in the running Airflow API server leave its open
file descriptors and its resident memory where they were after a warm-up: the store is
opened once per process, not once per request.
"""

from __future__ import annotations

import json
import time

import pytest

from governance.cards import load_card
from tests.e2e.helpers import CARDS, TIER_CARDS
from tests.support.api_server import KeepAlive, api_server_pids, snapshot

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

WARMUP = 500
REQUESTS = 5_000
VERIFY_EVERY = 25  # /audit/verify walks the whole chain: one request in 25
FD_SLACK = 10
RSS_SLACK_KB = 15 * 1024


def route_mix(refs: list[str]) -> list[str]:
    """One cycle of requests over the read routes; /audit/verify the rarest."""
    cycle: list[str] = []
    for i in range(VERIFY_EVERY):
        cycle.append("/governance/models")
        cycle.append(f"/governance/models/{refs[i % len(refs)]}")
        cycle.append("/governance/audit/events?limit=10")
    cycle.append("/governance/audit/verify")
    return cycle


def hammer(client: KeepAlive, cycle: list[str], n: int) -> float:
    start = time.monotonic()
    for i in range(n):
        client.get(cycle[i % len(cycle)])
    return time.monotonic() - start


# ----------------------------------------------------------------------------- the test


def test_thousands_of_requests_leak_no_descriptor_or_memory(airflow, gov_store):
    stamp = int(time.time())
    refs: list[str] = []
    for i, file in enumerate(TIER_CARDS.values()):
        card = load_card(CARDS / file)
        card = card.model_copy(update={"name": f"{card.name}-res", "version": f"{stamp}.{i}.0"})
        model = gov_store.register(card, owner="owner").model
        refs += [model.id, f"{card.name}:{card.version}", card.name]
    gov_store.engine.dispose()

    pids = api_server_pids(airflow.process.pid)
    assert pids, "no api-server process found in the airflow standalone session"
    client = KeepAlive(airflow.url, username="admin", password="admin")
    try:
        models = json.loads(client.get("/governance/models"))
        assert {r for r in refs if r.startswith("m-")} <= {m["id"] for m in models}
        cycle = route_mix(refs)
        hammer(client, cycle, WARMUP)
        before = snapshot(pids)
        seconds = hammer(client, cycle, REQUESTS)
        after = snapshot(pids)
    finally:
        client.close()
    assert api_server_pids(airflow.process.pid) == pids, "the API server processes changed during the test"
    report = ", ".join(
        f"pid {pid}: fds {before[pid][0]} → {after[pid][0]}, RSS {before[pid][1] / 1024:.1f} → "
        f"{after[pid][1] / 1024:.1f} MB"
        for pid in pids
    )
    print(f"\n{REQUESTS} requests in {seconds:.1f} s ({REQUESTS / seconds:.0f}/s); {report}")
    for pid in pids:
        (fds0, rss0), (fds1, rss1) = before[pid], after[pid]
        assert fds1 - fds0 <= FD_SLACK, f"pid {pid}: {fds1 - fds0} more open descriptors after {REQUESTS} requests"
        assert rss1 - rss0 <= RSS_SLACK_KB, (
            f"pid {pid}: RSS grew by {(rss1 - rss0) / 1024:.1f} MB after {REQUESTS} requests"
        )
