"""``governance``: the command line of the model governance pipeline.

Every command reads the governance database from ``GOVERNANCE_DB_URL`` (default: a SQLite
file under the project's ``data/`` folder). Run ``governance COMMAND --help`` for details.

Exit status: 0 ok, 1 a refused or failed operation (``audit verify`` found a bad event, a
model is not found, an illegal transition), 2 a usage or configuration error, 130 Ctrl-C,
and 141 when the reader of stdout went away, e.g. ``governance audit query --json | head``:
the command stops quietly, with no traceback, and exits as a shell reports a command that
SIGPIPE stopped (128 + 13, what ``seq 1000000 | head`` gives under ``set -o pipefail``).

This module imports nothing heavy: each command imports what it needs (SQLAlchemy, the
store, cards …) when it runs, so ``--help`` loads no database layer and a status lookup
loads little more than SQLAlchemy (``benchmarks/cli_latency.py`` times them).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

from governance import config
from governance.errors import GovernanceError

EXIT_OK = 0
EXIT_FAIL = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141
"""Exit status when nobody reads stdout any more (128 + SIGPIPE, as a shell reports for a
command killed by the signal; Python ignores SIGPIPE, so we stop on the write error)."""

ERR_NOT_INITIALISED = "the governance database at {url} is not initialised; run `governance init` first"

Handler = Callable[[argparse.Namespace], int]


_ENGINES: list[Any] = []
"""Engines a command opened; :func:`main` disposes them (closing pooled connections)."""


def _store() -> Any:
    from sqlalchemy import inspect

    from governance.store import GovernanceStore

    store = GovernanceStore.from_url()
    _ENGINES.append(store.engine)
    if not inspect(store.engine).has_table("audit_head"):
        raise GovernanceError(ERR_NOT_INITIALISED.format(url=_safe_url(store.engine.url)))
    return store


def _safe_url(url: Any) -> str:
    return url.render_as_string(hide_password=True)


def _print_json(data: Any) -> None:
    json.dump(data, sys.stdout, indent=2, sort_keys=True, default=str)
    sys.stdout.write("\n")


# ----------------------------------------------------------------------------- commands


def cmd_init(args: argparse.Namespace) -> int:
    from governance.store import make_engine, migrate

    engine = make_engine()
    _ENGINES.append(engine)
    before, after = migrate(engine)
    url = _safe_url(engine.url)
    if before == after:
        print(f"governance database {url} is up to date (revision {after})")
    else:
        print(f"governance database {url} migrated from {before or 'empty'} to revision {after}")
    return EXIT_OK


def cmd_register(args: argparse.Namespace) -> int:
    from governance.cards import load_card

    card = load_card(args.card)  # validate before touching the database
    store = _store()
    reg = store.register(card, owner=args.owner)
    if args.json:
        _print_json(reg.model.to_dict())
        return EXIT_OK
    m, r = reg.model, reg.risk
    print(f"registered {m.name} {m.version} as {m.id} (status {m.status.value})")
    print(f"risk: {r.level.value} (score {r.score})")
    for reason in r.reasons:
        print(f"  - {reason}")
    print(f"EU AI Act: {r.eu_ai_act_category.value} — {r.eu_ai_act_rationale}")
    return EXIT_OK


def cmd_status(args: argparse.Namespace) -> int:
    store = _store()
    m = store.find(args.model)
    if args.json:
        _print_json(m.to_dict())
        return EXIT_OK
    print(f"{m.id}  {m.name} {m.version}")
    print(f"  status:    {m.status.value}" + (f" ({m.status_reason})" if m.status_reason else ""))
    print(f"  owner:     {m.owner} (team {m.owner_team})")
    print(f"  risk:      {m.risk_level} (score {m.risk_score}): {'; '.join(m.risk_reasons)}")
    print(f"  EU AI Act: {m.eu_ai_act_category}")
    if m.approved_by:
        print(f"  approved:  by {', '.join(m.approved_by)} at {m.approved_at:%Y-%m-%d %H:%M:%S} UTC")
    print(f"  updated:   {m.updated_at:%Y-%m-%d %H:%M:%S} UTC")
    return EXIT_OK


def cmd_list(args: argparse.Namespace) -> int:
    store = _store()
    models = store.list_models(status=args.status)
    if args.json:
        _print_json([m.to_dict() for m in models])
        return EXIT_OK
    if not models:
        print("no model versions" + (f" with status {args.status}" if args.status else ""))
        return EXIT_OK
    for m in models:
        print(f"{m.id}  {m.name:<28} {m.version:<10} {m.status.value:<15} {m.risk_level:<8} {m.owner}")
    return EXIT_OK


def cmd_transition(args: argparse.Namespace) -> int:
    store = _store()
    before = store.get(args.model_id).status
    m = store.transition(args.model_id, args.status, actor=args.actor, reason=args.reason)
    if before == m.status:
        print(f"{m.id} is already {m.status.value}; nothing changed")
    else:
        print(f"{m.id} {m.name} {m.version}: {before.value} -> {m.status.value}")
    return EXIT_OK


def cmd_audit_query(args: argparse.Namespace) -> int:
    store = _store()
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
        _print_json({"events": [e.to_dict() for e in page.events], "next_cursor": page.next_cursor})
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
    store = _store()
    result = store.audit.verify()
    if args.json:
        _print_json(
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


# ----------------------------------------------------------------------------- parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="governance",
        description="Model governance: register models, move them through their lifecycle, "
        "and query or verify the hash-chained audit trail.",
        epilog=f"database: GOVERNANCE_DB_URL (now {config.db_url()})",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("init", help="create or migrate the governance database")
    p.set_defaults(func=cmd_init)

    p = sub.add_parser(
        "register",
        help="validate a model card, register the model version and assess its risk",
        description="Validate CARD (YAML or JSON), register it as a new model version in status "
        "DEVELOPMENT, and print its id, risk level and the reasons. Nothing is written if the "
        "card is refused or the name + version is already registered.",
    )
    p.add_argument("card", metavar="CARD.yaml", help="model card file")
    p.add_argument("--owner", required=True, help="user who owns (submits) this model version")
    p.add_argument("--json", action="store_true", help="print the registered model as JSON")
    p.set_defaults(func=cmd_register)

    p = sub.add_parser(
        "status",
        help="show a model version's status, risk and approvals",
        description="MODEL is a model id (m-…), NAME:VERSION, or NAME (its latest version).",
    )
    p.add_argument("model", metavar="NAME[:VERSION]|MODEL_ID")
    p.add_argument("--json", action="store_true", help="print as JSON (includes the card)")
    p.set_defaults(func=cmd_status)

    p = sub.add_parser("list", help="list model versions")
    p.add_argument("--status", help="only versions in this status, e.g. DEPLOYED")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_list)

    p = sub.add_parser(
        "transition",
        help="move a model version to another lifecycle status",
        description="Legal moves: DEVELOPMENT→REVIEW_PENDING|RETIRED, REVIEW_PENDING→APPROVED|DEVELOPMENT, "
        "APPROVED→DEPLOYED|DEVELOPMENT|RETIRED, DEPLOYED→DEPRECATED, DEPRECATED→DEPLOYED|RETIRED. "
        "Anything else is refused and nothing is written.",
    )
    p.add_argument("model_id", metavar="MODEL_ID")
    p.add_argument("status", metavar="STATUS")
    p.add_argument("--actor", required=True, help="user making the change (recorded in the audit trail)")
    p.add_argument("--reason", help="why (recorded with the change)")
    p.set_defaults(func=cmd_transition)

    audit = sub.add_parser("audit", help="query, verify (and archive) the audit trail")
    asub = audit.add_subparsers(dest="audit_command", metavar="AUDIT_COMMAND", required=True)
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

    for extension in _extensions():
        extension(sub, asub)
    return parser


def _extensions() -> list[Callable[[Any, Any], None]]:
    """Commands contributed by other rooms (bias audits, archive, Airflow client)."""
    found: list[Callable[[Any, Any], None]] = []
    for module_name in ("governance.cli.bias", "governance.cli.archive", "governance.cli.airflow"):
        try:
            module = __import__(module_name, fromlist=["add_commands"])
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            continue
        add = module.add_commands
        found.append(lambda sub, asub, add=add: _call_add(add, sub, asub))
    return found


def _call_add(add: Callable[..., None], sub: Any, asub: Any) -> None:
    import inspect

    if len(inspect.signature(add).parameters) >= 2:
        add(sub, asub)
    else:
        add(sub)


def main(argv: Sequence[str] | None = None) -> int:
    try:
        try:
            return _dispatch(argv)
        finally:
            if sys.stdout is not None:
                sys.stdout.flush()  # a broken pipe shows here, not in the interpreter's exit flush
    except BrokenPipeError:
        if not _stdout_gone():
            raise  # some other pipe or socket (S3, Airflow, a worker): a real error
        _stdout_to_devnull()
        return EXIT_BROKEN_PIPE


def _dispatch(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except GovernanceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE if not isinstance(exc, _fail_errors()) else EXIT_FAIL
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        while _ENGINES:
            _ENGINES.pop().dispose()


def _stdout_gone() -> bool:
    """Whether stdout is a pipe (or socket) whose reader has closed it."""
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):  # replaced by an in-memory stream (tests)
        return False
    import select

    if not hasattr(select, "poll"):  # Windows: trust the error
        return True
    poller = select.poll()
    poller.register(fd, select.POLLOUT)
    return any(events & (select.POLLERR | select.POLLHUP) for _, events in poller.poll(0))


def _stdout_to_devnull() -> None:
    """Point stdout's file descriptor at /dev/null, so that what is still buffered in
    ``sys.stdout`` is flushed somewhere at exit instead of raising BrokenPipeError again
    (the recipe of the Python docs, "Note on SIGPIPE" in the signal module)."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    finally:
        os.close(devnull)


def _fail_errors() -> tuple[type[Exception], ...]:
    from governance.errors import AlreadyRegisteredError, IllegalTransitionError, ModelNotFoundError

    return (AlreadyRegisteredError, IllegalTransitionError, ModelNotFoundError)


if __name__ == "__main__":
    sys.exit(main())
