"""``governance bias audit``: audit a predictions table, write JSON and HTML reports.

The main ``governance`` command adds the ``bias`` group with :func:`register`;
``python -m governance.cli.bias`` runs the same commands on their own (:func:`main`).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from governance.cli.common import EXIT_FAIL, EXIT_OK, EXIT_USAGE, Common, SubParsers, print_error

EXIT_FLAGGED = EXIT_FAIL
"""``--fail-on-flag`` and an attribute raised the screening flag."""

ERR_NO_PROTECTED = "--protected: name at least one column, e.g. --protected sex,race,race*sex"
ERR_OUTPUT_FOLDER = "cannot write {path}: folder {folder} does not exist"
ERR_SAME_OUTPUT = "--json and --html must be different files (both are {path})"

PROGRESS_MIN_ROWS = 1_000_000
"""Inputs at least this large (or of unknown size) report progress on stderr."""
PROGRESS_EVERY_S = 1.0


def register(subparsers: SubParsers, common: Common) -> None:
    """Add the ``bias`` group with ``bias audit``."""
    bias = subparsers.add_parser(
        "bias",
        help="fairness audits of model predictions (fairlearn)",
        description="Fairness audits of binary model predictions; fairlearn defines the numbers.",
    )
    commands = bias.add_subparsers(dest="bias_command", metavar="COMMAND", required=True)
    p = commands.add_parser(
        "audit",
        help="audit a predictions table for group disparities",
        description=(
            "Per protected attribute (and intersection, e.g. race*sex): per-group selection "
            "rate, TPR, FPR, FNR, precision and accuracy; disparate impact (min/max selection "
            "rate) with the 0.8-1.2 screening band; demographic parity and equalized odds "
            "differences. Groups under --min-group-size are reported but never flagged. "
            "Exit 0 when the audit ran (even with flags, unless --fail-on-flag), 2 on bad input."
        ),
    )
    p.add_argument("predictions", metavar="PREDICTIONS", help="Parquet file or folder, local path or s3://bucket/key")
    p.add_argument("--label", required=True, metavar="COL", help="true outcome column (0/1)")
    p.add_argument("--prediction", required=True, metavar="COL", help="model decision column (0/1, 1 = favourable)")
    p.add_argument(
        "--protected",
        required=True,
        metavar="A,B[,A*B]",
        help="comma-separated protected columns; A*B audits an intersection",
    )
    p.add_argument("--score", metavar="COL", help="model score column (adds mean score per group)")
    p.add_argument("--timestamp", metavar="COL", help="timestamp column: its min/max become the report's time window")
    p.add_argument(
        "--min-group-size",
        type=int,
        default=30,
        metavar="N",
        help="groups with fewer rows are reported but not flagged (default 30)",
    )
    p.add_argument(
        "--bootstrap",
        type=int,
        default=0,
        metavar="N",
        help="bootstrap resamples for 95%% confidence intervals (default 0: none)",
    )
    p.add_argument("--model-name", metavar="NAME", help="model name shown in the report")
    p.add_argument("--model-version", metavar="VERSION", help="model version shown in the report")
    p.add_argument("--json", metavar="OUT", type=Path, help="write the JSON report here")
    p.add_argument("--html", metavar="OUT", type=Path, help="write the HTML report here")
    p.add_argument("--fail-on-flag", action="store_true", help="exit 1 when any attribute raises the screening flag")
    p.add_argument("--quiet", action="store_true", help="no progress output on stderr")
    p.set_defaults(func=cmd_bias_audit)


class _Progress:
    """Throttled progress lines on stderr: batches read, rows read (of total)."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.last = 0.0
        self.shown = False

    def __call__(self, batches: int, rows: int, total: int | None) -> None:
        if total is not None and total < PROGRESS_MIN_ROWS:
            return
        now = time.monotonic()
        if now - self.last < PROGRESS_EVERY_S and not (total is not None and rows >= total):
            return
        self.last = now
        of = f" of {total:,} ({100 * rows / total:.0f}%)" if total else ""
        print(f"read {batches:,} batches, {rows:,} rows{of}", file=self.stream, flush=True)
        self.shown = True


def _parse_protected(text: str) -> list[str]:
    items = [part.strip() for part in text.split(",") if part.strip()]
    if not items:
        raise ValueError(ERR_NO_PROTECTED)
    return items


def _check_outputs(paths: Sequence[Path | None]) -> None:
    chosen = [p for p in paths if p is not None]
    if len(chosen) == 2 and chosen[0].resolve() == chosen[1].resolve():
        raise ValueError(ERR_SAME_OUTPUT.format(path=chosen[0]))
    for path in chosen:
        folder = path.resolve().parent
        if not folder.is_dir():
            raise ValueError(ERR_OUTPUT_FOLDER.format(path=path, folder=folder))


def _summary(result: Any, *, source: str) -> list[str]:
    band = f"{result.band[0]:g}-{result.band[1]:g}"
    lines = [f"bias audit of {source}: {result.rows:,} rows"]
    width = max(len(name) for name in result.attributes)
    for name, attr in result.attributes.items():
        if attr.bias_detected is None:
            status = f"NOT ASSESSED ({attr.note})"
        elif attr.bias_detected:
            status = f"FLAG (outside {band}: {', '.join(attr.flagged_groups) or 'ratio'})"
        else:
            status = "ok"

        def fmt(value: float | None) -> str:
            return "n/a" if value is None or value != value else f"{value:.3f}"

        lines.append(
            f"  {name:<{width}}  DI {fmt(attr.disparate_impact)}  "
            f"DPD {fmt(attr.demographic_parity_difference)}  "
            f"EOD {fmt(attr.equalized_odds_difference)}  {status}"
        )
        if attr.small_groups:
            lines.append(f"  {'':<{width}}  small groups (reported, not flagged): {', '.join(attr.small_groups)}")
    verdict = "screening flag raised" if result.bias_detected else "no screening flag raised"
    lines.append(
        f"verdict: {verdict} (four-fifths rule band {band}: a screening flag, not a finding of discrimination)"
    )
    return lines


def cmd_bias_audit(args: argparse.Namespace) -> int:
    from governance._util import atomic_write  # tempfile: not loaded for other commands
    from governance.bias import AuditInputError, audit, preload

    try:
        protected = _parse_protected(args.protected)
        _check_outputs([args.json, args.html])
    except ValueError as exc:
        print_error(exc)
        return EXIT_USAGE
    progress = None if args.quiet else _Progress(sys.stderr)
    loaded_s = preload()
    try:
        result = audit(
            args.predictions,
            label=args.label,
            prediction=args.prediction,
            protected=protected,
            score=args.score,
            timestamp=args.timestamp,
            min_group_size=args.min_group_size,
            bootstrap=args.bootstrap,
            progress=progress,
        )
    except AuditInputError as exc:
        print_error(exc)
        return EXIT_USAGE
    extra = {"model_name": args.model_name, "model_version": args.model_version}
    report = result.to_dict()
    report["provenance"].update({k: v for k, v in extra.items() if v})
    outputs: list[tuple[Path, bytes]] = []
    if args.json is not None:
        outputs.append((args.json, (json.dumps(report, indent=2, allow_nan=False) + "\n").encode()))
    if args.html is not None:
        from governance.reports.bias_html import render_bias_html

        html = render_bias_html(report, provenance=report["provenance"])
        outputs.append((args.html, html.encode()))
    for path, data in outputs:
        atomic_write(path, data)
    for line in _summary(result, source=args.predictions):
        print(line)
    t = result.timings
    print(
        f"time: audit {t['total_s']:.3f} s (read and count {t['read_and_count_s']:.3f} s, fairlearn "
        f"{t['fairlearn_s'] + t['bootstrap_s']:.3f} s); loading pyarrow/fairlearn/scikit-learn {loaded_s:.1f} s"
    )
    for path, _ in outputs:
        print(f"wrote {path}")
    if args.fail_on_flag and result.bias_detected:
        return EXIT_FLAGGED
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m governance.cli.bias")
    register(parser.add_subparsers(dest="command", metavar="COMMAND", required=True), Common())
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
