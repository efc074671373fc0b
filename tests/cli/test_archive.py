"""`governance audit archive | validate-archive | purge` and `governance s3 ensure-bucket` on real S3."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from governance.archive import digest_key, part_key
from governance.cli import main
from governance.s3 import ERR_NO_BUCKET, make_client
from tests.support.audit_history import seed_history

pytestmark = pytest.mark.s3

TODAY = datetime.now(UTC).date()
D0 = TODAY - timedelta(days=8)
D1 = D0 + timedelta(days=1)
D2 = D0 + timedelta(days=2)


@pytest.fixture
def cli_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, s3_env) -> object:
    from governance.store import GovernanceStore

    monkeypatch.setenv("GOVERNANCE_DB_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    assert main(["init"]) == 0
    store = GovernanceStore.from_url()
    seed_history(store.engine, days=[(D0, 40), (D2, 5)])
    yield store
    store.engine.dispose()


def test_archive_validate_purge_verify(cli_db, s3_env, capsys):
    assert main(["audit", "archive", "--until", f"{D2.isoformat()}T00:00:00Z"]) == 0
    out, err = capsys.readouterr()
    assert out.strip() == f"archived 2 day(s) {D0}..{D1}: 40 events, 1 object(s)"
    assert f"{D0}: archived, 40 events in 1 object(s)" in err  # progress

    assert main(["audit", "archive", "--json"]) == 0  # default: up to the start of today
    written = json.loads(capsys.readouterr().out)
    assert [d["day"] for d in written["days"]][0] == D2.isoformat()
    assert written["until"] == TODAY.isoformat()

    assert main(["audit", "validate-archive"]) == 0
    out, _ = capsys.readouterr()
    lines = out.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"OK: 8 day(s) {D0}..{TODAY - timedelta(days=1)}, 2 object(s)")

    assert main(["audit", "validate-archive", "--from", D1.isoformat(), "--to", D2.isoformat(), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["events"] == 5

    assert main(["audit", "purge", "--older-than-days", str((TODAY - D1).days), "--actor", "records"]) == 0
    out, _ = capsys.readouterr()
    assert out.startswith("purged 40 events up to the end of") and "after event 40" in out
    assert main(["audit", "verify"]) == 0
    assert capsys.readouterr().out.strip() == "OK: 6 events, chain intact"


def test_validate_names_each_problem_and_exits_1(cli_db, s3_env, capsys):
    assert main(["audit", "archive"]) == 0
    client = make_client(s3_env)
    client.delete_object(Bucket=s3_env.bucket, Key=part_key(D0, 0))
    client.put_object(Bucket=s3_env.bucket, Key=digest_key(D1), Body=b"{}")
    capsys.readouterr()
    assert main(["audit", "validate-archive"]) == 1
    out, _ = capsys.readouterr()
    lines = out.strip().splitlines()
    assert f"DELETED {part_key(D0, 0)}: deleted (a delete marker hides 1 version(s))" in lines
    assert any(line.startswith(f"OVERWRITTEN {digest_key(D1)}: 2 versions") for line in lines)
    assert any(line.startswith(f"ALTERED {digest_key(D1)}: unreadable digest") for line in lines)
    assert lines[-1].startswith("FAIL: ")


def test_missing_bucket_is_a_clear_error(cli_db, s3_env, monkeypatch, capsys):
    monkeypatch.setenv("GOVERNANCE_S3_BUCKET", "absent-bucket")
    assert main(["audit", "archive"]) == 2
    _, err = capsys.readouterr()
    assert err.strip().splitlines()[-1] == "error: " + ERR_NO_BUCKET.format(
        bucket="absent-bucket", endpoint=s3_env.endpoint_url
    )


def test_ensure_bucket_is_idempotent(s3_env, monkeypatch, capsys):
    monkeypatch.setenv("GOVERNANCE_S3_BUCKET", "made-by-cli-" + s3_env.bucket[-8:])
    assert main(["s3", "ensure-bucket"]) == 0
    assert "created: Object Lock enabled, versioned" in capsys.readouterr().out
    assert main(["s3", "ensure-bucket"]) == 0
    assert "exists: Object Lock enabled, versioned" in capsys.readouterr().out


def test_purge_refused_prints_why(cli_db, s3_env, capsys):
    assert main(["audit", "purge", "--older-than-days", "2", "--actor", "records"]) == 2
    _, err = capsys.readouterr()
    assert err.startswith("error: cannot purge events before") and "is not archived" in err
