"""Nightly compliance report over many models: JSON for machines, self-contained HTML for people.

:func:`nightly_compliance_report` is the one call the nightly task makes: it evaluates the
compliance of every model (by default the DEPLOYED ones) with
:func:`governance.compliance.report.evaluate_compliance`, verifying the audit chain once for all of
them, compares the result with yesterday's JSON (when given), and returns ``(snapshot, html)``.

The HTML needs no network and no other file: inline CSS, no scripts. It opens with the verdict
(how many models pass, what changed since yesterday), then one summary row per model, then per
model each requirement's checks with their reasons and the evidence they looked at.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape
from pathlib import Path
from typing import Any

from governance.audit import format_ts, utc_now
from governance.checks.base import jsonable
from governance.errors import GovernanceError
from governance.lifecycle import ModelStatus
from governance.store.repository import GovernanceStore, ModelRecord

SNAPSHOT_VERSION = 1
TREND_NEW = "new"
TREND_FIXED = "fixed"
TREND_NOW_FAILING = "now failing"
TREND_STILL_FAILING = "still failing"
TREND_STILL_PASSING = "still passing"
TREND_NO_BASELINE = "no previous report"

ERR_NO_WORKFLOW = "no approval workflow is defined for risk tier {tier}: {problem}"


def _tier_steps(workflow_steps: Mapping[str, Sequence[str]] | None) -> tuple[dict[str, list[str]], str | None]:
    if workflow_steps is not None:
        return {k.lower(): list(v) for k, v in workflow_steps.items()}, None
    try:
        from governance.workflows import load_workflows

        return {k.lower(): list(v) for k, v in load_workflows().tiers.items()}, None
    except (ImportError, GovernanceError) as exc:
        return {}, str(exc)


def compare_with_previous(current: Mapping[str, Any], previous: Mapping[str, Any] | None) -> dict[str, Any]:
    """Per-model trend against yesterday's snapshot: new / fixed / now failing / still …, and which checks moved."""
    if not previous:
        return {"baseline": None, "models": {}, "removed": [], "failing_before": None}
    before = {m["model_id"]: m for m in previous.get("models") or []}
    trends: dict[str, Any] = {}
    for model in current.get("models") or []:
        old = before.get(model["model_id"])
        failing_now = set(_failing_ids(model))
        if old is None:
            trends[model["model_id"]] = {"trend": TREND_NEW, "newly_failing": sorted(failing_now), "fixed": []}
            continue
        failing_then = set(_failing_ids(old))
        if model["passed"] and old["passed"]:
            trend = TREND_STILL_PASSING
        elif model["passed"]:
            trend = TREND_FIXED
        elif old["passed"]:
            trend = TREND_NOW_FAILING
        else:
            trend = TREND_STILL_FAILING
        trends[model["model_id"]] = {
            "trend": trend,
            "newly_failing": sorted(failing_now - failing_then),
            "fixed": sorted(failing_then - failing_now),
        }
    current_ids = {m["model_id"] for m in current.get("models") or []}
    removed = [f"{m['model']} ({m['model_id']})" for m in before.values() if m["model_id"] not in current_ids]
    return {
        "baseline": previous.get("generated_at"),
        "models": trends,
        "removed": removed,
        "failing_before": sum(1 for m in before.values() if not m["passed"]),
    }


def _failing_ids(model: Mapping[str, Any]) -> list[str]:
    ids = [
        f"{req}/{check['id']}"
        for req, body in (model.get("requirements") or {}).items()
        for check in body.get("checks") or []
        if not check.get("passed")
    ]
    return ids + [f"blocker/{b}" for b in model.get("blockers") or []]


def build_compliance_snapshot(
    *,
    store: GovernanceStore,
    models: Sequence[ModelRecord] | None = None,
    workflow_steps: Mapping[str, Sequence[str]] | None = None,
    evidence_encrypted_at_rest: bool | None = None,
    reviewers: Mapping[str, Sequence[str]] | None = None,
    include_dir: Path | None = None,
    previous: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Evaluate every model's compliance (default: DEPLOYED models) into one JSON-safe snapshot.

    ``workflow_steps`` maps a risk tier (low…critical) to its approval steps; by default it comes from
    the workflow definition. ``previous`` is yesterday's snapshot, for the trend.
    """
    from governance.compliance.report import evaluate_compliance, load_requirements

    models = list(models) if models is not None else store.list_models(status=ModelStatus.DEPLOYED)
    tiers, tiers_problem = _tier_steps(workflow_steps)
    requirements = load_requirements(include_dir=include_dir)
    chain = store.audit.verify()
    reports = []
    for model in models:
        steps = tiers.get(model.risk_level.lower(), [])
        report = evaluate_compliance(
            model=model,
            store=store,
            workflow_steps=steps,
            evidence_encrypted_at_rest=evidence_encrypted_at_rest,
            reviewers=reviewers,
            include_dir=include_dir,
            requirements=requirements,
            chain=chain,
        ).to_dict()
        report["status"] = model.status.value
        report["workflow_steps"] = steps
        if model.risk_level.lower() not in tiers:
            report["notes"] = [ERR_NO_WORKFLOW.format(tier=model.risk_level, problem=tiers_problem or "not in file")]
        reports.append(report)
    snapshot: dict[str, Any] = {
        "version": SNAPSHOT_VERSION,
        "generated_at": format_ts(utc_now()),
        "audit_chain": {"ok": chain.ok, "events": chain.count, "summary": chain.summary()},
        "summary": {
            "models": len(reports),
            "passed": sum(1 for r in reports if r["passed"]),
            "failed": sum(1 for r in reports if not r["passed"]),
            "failed_checks": sum(len(_failing_ids(r)) for r in reports),
        },
        "models": reports,
    }
    snapshot["trend"] = compare_with_previous(snapshot, previous)
    return jsonable(snapshot)


def nightly_compliance_report(
    *,
    store: GovernanceStore,
    previous: Mapping[str, Any] | None = None,
    models: Sequence[ModelRecord] | None = None,
    workflow_steps: Mapping[str, Sequence[str]] | None = None,
    evidence_encrypted_at_rest: bool | None = None,
    include_dir: Path | None = None,
) -> tuple[dict[str, Any], str]:
    """``(snapshot JSON, HTML)`` for the nightly compliance report; see :func:`build_compliance_snapshot`.

    ``evidence_encrypted_at_rest`` defaults to the platform's declaration in configuration
    (:func:`governance.config.evidence_encrypted_at_rest`).
    """
    if evidence_encrypted_at_rest is None:
        from governance import config

        evidence_encrypted_at_rest = config.evidence_encrypted_at_rest()
    snapshot = build_compliance_snapshot(
        store=store,
        models=models,
        workflow_steps=workflow_steps,
        evidence_encrypted_at_rest=evidence_encrypted_at_rest,
        include_dir=include_dir,
        previous=previous,
    )
    return snapshot, render_compliance_html(snapshot)


# --------------------------------------------------------------------------- HTML

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;
margin:0 auto;max-width:1180px;padding:24px;color:#1c1c1c;background:#fff;line-height:1.45}
h1{font-size:1.7em;margin:0 0 4px}h2{font-size:1.3em;margin:28px 0 8px}h3{font-size:1.1em;margin:18px 0 6px}
.sub{color:#555;margin:0 0 18px}
.verdict{border-radius:8px;padding:16px 20px;margin:12px 0 20px;border:2px solid}
.verdict h2{margin:0 0 6px}
.verdict.flagged{background:#fdecea;border-color:#c0392b}
.verdict.clear{background:#eaf7ee;border-color:#2e7d32}
table{border-collapse:collapse;margin:8px 0 12px;font-size:.93em;width:100%}
th,td{border:1px solid #d0d0d0;padding:5px 9px;text-align:left;vertical-align:top}
th{background:#f2f2f2}
.badge{display:inline-block;border-radius:4px;padding:1px 7px;font-size:.85em;font-weight:600;margin:1px}
.pass{background:#e3f4e7;color:#1e6b2e}.fail{background:#fde2e1;color:#a12622}.na{background:#eee;color:#555}
tr.failed td{background:#fff4f3}
.evidence{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.85em;color:#333;word-break:break-word}
.note{color:#444;font-size:.92em}
details{margin:10px 0;border:1px solid #ddd;border-radius:6px;padding:6px 12px}
summary{cursor:pointer;font-weight:600}
"""


def _badge(passed: bool | None, text: str | None = None) -> str:
    if passed is None:
        return f'<span class="badge na">{escape(text or "n/a")}</span>'
    cls = "pass" if passed else "fail"
    return f'<span class="badge {cls}">{escape(text or ("pass" if passed else "FAIL"))}</span>'


def _evidence_html(evidence: Mapping[str, Any], limit: int = 400) -> str:
    parts = []
    for key, value in evidence.items():
        shown = value if isinstance(value, str) else _compact(value)
        parts.append(f"{key}={shown}")
    text = "; ".join(parts)
    text = text if len(text) <= limit else text[: limit - 3] + "..."
    return f'<span class="evidence">{escape(text)}</span>'


def _compact(value: Any) -> str:
    import json

    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


def _verdict(snapshot: Mapping[str, Any]) -> str:
    s = snapshot["summary"]
    trend = snapshot.get("trend") or {}
    chain = snapshot.get("audit_chain") or {}
    flagged = s["failed"] > 0 or not chain.get("ok", True)
    title = (
        f"{s['failed']} of {s['models']} models fail compliance"
        if s["failed"]
        else f"All {s['models']} models pass compliance"
    )
    lines = [f"<h2>{escape(title)}</h2>"]
    lines.append(f"<p>Audit trail: {_badge(chain.get('ok'), 'intact' if chain.get('ok') else 'BROKEN')} ")
    lines.append(f"{escape(str(chain.get('summary', '')))}</p>")
    if trend.get("baseline"):
        moved = trend.get("models") or {}
        now_failing = [m for m, t in moved.items() if t["trend"] == TREND_NOW_FAILING]
        fixed = [m for m, t in moved.items() if t["trend"] == TREND_FIXED]
        lines.append(
            f"<p>Since the report of {escape(str(trend['baseline']))}: {len(now_failing)} model(s) now failing, "
            f"{len(fixed)} fixed, {len(trend.get('removed') or [])} no longer in scope "
            f"(failing then: {trend.get('failing_before')}, now: {s['failed']}).</p>"
        )
    else:
        lines.append(f'<p class="note">{escape(TREND_NO_BASELINE)}: no trend shown.</p>')
    cls = "flagged" if flagged else "clear"
    return f'<div class="verdict {cls}">{"".join(lines)}</div>'


def _summary_table(snapshot: Mapping[str, Any]) -> str:
    trends = (snapshot.get("trend") or {}).get("models") or {}
    rows = [
        "<table><tr><th>Model</th><th>Status</th><th>Risk</th><th>EU AI Act</th>"
        "<th>Requirements</th><th>Result</th><th>Trend</th></tr>"
    ]
    for m in snapshot.get("models") or []:
        reqs = " ".join(
            _badge(body["passed"] if body.get("applicable", True) else None, name)
            for name, body in (m.get("requirements") or {}).items()
        )
        reqs = reqs or '<span class="note">none declared</span>'
        t = trends.get(m["model_id"])
        trend = escape(t["trend"]) if t else escape(TREND_NO_BASELINE)
        if t and t["newly_failing"]:
            trend += f'<br><span class="note">newly failing: {escape(", ".join(t["newly_failing"]))}</span>'
        if t and t["fixed"]:
            trend += f'<br><span class="note">fixed: {escape(", ".join(t["fixed"]))}</span>'
        rows.append(
            f'<tr class="{"" if m["passed"] else "failed"}"><td><a href="#{escape(m["model_id"])}">'
            f"{escape(m['model'])}</a></td><td>{escape(str(m.get('status', '')))}</td>"
            f"<td>{escape(m['risk_level'])}</td><td>{escape(m['eu_ai_act_category'])}</td>"
            f"<td>{reqs}</td><td>{_badge(m['passed'])}</td><td>{trend}</td></tr>"
        )
    rows.append("</table>")
    return "".join(rows)


def _model_section(m: Mapping[str, Any]) -> str:
    out = [f'<details id="{escape(m["model_id"])}"{"" if m["passed"] else " open"}>']
    out.append(
        f"<summary>{escape(m['model'])} ({escape(m['model_id'])}): {_badge(m['passed'])}</summary>"
        f'<p class="note">{escape(m.get("scope_note", ""))} Workflow: '
        f"{escape(', '.join(m.get('workflow_steps') or []) or 'none')}.</p>"
    )
    for note in m.get("notes") or []:
        out.append(f'<p class="note">{escape(note)}</p>')
    if m.get("blockers"):
        out.append("<p><strong>Blockers</strong></p><ul>")
        out += [f"<li>{escape(b)}</li>" for b in m["blockers"]]
        out.append("</ul>")
    for name, body in (m.get("requirements") or {}).items():
        state = _badge(body["passed"]) if body.get("applicable", True) else _badge(None, "not applicable")
        out.append(f"<h3>{escape(name)}: {escape(body.get('title', ''))} {state}</h3>")
        if body.get("note"):
            out.append(f'<p class="note">{escape(body["note"])}</p>')
        out.append("<table><tr><th>Check</th><th>Result</th><th>Why</th><th>Evidence looked at</th></tr>")
        for c in body.get("checks") or []:
            status = c.get("status")
            badge = _badge(None) if status == "not_applicable" else _badge(bool(c.get("passed")))
            ref = f" <span class='note'>({escape(c['reference'])})</span>" if c.get("reference") else ""
            why = "<br>".join(escape(r) for r in c.get("reasons") or []) if status != "passed" else ""
            out.append(
                f'<tr class="{"failed" if status == "failed" else ""}"><td><strong>{escape(c["id"])}</strong> '
                f"{escape(c.get('title', ''))}{ref}</td><td>{badge}</td><td>{why}</td>"
                f"<td>{_evidence_html(c.get('evidence') or {})}</td></tr>"
            )
        out.append("</table>")
    out.append("</details>")
    return "".join(out)


def render_compliance_html(snapshot: Mapping[str, Any]) -> str:
    """The snapshot as one self-contained HTML page (inline CSS, no scripts, no external resources)."""
    removed = (snapshot.get("trend") or {}).get("removed") or []
    removed_html = (
        "<h2>No longer in scope since the previous report</h2><ul>"
        + "".join(f"<li>{escape(r)}</li>" for r in removed)
        + "</ul>"
        if removed
        else ""
    )
    models = snapshot.get("models") or []
    body = "".join(_model_section(m) for m in models) or '<p class="note">No model in scope.</p>'
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>Compliance report {escape(str(snapshot.get('generated_at', '')))}</title>"
        f"<style>{_CSS}</style></head><body>"
        "<h1>Nightly compliance report</h1>"
        f'<p class="sub">Generated {escape(str(snapshot.get("generated_at", "")))} · '
        f"{snapshot['summary']['models']} model(s) · only the requirements each card declares are evaluated</p>"
        f"{_verdict(snapshot)}<h2>Models</h2>{_summary_table(snapshot)}{removed_html}"
        f"<h2>Details</h2>{body}</body></html>"
    )
