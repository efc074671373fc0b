"""``governance audit archive / validate-archive / purge`` and ``governance s3``: the S3 audit archive.

``governance audit archive``          ship closed UTC days of the audit trail to S3
``governance audit validate-archive`` recompute the archive from S3; exit 1 naming each problem
``governance audit purge``            drop archived, validated events older than N days
``governance s3 ensure-bucket``       create the bucket with Object Lock (idempotent)

The first three hang under the ``governance audit`` group of :mod:`governance.cli.audit`.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from governance.cli.common import EXIT_FAIL, EXIT_OK, Common, SubParsers, open_engine, print_json, progress

if TYPE_CHECKING:
    from governance.archive import AuditArchive


def _open_archive(*, require_schema: bool = True) -> AuditArchive:
    """The configured archive on the governance database (:func:`~governance.cli.common.run`
    disposes its engine when the command ends)."""
    from governance.archive import AuditArchive

    return AuditArchive.from_config(engine=open_engine(require_schema=require_schema), progress=progress)


def cmd_archive(args: argparse.Namespace) -> int:
    from governance.archive import parse_day

    recheck = parse_day(args.recheck_from, name="--recheck-from") if args.recheck_from else None
    archive = _open_archive()
    progress(f"archiving to s3://{archive.bucket}/audit/ at {archive.endpoint}")
    result = archive.archive(until=args.until, recheck_from=recheck)
    if args.json:
        print_json(result.to_dict())
    else:
        print(result.summary())
    return EXIT_OK


def cmd_validate(args: argparse.Namespace) -> int:
    from governance.archive import parse_day

    from_day = parse_day(args.from_day, name="--from") if args.from_day else None
    to_day = parse_day(args.to_day, name="--to") if args.to_day else None
    archive = _open_archive(require_schema=not args.s3_only)
    progress(f"validating s3://{archive.bucket}/audit/ at {archive.endpoint}")
    report = archive.validate(from_day=from_day, to_day=to_day, check_db=not args.s3_only)
    if args.json:
        print_json(report.to_dict())
    else:
        for problem in report.problems:
            print(problem.line())
        print(report.summary())
    return EXIT_OK if report.ok else EXIT_FAIL


def cmd_purge(args: argparse.Namespace) -> int:
    from governance.archive.purge import purge_archived

    archive = _open_archive()
    result = purge_archived(archive, older_than_days=args.older_than_days, actor=args.actor, dry_run=args.dry_run)
    print(result.summary())
    return EXIT_OK


def cmd_ensure_bucket(args: argparse.Namespace) -> int:
    from governance.s3 import endpoint_name, ensure_bucket, make_client, resolve_settings

    settings = resolve_settings()
    bucket = args.bucket or settings.bucket
    status = ensure_bucket(
        make_client(settings), bucket=bucket, endpoint=endpoint_name(settings), region=settings.region
    )
    print(status.summary())
    return EXIT_OK


def register(subparsers: SubParsers, common: Common) -> None:
    """Add archive, validate-archive and purge under ``governance audit``, and the ``s3`` group."""
    audit_sub = common.audit_group(__name__)
    p = audit_sub.add_parser(
        "archive",
        help="ship closed UTC days of the audit trail to S3 with a digest chain",
        description="Export every closed UTC day not archived yet to "
        "s3://BUCKET/audit/events/date=YYYY-MM-DD/part-NNNN.jsonl.gz and write its digest "
        "audit/digests/YYYY-MM-DD.json (objects first, digest last; Object Lock retention when the "
        "bucket has it). Idempotent: archived days are never rewritten. S3 settings: "
        "GOVERNANCE_S3_ENDPOINT_URL, GOVERNANCE_S3_BUCKET, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, "
        "GOVERNANCE_OBJECT_LOCK_DAYS.",
    )
    p.add_argument(
        "--until",
        metavar="ISO_TIMESTAMP",
        help="archive days that end at or before this time (default: the start of the current UTC day)",
    )
    p.add_argument(
        "--recheck-from",
        metavar="DATE",
        help="also recompute already archived days from DATE on and compare them with their digests",
    )
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=cmd_archive)

    p = audit_sub.add_parser(
        "validate-archive",
        help="recompute the S3 archive; exit 1 naming each missing, altered or extra object",
        description="Download every digest and object of the range, recompute SHA-256s, re-hash every "
        "event and check the chain across objects and days, the digest links, object versions "
        "(an overwrite or delete leaves a trace in a versioned bucket) and, unless --s3-only, that "
        "the database agrees. Exit 0 with a one-line summary, or exit 1 listing every problem.",
    )
    p.add_argument("--from", dest="from_day", metavar="DATE", help="first day (default: the first archived day)")
    p.add_argument("--to", dest="to_day", metavar="DATE", help="last day (default: the last archived day)")
    p.add_argument("--s3-only", action="store_true", help="do not compare with the governance database")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=cmd_validate)

    p = audit_sub.add_parser(
        "purge",
        help="delete archived, validated events older than N days from the database",
        description="Events of the UTC days before today-N are deleted from the database only if every "
        "such day is archived and the archive validates now (against S3 and the database). The "
        "purge is recorded as an audit event; `governance audit verify` keeps passing.",
    )
    p.add_argument("--older-than-days", type=int, required=True, metavar="N")
    p.add_argument("--actor", required=True, help="user purging (recorded in the audit trail)")
    p.add_argument("--dry-run", action="store_true", help="check everything, delete nothing")
    p.set_defaults(func=cmd_purge)

    s3 = subparsers.add_parser("s3", help="the S3 bucket of the archive and the reports")
    s3_sub = s3.add_subparsers(dest="s3_command", metavar="S3_COMMAND", required=True)
    p = s3_sub.add_parser(
        "ensure-bucket",
        help="create the bucket with Object Lock enabled (idempotent)",
        description="Create GOVERNANCE_S3_BUCKET at GOVERNANCE_S3_ENDPOINT_URL (or AWS S3) with Object "
        "Lock, hence versioning, enabled; an existing bucket is kept (versioning switched on if off).",
    )
    p.add_argument("--bucket", help="bucket name (default GOVERNANCE_S3_BUCKET)")
    p.set_defaults(func=cmd_ensure_bucket)
