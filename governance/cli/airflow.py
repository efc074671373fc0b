"""``governance submit / reviews / review``: the Airflow side of the CLI (``governance.cli.airflow``).

These talk to Airflow's REST API as a logged-in user (GOVERNANCE_AIRFLOW_URL, default
http://localhost:8080). The user name and password come from GOVERNANCE_USER and
GOVERNANCE_PASSWORD or are asked for at a prompt; they are kept in memory only.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from governance import config
from governance.cli.common import EXIT_FAIL, EXIT_OK, Common, SubParsers, print_json
from governance.errors import GovernanceError

ERR_NO_CREDENTIALS = (
    "no Airflow credentials: set GOVERNANCE_USER and GOVERNANCE_PASSWORD, or run from a terminal to be asked"
)


def client_from_env() -> Any:
    import getpass

    from governance.airflow_client import AirflowClient

    user, password = config.airflow_credentials()
    if not user or not password:
        if not sys.stdin.isatty():
            raise GovernanceError(ERR_NO_CREDENTIALS)
        user = user or input("Airflow user: ").strip()
        password = password or getpass.getpass(f"Password for {user}: ")
    return AirflowClient(base_url=config.airflow_api_url(), username=user, password=password)


def cmd_submit(args: argparse.Namespace) -> int:
    from governance.airflow_client import SUBMISSION_DAG
    from governance.cards import load_card

    card = load_card(args.card)  # refuse a bad card before anything reaches Airflow
    client = client_from_env()
    run = client.submit(card.model_dump(mode="json", exclude_none=True))
    run_id = run["dag_run_id"]
    print(f"submitted {card.name} {card.version} as {client.username}: {SUBMISSION_DAG} run {run_id}")
    if not args.wait:
        return EXIT_OK
    run = client.wait_run(SUBMISSION_DAG, run_id, timeout=args.timeout)
    if run["state"] != "success":
        print(f"submission run {run_id} {run['state']}; see the Airflow UI for the failed task", file=sys.stderr)
        return EXIT_FAIL
    assessed = client.xcom(SUBMISSION_DAG, run_id, "assess_risk")
    model_id = assessed["model_id"]
    print(f"registered {model_id}, risk {assessed['level']} → model_approval_{assessed['tier']}")
    approval_run = _wait_for_approval_run(client, model_id, timeout=60)
    dag_id = f"model_approval_{assessed['tier']}"
    print(f"waiting for {dag_id} run {approval_run} (reviewers answer in Required Actions) …", flush=True)
    run = client.wait_run(dag_id, approval_run, timeout=args.timeout, poll=2.0)
    decision = client.xcom(dag_id, approval_run, "record_decision")
    print(json.dumps(decision, indent=2) if args.json else _decision_line(decision))
    return EXIT_OK if decision.get("status") == "APPROVED" else EXIT_FAIL


def _decision_line(decision: dict[str, Any]) -> str:
    if decision.get("status") == "APPROVED":
        return f"{decision['model_id']} APPROVED by {', '.join(decision.get('approved_by') or [])}"
    return f"{decision['model_id']} {decision.get('status')}: failed step {decision.get('failed_step')}: " + "; ".join(
        decision.get("reasons") or []
    )


def _wait_for_approval_run(client: Any, model_id: str, *, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = client.approval_runs(model_id)
        if runs:
            return str(runs[0]["dag_run_id"])
        time.sleep(1)
    raise GovernanceError(f"no approval run appeared for {model_id} within {timeout:.0f} s")


def cmd_reviews(args: argparse.Namespace) -> int:
    client = client_from_env()
    reviews = client.pending_reviews(mine=not args.all)
    if args.json:
        print_json(reviews, sort_keys=False)
        return EXIT_OK
    if not reviews:
        print(f"no pending reviews for {client.username}")
        return EXIT_OK
    for r in reviews:
        print(f"{r['model_id'] or '-':<15} {r['task_id']:<26} {' / '.join(r['options']):<18} {r['subject']}")
    return EXIT_OK


def cmd_review(args: argparse.Namespace) -> int:
    client = client_from_env()
    done = client.review(args.model_id, approve=args.approve, comment=args.comment or "")
    print(f"{done['task_id']} of {args.model_id}: answered {done['answered']} as {client.username}")
    return EXIT_OK


def register(subparsers: SubParsers, common: Common) -> None:
    """Add submit, reviews and review."""
    p = subparsers.add_parser(
        "submit",
        help="submit a model card for review (triggers model_submission as you)",
        description="Validate CARD locally, then trigger the model_submission DAG through Airflow's REST API "
        "as the logged-in user, who becomes the model's owner. --wait follows the run and the approval "
        "workflow to the final status (exit 0 if APPROVED).",
    )
    p.add_argument("card", metavar="CARD.yaml")
    p.add_argument("--wait", action="store_true", help="follow to the final status")
    p.add_argument("--timeout", type=float, default=3600, help="seconds to wait with --wait (default 3600)")
    p.add_argument("--json", action="store_true", help="print the final decision as JSON (with --wait)")
    p.set_defaults(func=cmd_submit)

    p = subparsers.add_parser("reviews", help="list review requests waiting for you")
    p.add_argument("--all", action="store_true", help="every pending request, not just yours")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_reviews)

    p = subparsers.add_parser("review", help="answer your pending review of a model")
    p.add_argument("model_id", metavar="MODEL_ID")
    group = p.add_mutually_exclusive_group(required=True)
    group.add_argument("--approve", action="store_true", help="the positive answer (Pass / Confirm / Approve)")
    group.add_argument("--reject", action="store_true", help="the negative answer (Fail / Reject)")
    p.add_argument("--comment", help="why (recorded in the audit trail)")
    p.set_defaults(func=cmd_review)
