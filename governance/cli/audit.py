"""``governance audit query / verify``: read and check the hash-chained audit trail.

:func:`register` makes the ``governance audit`` group and hands its subparsers on in
``common.audit``; the archive commands (``audit archive``, ``validate-archive``, ``purge``)
live in :mod:`governance.cli.archive` and hang under the same group.
"""

from __future__ import annotations

import argparse
import json
import sys

from governance.cli.common import EXIT_FAIL, EXIT_OK, Common, SubParsers, open_store, print_json


def cmd_audit_query(args: argparse.Namespace) -> int:
    store = open_store()
    page = store.audit.query(
        model_id=args.model_id,
        actor=args.actor,
        event_type=args.event_type,
        since=args.since,
        until=args.until,
        limit=args.limit,
        cursor=args.cursor,
        order=args.order,
    )
    if args.json:
        print_json({"events": [e.to_dict() for e in page.events], "next_cursor": page.next_cursor})
        return EXIT_OK
    for e in page.events:
        details = json.dumps(e.details, sort_keys=True, ensure_ascii=False)
        print(f"{e.id:>8}  {e.timestamp}  {e.event_type:<24} {e.model_id or '-':<15} {e.actor:<12} {details}")
    if not page.events:
        print("no events match")
    if page.next_cursor:
        print(f"more: --cursor {page.next_cursor}", file=sys.stderr)
    return EXIT_OK


def cmd_audit_verify(args: argparse.Namespace) -> int:
    store = open_store()
    result = store.audit.verify()
    if args.json:
        print_json(
            {
                "ok": result.ok,
                "events": result.count,
                "first_bad_id": result.first_bad_id,
                "problem": result.problem,
                "message": result.message,
            }
        )
    else:
        print(result.summary())
    return EXIT_OK if result.ok else EXIT_FAIL


def register(subparsers: SubParsers, common: Common) -> None:
    """Add the ``audit`` group with query and verify; set ``common.audit`` to its subparsers."""
    audit = subparsers.add_parser("audit", help="query, verify (and archive) the audit trail")
    asub = audit.add_subparsers(dest="audit_command", metavar="AUDIT_COMMAND", required=True)
    common.audit = asub
    p = asub.add_parser(
        "query",
        help="list audit events matching filters, oldest first",
        description="Filters combine with AND. --since is inclusive, --until exclusive (ISO 8601, "
        "UTC if no zone). Pages are keyset-paginated: pass the printed --cursor to get the next "
        "page; pages stay stable while new events arrive.",
    )
    p.add_argument("--model-id")
    p.add_argument("--actor")
    p.add_argument("--event-type")
    p.add_argument("--since", metavar="ISO_TIME")
    p.add_argument("--until", metavar="ISO_TIME")
    p.add_argument("--limit", type=int, default=100, help="events per page (1..10000, default 100)")
    p.add_argument("--cursor", help="continue after the page that printed this cursor")
    p.add_argument("--order", choices=("asc", "desc"), default="asc", help="id order (default asc)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_audit_query)

    p = asub.add_parser(
        "verify",
        help="walk the hash chain; exit 1 naming the first bad event",
        description="Recompute every event's hash and check each link. Exit 0 printing "
        "'OK: N events, chain intact', or exit 1 printing the id of the first bad event and "
        "what is wrong with it.",
    )
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_audit_verify)
