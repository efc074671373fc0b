"""Benchmark: archive the audit trail to a real local S3 server (SeaweedFS), then validate it.

    .venv/bin/python benchmarks/archive.py                  # 1M events (~1-2 min incl. seeding)
    .venv/bin/python benchmarks/archive.py --events 100000  # quicker

What is measured, on a governance database (SQLite file, or --db-url) holding ``--events``
hash-chained events spread over ``--days`` closed UTC days:

* **archive**: ``AuditArchive.archive()``: read the events, check every link and re-hash every
  event (nothing tampered is archived), write deterministic gzip JSONL parts (100k events
  each) with Object Lock retention, then the day's digest.
* **archive rerun**: the same call again with ``recheck_from`` the first day: every archived
  day recomputed from the database and compared with its digest, nothing written.
* **validate**: ``AuditArchive.validate()``: list object versions, download every digest and
  part, check SHA-256s, decompress, re-hash every event, check the chain across parts and
  days, and compare the day ends with the database.

The S3 server runs on this machine, so the network is loopback: figures are CPU bound.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from governance.archive import PART_SIZE, AuditArchive  # noqa: E402
from governance.embedded.s3server import LocalS3Server  # noqa: E402
from governance.s3 import ensure_bucket, make_client, settings_for  # noqa: E402
from governance.store import make_engine, migrate  # noqa: E402
from tests.support.audit_history import seed_history  # noqa: E402


def _rate(n: int, seconds: float) -> str:
    return f"{n / seconds:,.0f} events/s" if seconds > 0 else "-"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000, help="events to archive (default 1,000,000)")
    parser.add_argument("--days", type=int, default=1, help="closed UTC days they are spread over (default 1)")
    parser.add_argument("--part-size", type=int, default=PART_SIZE, help=f"events per part (default {PART_SIZE})")
    parser.add_argument("--db-url", help="governance database (default: a new SQLite file in the work dir)")
    parser.add_argument(
        "--processes", type=int, help="worker processes for big days (default: one per CPU, at most 4; 1 = none)"
    )
    parser.add_argument("--workdir", type=Path, help="folder for the database and S3 data (default: a temp dir)")
    args = parser.parse_args(argv)

    work = args.workdir or Path(tempfile.mkdtemp(prefix="gov-archive-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    engine = make_engine(args.db_url or f"sqlite:///{work / 'governance.db'}")
    migrate(engine)
    today = datetime.now(UTC).date()
    first = today - timedelta(days=args.days)
    per_day = [args.events // args.days + (1 if i < args.events % args.days else 0) for i in range(args.days)]
    t = time.perf_counter()
    seed_history(engine, days=[(first + timedelta(days=i), n) for i, n in enumerate(per_day)])
    print(f"seeded {args.events:,} events over {args.days} day(s) in {time.perf_counter() - t:.1f} s ({engine.url})")

    with LocalS3Server(data_dir=work / "s3", access_key="bench", secret_key="bench-secret-key") as server:
        settings = settings_for(
            endpoint_url=server.endpoint_url,
            bucket="audit-bench",
            access_key_id="bench",
            secret_access_key="bench-secret-key",
            object_lock_days=1,
        )
        status = ensure_bucket(make_client(settings), bucket=settings.bucket, endpoint=server.endpoint_url)
        print(f"S3: SeaweedFS at {server.endpoint_url}; {status.summary()}")
        archive = AuditArchive.from_settings(engine=engine, settings=settings, part_size=args.part_size)
        if args.processes is not None:
            archive.processes = args.processes
        print(f"worker processes for days of {archive.parallel_min_events:,}+ events: {archive.processes}")

        t = time.perf_counter()
        result = archive.archive(until=today)
        archive_s = time.perf_counter() - t
        stored = sum(d.bytes for d in result.days)
        objects = sum(d.objects for d in result.days)

        t = time.perf_counter()
        rerun = archive.archive(until=today, recheck_from=first)
        rerun_s = time.perf_counter() - t
        assert rerun.written == [], "a rerun must not write anything"

        t = time.perf_counter()
        report = archive.validate()
        validate_s = time.perf_counter() - t
        if not report.ok:
            for problem in report.problems:
                print(problem.line())
            return 1

    n = args.events
    print()
    print(
        f"events {n:,} | days {args.days} | parts {objects} ({args.part_size:,} events each) | stored {stored / 1e6:.1f} MB gzip"
    )
    print(f"archive        {archive_s:7.2f} s   {_rate(n, archive_s)}")
    print(f"archive rerun  {rerun_s:7.2f} s   {_rate(n, rerun_s)}   (recheck against the database, no writes)")
    print(f"validate       {validate_s:7.2f} s   {_rate(n, validate_s)}")
    print(f"validate: {report.summary()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
