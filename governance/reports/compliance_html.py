"""The nightly compliance report as one self-contained HTML page, for people.

:func:`render_compliance_html` renders a snapshot of :func:`governance.compliance.snapshot.build_compliance_snapshot`
(the JSON for machines; the trend is :mod:`governance.compliance.trend`'s). The HTML needs no
network and no other file: inline CSS, no scripts. It opens with the verdict (how many models
pass, what changed since yesterday, usage findings), then one summary row per model, the usage
section of the report's day (:mod:`governance.compliance.usage`: findings flagged first, then per
model requests, refusals, top end users, PII detections and content-filter hits), then per model
each requirement's checks with their reasons and the evidence they looked at. Every string from
the data (model names, end-user ids, policy ids) is escaped.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from html import escape
from typing import Any

from governance.compliance.trend import TREND_FIXED, TREND_NOW_FAILING

TREND_NO_BASELINE = "no previous report"
"""Shown instead of a trend when there is no previous report to compare with."""

HASH_PREFIX = "sha256:"
"""End-user ids stored as a hash (``sha256:<hex>``) are shown shortened to this prefix and
:data:`HASH_SHOWN` hex digits (the whole id in the title)."""
HASH_SHOWN = 12
USAGE_FINDINGS_TITLE = "Served while not DEPLOYED"

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
.finding{background:#fdecea;border:2px solid #c0392b;border-radius:8px;padding:8px 16px;margin:8px 0 14px}
.finding h3{margin:4px 0;color:#a12622}
.num{text-align:right;font-variant-numeric:tabular-nums}
.uid{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.9em}
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
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


def _verdict(snapshot: Mapping[str, Any]) -> str:
    s = snapshot["summary"]
    trend = snapshot.get("trend") or {}
    chain = snapshot.get("audit_chain") or {}
    findings = (snapshot.get("usage") or {}).get("findings") or []
    flagged = s["failed"] > 0 or not chain.get("ok", True) or bool(findings)
    title = (
        f"{s['failed']} of {s['models']} models fail compliance"
        if s["failed"]
        else f"All {s['models']} models pass compliance"
    )
    if findings:
        title += f"; {len(findings)} usage finding(s)"
    lines = [f"<h2>{escape(title)}</h2>"]
    for f in findings:
        lines.append(f"<p>{_badge(False, 'usage finding')} {escape(str(f.get('reason', '')))}</p>")
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


def _user(user: str) -> str:
    """An end-user id as stored, escaped; a ``sha256:`` hash shortened (the whole id in the title)."""
    shown = user
    if user.startswith(HASH_PREFIX) and len(user) > len(HASH_PREFIX) + HASH_SHOWN:
        shown = user[: len(HASH_PREFIX) + HASH_SHOWN] + "\u2026"
    return f'<span class="uid" title="{escape(user)}">{escape(shown)}</span>'


def _counts(counts: Mapping[str, Any] | None) -> str:
    """``{"a": 2, "b": 1}`` as ``a 2, b 1`` (escaped), or "none"."""
    if not counts:
        return '<span class="note">none</span>'
    return escape(", ".join(f"{k} {v}" for k, v in counts.items()))


def _both(counts: Mapping[str, Any] | None) -> str:
    counts = counts or {}
    return f"input: {_counts(counts.get('input'))}<br>output: {_counts(counts.get('output'))}"


def _findings_html(findings: list[Mapping[str, Any]]) -> str:
    if not findings:
        return ""
    out = [
        f'<div class="finding" id="usage-findings"><h3>{escape(USAGE_FINDINGS_TITLE)}: '
        f"{len(findings)} finding(s)</h3><table><tr><th>Model</th><th>Status at request time</th>"
        "<th>Requests served</th><th>Completed inferences</th><th>Failed check</th></tr>"
    ]
    for f in findings:
        out.append(
            f'<tr class="failed"><td>{escape(str(f.get("model", "")))} '
            f'<span class="note">({escape(str(f.get("model_id", "")))})</span></td>'
            f"<td>{_badge(False, str(f.get('status', '')))}</td>"
            f'<td class="num">{int(f.get("requests", 0))}</td><td class="num">{int(f.get("completed", 0))}</td>'
            f"<td>{escape(str(f.get('check', '')))}</td></tr>"
        )
    out.append("</table></div>")
    return "".join(out)


def _usage_model(m: Mapping[str, Any], top: int) -> str:
    out = [
        f'<details id="usage-{escape(str(m["model_id"]))}"><summary>{escape(str(m["model"]))}: '
        f"{int(m.get('requests', 0))} request(s) from {int(m.get('users', 0))} end user(s)</summary>"
    ]
    users = m.get("top_users") or []
    if users:
        out.append(
            f"<p><strong>Top {top} end users by requests</strong></p><table><tr><th>End user (as stored)</th>"
            "<th>Requests</th><th>Compliant</th><th>Refused</th></tr>"
        )
        out += [
            f'<tr><td>{_user(str(u["user"]))}</td><td class="num">{int(u["requests"])}</td>'
            f'<td class="num">{int(u["compliant"])}</td><td class="num">{int(u["refused"])}</td></tr>'
            for u in users
        ]
        out.append("</table>")
    out.append(
        "<table><tr><th>PII detections by kind</th><th>Content-filter hits by category</th>"
        "<th>Outputs refused by policy</th></tr>"
        f"<tr><td>{_both(m.get('pii_detections'))}</td><td>{_both(m.get('content_filter_hits'))}</td>"
        f"<td>{_counts(m.get('outputs_refused_by_policy'))}</td></tr></table></details>"
    )
    return "".join(out)


def _usage_section(usage: Mapping[str, Any] | None) -> str:
    if not usage:
        return ""
    t = usage.get("totals") or {}
    top = int(usage.get("top_users", 10))
    out = [
        f'<h2 id="usage">Usage on {escape(str(usage.get("day", "")))} (UTC)</h2>'
        f'<p class="note">{int(t.get("requests", 0))} usage check(s) of {int(t.get("models", 0))} model(s) by '
        f"{int(t.get('users', 0))} end user(s): {int(t.get('compliant', 0))} compliant, "
        f"{int(t.get('refused', 0))} refused; {int(t.get('completed', 0))} completed inference(s), "
        f"{int(t.get('outputs_refused', 0))} output(s) refused. Below, each DEPLOYED model; end users "
        "as stored (pseudonymous ids, or sha256: hashes, shortened).</p>",
        _findings_html(list(usage.get("findings") or [])),
    ]
    models = usage.get("models") or []
    if not models:
        out.append('<p class="note">No DEPLOYED model in scope.</p>')
        return "".join(out)
    out.append(
        "<table><tr><th>Model</th><th>Requests</th><th>Compliant</th><th>Refused</th><th>Refused by policy</th>"
        "<th>Completed inferences</th><th>Outputs refused</th></tr>"
    )
    for m in models:
        out.append(
            f'<tr><td><a href="#usage-{escape(str(m["model_id"]))}">{escape(str(m["model"]))}</a></td>'
            f'<td class="num">{int(m.get("requests", 0))}</td><td class="num">{int(m.get("compliant", 0))}</td>'
            f'<td class="num">{int(m.get("refused", 0))}</td><td>{_counts(m.get("refused_by_policy"))}</td>'
            f'<td class="num">{int(m.get("completed", 0))}</td><td class="num">{int(m.get("outputs_refused", 0))}</td>'
            "</tr>"
        )
    out.append("</table>")
    out += [_usage_model(m, top) for m in models]
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
        f"{_usage_section(snapshot.get('usage'))}"
        f"<h2>Details</h2>{body}</body></html>"
    )
