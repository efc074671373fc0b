"""``governance init / register / status / list / transition``: the model registry commands.

Each command opens the governance database (``GOVERNANCE_DB_URL``) when it runs, and imports
what it needs then: ``status`` and ``list`` load little more than SQLAlchemy and the store,
never the model card schema (pydantic, YAML), which only ``register`` reads.
"""

from __future__ import annotations

import argparse

from governance.cli.common import EXIT_OK, Common, SubParsers, open_engine, open_store, print_json, safe_url


def cmd_init(args: argparse.Namespace) -> int:
    from governance.store import migrate

    engine = open_engine(require_schema=False)
    before, after = migrate(engine)
    url = safe_url(engine.url)
    if before == after:
        print(f"governance database {url} is up to date (revision {after})")
    else:
        print(f"governance database {url} migrated from {before or 'empty'} to revision {after}")
    return EXIT_OK


def cmd_register(args: argparse.Namespace) -> int:
    from governance.cards import load_card

    card = load_card(args.card)  # validate before touching the database
    store = open_store()
    reg = store.register(card, owner=args.owner)
    if args.json:
        print_json(reg.model.to_dict())
        return EXIT_OK
    m, r = reg.model, reg.risk
    print(f"registered {m.name} {m.version} as {m.id} (status {m.status.value})")
    print(f"risk: {r.level.value} (score {r.score})")
    for reason in r.reasons:
        print(f"  - {reason}")
    print(f"EU AI Act: {r.eu_ai_act_category.value} — {r.eu_ai_act_rationale}")
    return EXIT_OK


def cmd_status(args: argparse.Namespace) -> int:
    store = open_store()
    m = store.find(args.model)
    if args.json:
        print_json(m.to_dict())
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
    store = open_store()
    models = store.list_models(status=args.status)
    if args.json:
        print_json([m.to_dict() for m in models])
        return EXIT_OK
    if not models:
        print("no model versions" + (f" with status {args.status}" if args.status else ""))
        return EXIT_OK
    for m in models:
        print(f"{m.id}  {m.name:<28} {m.version:<10} {m.status.value:<15} {m.risk_level:<8} {m.owner}")
    return EXIT_OK


def cmd_transition(args: argparse.Namespace) -> int:
    store = open_store()
    before = store.get(args.model_id).status
    m = store.transition(args.model_id, args.status, actor=args.actor, reason=args.reason)
    if before == m.status:
        print(f"{m.id} is already {m.status.value}; nothing changed")
    else:
        print(f"{m.id} {m.name} {m.version}: {before.value} -> {m.status.value}")
    return EXIT_OK


def register(subparsers: SubParsers, common: Common) -> None:
    """Add init, register, status, list and transition."""
    p = subparsers.add_parser("init", help="create or migrate the governance database")
    p.set_defaults(func=cmd_init)

    p = subparsers.add_parser(
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

    p = subparsers.add_parser(
        "status",
        help="show a model version's status, risk and approvals",
        description="MODEL is a model id (m-…), NAME:VERSION, or NAME (its latest version).",
    )
    p.add_argument("model", metavar="NAME[:VERSION]|MODEL_ID")
    p.add_argument("--json", action="store_true", help="print as JSON (includes the card)")
    p.set_defaults(func=cmd_status)

    p = subparsers.add_parser("list", help="list model versions")
    p.add_argument("--status", help="only versions in this status, e.g. DEPLOYED")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_list)

    p = subparsers.add_parser(
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
