"""``governance usage check / complete / summary`` and ``governance serve``: usage policies from the
command line, and the governance API in processes of its own.

``usage check`` and ``usage complete`` run the same in-process Python API a gateway reaches over
HTTP (:class:`governance.usage.UsageGovernor`) against ``GOVERNANCE_DB_URL`` and the policy file
(``GOVERNANCE_USAGE_POLICIES_FILE``); each writes its decision and audit event like a request
would. Nothing prints the input or output text (it may hold personal data): only its size and
SHA-256, the hash the audit trail records. ``usage summary`` counts decisions per model, user,
day and policy. ``serve`` runs :func:`governance.api.serve.create_serve_app` under uvicorn.

Exit status (beside :mod:`governance.cli.common`'s): :data:`EXIT_REFUSED` (3) when the usage
policies refuse the request (``check``) or the output (``complete``); 1 when the check could
not be made (store unreachable, policy file invalid: refused, fail closed), for an unknown model
or decision, and for a decision completed already; 2 for an input or output over the policy
file's limit and other usage errors.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from typing import TYPE_CHECKING, Any

from governance import config
from governance.cli.common import (
    EXIT_FAIL,
    EXIT_OK,
    EXIT_USAGE,
    Common,
    SubParsers,
    open_engine,
    print_error,
    print_json,
)
from governance.errors import GovernanceError

if TYPE_CHECKING:
    from governance.usage import Completion, Decision, UsageGovernor, Violation

EXIT_REFUSED = 3
"""``usage check`` / ``usage complete``: the usage policies refused the request or the output."""

DEFAULT_CALLER = "cli"
"""Caller recorded when neither ``--caller`` nor ``GOVERNANCE_USER`` names one."""
SERVE_APP = "governance.api.serve:create_serve_app"
LOG_LEVELS = ("critical", "error", "warning", "info", "debug", "trace")

ERR_TEXT_SOURCE = "give the {what} text with --{what} TEXT or --{what}-file PATH (- for stdin), not both"
ERR_TEXT_FILE = "cannot read --{what}-file {path}: {error}"
ERR_NOT_UTF8 = "--{what}-file {path} is not UTF-8 text (byte {position})"
ERR_METADATA = "--metadata {item!r} is not KEY=VALUE (e.g. --metadata request_id=r-17)"
ERR_PORT = "--port {value} is not a TCP port (1-65535)"
ERR_WORKERS = "--workers {value} must be at least 1"
LISTENING = (
    "governance API listening on http://{host}:{port} ({workers} worker(s), governance DB {db}): "
    "POST {prefix}/v1/usage/check, POST {prefix}/v1/usage/DECISION_ID/complete, "
    "GET {prefix}/v1/usage/summary; GET /health needs no token"
)
AUTH_NOTE = (
    "callers authenticate with Airflow tokens (Authorization: Bearer TOKEN from POST {airflow}/auth/token), "
    "validated with Airflow's auth manager and this process's Airflow configuration (AIRFLOW_HOME, "
    "AIRFLOW__API_AUTH__JWT_SECRET: the same as the Airflow API server's); only members of the group "
    "model-gateways of {groups} (and Airflow admins) may call the usage API"
)


# ----------------------------------------------------------------------------- arguments


def _metadata_item(item: str) -> tuple[str, Any]:
    """``KEY=VALUE``; a VALUE that reads back as a number or true/false is passed as one."""
    key, sep, value = item.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(ERR_METADATA.format(item=item))
    return key.strip(), _scalar(value)


def _scalar(value: str) -> Any:
    if value.lower() in ("true", "false"):
        return value.lower() == "true"
    for kind in (int, float):
        try:
            number = kind(value)
        except ValueError:
            continue
        if str(number) == value:  # "007" and "1e3" stay text: they do not read back the same
            return number
    return value


def _port(value: str) -> int:
    try:
        port = int(value)
    except ValueError:
        port = 0
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(ERR_PORT.format(value=value))
    return port


def _workers(value: str) -> int:
    try:
        workers = int(value)
    except ValueError:
        workers = 0
    if workers < 1:
        raise argparse.ArgumentTypeError(ERR_WORKERS.format(value=value))
    return workers


def _text(args: argparse.Namespace, what: str) -> str:
    """The input (or output) text from --WHAT or --WHAT-file (``-``: stdin); never echoed."""
    inline, path = getattr(args, what), getattr(args, f"{what}_file")
    if (inline is None) == (path is None):
        raise GovernanceError(ERR_TEXT_SOURCE.format(what=what))
    if inline is not None:
        return str(inline)
    try:
        if path == "-":
            stream = getattr(sys.stdin, "buffer", None)
            raw: bytes | str = stream.read() if stream is not None else sys.stdin.read()
        else:
            with open(path, "rb") as f:
                raw = f.read()
    except OSError as exc:
        raise GovernanceError(ERR_TEXT_FILE.format(what=what, path=path, error=exc.strerror or exc)) from None
    if isinstance(raw, str):
        return raw
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise GovernanceError(ERR_NOT_UTF8.format(what=what, path=path, position=exc.start)) from None


def _caller(args: argparse.Namespace) -> str:
    return str(args.caller or config.airflow_credentials()[0] or DEFAULT_CALLER)


def _metadata(args: argparse.Namespace) -> dict[str, Any]:
    return dict(args.metadata or [])


def _governor() -> UsageGovernor:
    from governance.usage import UsageGovernor

    return UsageGovernor(open_engine())


def _fingerprint(text: str) -> str:
    raw = text.encode("utf-8", "surrogatepass")  # as the governor hashes it
    return f"{len(raw)} bytes, sha256 {hashlib.sha256(raw).hexdigest()}"


# ----------------------------------------------------------------------------- output


def _violation_lines(title: str, items: list[Violation]) -> list[str]:
    if not items:
        return []
    lines = [f"  {title}:"]
    for v in items:
        lines.append(f"    - {v.policy_id} ({v.type}, severity {v.severity}): {v.reason}")
    return lines


def _decision_lines(model: str, text: str, d: Decision) -> list[str]:
    verdict = "COMPLIANT" if d.compliant else "REFUSED"
    head = f"{verdict}  {model}" + (f" (model {d.model_id})" if d.model_id else "")
    lines = [head, f"  decision: {d.decision_id or 'none (the check could not be made: fail closed)'}"]
    lines.append(f"  input:    {_fingerprint(text)}")
    if d.policy_sha256:
        lines.append(f"  policies: sha256 {d.policy_sha256}")
    lines += _violation_lines("violations", d.violations)
    lines += _violation_lines("warnings", d.warnings)
    if d.quota:
        lines.append("  quota:")
        for period, q in sorted(d.quota.items(), key=lambda kv: kv[0] != "hour"):
            lines.append(f"    {period + ':':<6}{q.remaining} of {q.limit} left, resets {q.resets_at}")
    return lines


def _completion_lines(text: str, c: Completion) -> list[str]:
    verdict = "COMPLIANT" if c.compliant else "REFUSED"
    lines = [f"{verdict}  output of decision {c.decision_id}", f"  output:   {_fingerprint(text)}"]
    lines += _violation_lines("violations", c.violations)
    lines += _violation_lines("warnings", c.warnings)
    return lines


def _table(title: str, key: str, label: str, rows: list[dict[str, Any]]) -> list[str]:
    lines = [title]
    if not rows:
        return [*lines, "  none"]
    width = max(len(label), *(len(str(r[key])) for r in rows))
    lines.append(f"  {label:<{width}}  {'REQUESTS':>8}  {'COMPLIANT':>9}  {'REFUSED':>7}")
    for r in rows:
        lines.append(f"  {str(r[key]):<{width}}  {r['requests']:>8}  {r['compliant']:>9}  {r['refused']:>7}")
    return lines


def _counts(title: str, label: str, counts: dict[str, int]) -> list[str]:
    lines = [title]
    if not counts:
        return [*lines, "  none"]
    width = max(len(label), *(len(k) for k in counts))
    lines.append(f"  {label:<{width}}  {'COUNT':>7}")
    lines += [f"  {k:<{width}}  {n:>7}" for k, n in counts.items()]
    return lines


def summary_lines(s: dict[str, Any]) -> list[str]:
    """The readable form of :func:`governance.usage.summary`'s answer."""
    from governance.usage.reporting import TOP_USERS

    t = s["total"]
    days = f"{s['since'] or 'first day'}..{s['until'] or 'last day'}"
    lines = [f"usage {days}: {t['requests']} requests, {t['compliant']} compliant, {t['refused']} refused", ""]
    lines += _table("per model", "model", "MODEL", s["by_model"])
    lines += ["", *_table(f"per user (top {TOP_USERS})", "user", "USER", s["by_user"][:TOP_USERS])]
    if len(s["by_user"]) > TOP_USERS:
        lines.append(f"  … and {len(s['by_user']) - TOP_USERS} more users (--json lists them all)")
    lines += ["", *_table("per day (UTC)", "day", "DAY", s["by_day"])]
    lines += ["", *_counts("refusals per policy", "POLICY", {r["policy_id"]: r["refused"] for r in s["by_policy"]})]
    lines += ["", *_counts("PII detections (requests)", "KIND", s["pii_detections"])]
    lines += ["", *_counts("content filter hits (requests)", "CATEGORY", s["content_filter_hits"])]
    return lines


# ----------------------------------------------------------------------------- commands


def cmd_check(args: argparse.Namespace) -> int:
    text = _text(args, "input")
    governor = _governor()
    try:
        decision = governor.check(
            model=args.model, user=args.user, input=text, caller=_caller(args), metadata=_metadata(args)
        )
    except ValueError as exc:  # an empty user; PayloadTooLargeError is a GovernanceError (exit 2)
        if isinstance(exc, GovernanceError):
            raise
        print_error(exc)
        return EXIT_USAGE
    if args.json:
        print_json(decision.to_dict())
    else:
        print("\n".join(_decision_lines(args.model, text, decision)))
    if decision.failed_closed:
        return EXIT_FAIL
    return EXIT_OK if decision.compliant else EXIT_REFUSED


def cmd_complete(args: argparse.Namespace) -> int:
    from governance.errors import DecisionCompletedError, DecisionNotFoundError

    text = _text(args, "output")
    governor = _governor()
    try:
        done = governor.complete(args.decision_id, output=text, caller=_caller(args), metadata=_metadata(args))
    except (DecisionNotFoundError, DecisionCompletedError) as exc:
        print_error(exc)
        return EXIT_FAIL
    if args.json:
        print_json(done.to_dict())
    else:
        print("\n".join(_completion_lines(text, done)))
    if done.failed_closed:
        return EXIT_FAIL
    return EXIT_OK if done.compliant else EXIT_REFUSED


def cmd_summary(args: argparse.Namespace) -> int:
    governor = _governor()
    try:
        s = governor.summary(model=args.model, user=args.user, since=args.since, until=args.until)
    except ValueError as exc:  # a bad date or range
        if isinstance(exc, GovernanceError):
            raise
        print_error(exc)
        return EXIT_USAGE
    if args.json:
        print_json(s, sort_keys=False)
    else:
        print("\n".join(summary_lines(s)))
    return EXIT_OK


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn
    from sqlalchemy.engine import make_url

    from governance.api.serve import PREFIX
    from governance.cli.common import safe_url
    from governance.store.engine import normalise_url

    db = safe_url(make_url(normalise_url(config.db_url())))
    print(LISTENING.format(host=args.host, port=args.port, workers=args.workers, db=db, prefix=PREFIX), flush=True)
    print(AUTH_NOTE.format(airflow=config.airflow_api_url(), groups=config.groups_file()), flush=True)
    uvicorn.run(
        SERVE_APP,
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_level=args.log_level,
    )
    return EXIT_OK


# ----------------------------------------------------------------------------- registration


class _HelpFormatter(argparse.HelpFormatter):
    """Fills each paragraph of a description; keeps a paragraph with indented lines (the
    epilog's examples) as written."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        paragraphs = []
        for para in text.split("\n\n"):
            if any(line.startswith(" ") for line in para.splitlines()):
                paragraphs.append("\n".join(indent + line for line in para.splitlines()))
            else:
                paragraphs.append(super()._fill_text(para, width, indent))
        return "\n\n".join(paragraphs)


def _text_arguments(p: argparse.ArgumentParser, what: str, meaning: str) -> None:
    group = p.add_mutually_exclusive_group(required=True)
    group.add_argument(f"--{what}", metavar="TEXT", help=f"{meaning} (never printed or logged)")
    group.add_argument(
        f"--{what}-file",
        metavar="PATH",
        help=f"read {meaning} from PATH, UTF-8; - reads stdin (keeps the text out of the shell history)",
    )


def _common_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--caller",
        help=f"who asks, recorded in the audit trail (default: GOVERNANCE_USER, else {DEFAULT_CALLER!r})",
    )
    p.add_argument(
        "--metadata",
        metavar="KEY=VALUE",
        action="append",
        type=_metadata_item,
        help="recorded with the decision, repeatable (numbers, true/false and short ids only; others are dropped)",
    )
    p.add_argument("--json", action="store_true", help="print the answer as the HTTP API's JSON")


def register(subparsers: SubParsers, common: Common) -> None:
    """Add the ``usage`` group (check, complete, summary) and ``serve``."""
    formatter = _HelpFormatter
    group = subparsers.add_parser(
        "usage",
        help="usage policies: check a request, complete an inference, summarise decisions",
        description="Usage policies at request time (include/policies/usage.yaml, or "
        "GOVERNANCE_USAGE_POLICIES_FILE), run in-process against GOVERNANCE_DB_URL.",
        epilog="example:\n  governance usage check product-recommender --user u-42 --input-file prompt.txt",
        formatter_class=formatter,
    )
    usage_sub = group.add_subparsers(dest="usage_command", metavar="COMMAND", required=True)

    p = usage_sub.add_parser(
        "check",
        help="may this end user make this request of this model now?",
        description="Check a request against the usage policies (model DEPLOYED, access control, content "
        "filter, data retention / PII, quotas) and record the decision and its audit event, as "
        "POST /governance/v1/usage/check does. Prints COMPLIANT or REFUSED, the decision id, each "
        "violation and warning, and the quota left; the input itself is never printed, only its size "
        f"and SHA-256.\n\nExit 0 compliant, {EXIT_REFUSED} refused by a policy, 1 the check could not be "
        "made (fail closed) or the model is unknown, 2 the input is over the limit.",
        epilog="examples:\n"
        "  governance usage check product-recommender --user u-42 --input 'Which blender?'\n"
        "  echo 'Which blender?' | governance usage check product-recommender:2.1.0 --user u-42 "
        "--input-file - --metadata request_id=r-17 --json",
        formatter_class=formatter,
    )
    p.add_argument("model", metavar="MODEL", help="NAME (its deployed version), NAME:VERSION or a model id")
    p.add_argument("--user", required=True, help="the end user's id in the calling application")
    _text_arguments(p, "input", "the request text the model would receive")
    _common_arguments(p)
    p.set_defaults(func=cmd_check)

    p = usage_sub.add_parser(
        "complete",
        help="check a model's output and record the inference of a compliant check",
        description="Check the model's output against the output policies and record the inference "
        "(SHA-256 of input and output) for DECISION_ID, as POST /governance/v1/usage/DECISION_ID/complete "
        f"does. A decision is completed once.\n\nExit 0 compliant, {EXIT_REFUSED} the output is refused, "
        "1 unknown decision, completed already or refused at check time, 2 the output is over the limit.",
        epilog="example:\n  governance usage complete 5c1e0b7a9f2d4e61b0c3a8d7e6f5a4b3 --output-file answer.txt",
        formatter_class=formatter,
    )
    p.add_argument("decision_id", metavar="DECISION_ID", help="the decision id a check answered")
    _text_arguments(p, "output", "the model's answer")
    _common_arguments(p)
    p.set_defaults(func=cmd_complete)

    p = usage_sub.add_parser(
        "summary",
        help="compliant and refused requests per model, user, day and policy",
        description="Counts of usage decisions for the UTC days SINCE..UNTIL (inclusive): per model, the "
        "top users, per day, refusals per policy, PII detections and content filter hits.",
        epilog="example:\n  governance usage summary --model product-recommender --since 2026-12-01 --until 2026-12-07",
        formatter_class=formatter,
    )
    p.add_argument("--model", help="NAME, NAME:VERSION or a model id")
    p.add_argument("--user", help="an end user's id (as the gateway sends it)")
    p.add_argument("--since", metavar="DATE", help="first UTC day, YYYY-MM-DD (or an ISO time)")
    p.add_argument("--until", metavar="DATE", help="last UTC day, YYYY-MM-DD (or an ISO time)")
    p.add_argument("--json", action="store_true", help="print the summary as JSON (every user)")
    p.set_defaults(func=cmd_summary)

    p = subparsers.add_parser(
        "serve",
        help="run the governance API (usage checks) under uvicorn, beside Airflow's API server",
        description="Serve the governance API under /governance (the same paths as in Airflow's API "
        "server) and /health, with uvicorn worker processes. Callers authenticate with Airflow tokens, "
        "validated with this process's Airflow configuration: run it with the same AIRFLOW_HOME / "
        "AIRFLOW__API_AUTH__JWT_SECRET as the Airflow API server. Quotas stay exact across workers.",
        epilog="example:\n  governance serve --host 0.0.0.0 --port 8090 --workers 4",
        formatter_class=formatter,
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=_port, default=8090, help="TCP port (default 8090)")
    p.add_argument("--workers", type=_workers, default=2, help="uvicorn worker processes (default 2)")
    p.add_argument("--log-level", default="info", choices=LOG_LEVELS, help="uvicorn's log level (default info)")
    p.set_defaults(func=cmd_serve)
