"""Self-contained HTML bias report, written for a risk officer reading it without help.

Verdict first, then one row per attribute, then data provenance, then per attribute a
chart (selection rate, TPR, FPR per group with the 0.8-1.2 band around the reference
group) and the full table. Charts are PNGs drawn with matplotlib's Agg canvas and
embedded as ``data:`` URIs: the file needs no network and no other file.
"""

from __future__ import annotations

import base64
import io
import re
from collections.abc import Mapping
from html import escape
from typing import Any

from governance.bias._result import FOUR_FIFTHS_NOTE

FLAG_COLOUR = "#c0392b"
SMALL_COLOUR = "#b0b0b0"
OK_COLOUR = "#2c7fb8"
REFERENCE_COLOUR = "#1b4f72"
BAND_COLOUR = "#f5b041"

CHART_METRICS = (("selection_rate", "Selection rate"), ("tpr", "True positive rate"), ("fpr", "False positive rate"))
TABLE_METRICS = (
    ("selection_rate", "Selection rate"),
    ("tpr", "TPR"),
    ("fpr", "FPR"),
    ("fnr", "FNR"),
    ("precision", "Precision"),
    ("accuracy", "Accuracy"),
)
DEFINITIONS = (
    ("Selection rate", "share of the group that received the favourable prediction (1)."),
    (
        "Ratio to reference",
        "the group's selection rate divided by the reference group's "
        "(by default the group with the highest selection rate).",
    ),
    (
        "Disparate impact",
        "lowest selection rate divided by the highest, over the groups large enough to compare. 1.0 means equal rates.",
    ),
    ("Demographic parity difference", "highest minus lowest selection rate (0 = equal)."),
    (
        "Equalized odds difference",
        "the larger of the gaps in true positive rate and in "
        "false positive rate between groups (0 = the model errs alike for every group).",
    ),
    (
        "TPR / FPR / FNR",
        "true positive rate (positives correctly selected), false positive "
        "rate (negatives wrongly selected), false negative rate (positives missed).",
    ),
    (
        "Small group",
        "fewer rows than the minimum group size: its figures are shown but "
        "too noisy to compare, so it never raises a flag.",
    ),
)

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;
margin:0 auto;max-width:1180px;padding:24px;color:#1c1c1c;background:#fff;line-height:1.45}
h1{font-size:1.7em;margin:0 0 4px}h2{font-size:1.3em;margin:28px 0 8px}
.sub{color:#555;margin:0 0 18px}
.verdict{border-radius:8px;padding:16px 20px;margin:12px 0 20px;border:2px solid}
.verdict h2{margin:0 0 6px}
.verdict.flagged{background:#fdecea;border-color:#c0392b}
.verdict.clear{background:#eaf7ee;border-color:#2e7d32}
.verdict.partial{background:#fff8e1;border-color:#f0a500}
.note{color:#444;font-size:.92em}
table{border-collapse:collapse;margin:8px 0 12px;font-size:.95em}
th,td{border:1px solid #d0d0d0;padding:5px 9px;text-align:right}
th{background:#f2f2f2}
td:first-child,th:first-child,td.text{text-align:left}
tr.flagged td{background:#fde2e1;font-weight:600}
tr.small td{color:#777;font-style:italic}
tr.reference td:first-child::after{content:" (reference)";font-weight:400;color:#1b4f72}
.badge{display:inline-block;border-radius:4px;padding:1px 7px;font-size:.85em;font-weight:600}
.badge.flag{background:#c0392b;color:#fff}.badge.ok{background:#2e7d32;color:#fff}
.badge.na{background:#f0a500;color:#fff}.badge.small{background:#b0b0b0;color:#fff}
img.chart{max-width:100%;height:auto;border:1px solid #eee}
dl dt{font-weight:600}dl dd{margin:0 0 6px 0}
.prov th{text-align:left;width:220px}.prov td{text-align:left}
"""


def _fmt_rate(value: Any) -> str:
    return "n/a" if value is None else f"{100 * float(value):.1f}%"


def _fmt_num(value: Any, digits: int = 3) -> str:
    return "n/a" if value is None else f"{float(value):.{digits}f}"


def _fmt_ci(ci: Any, *, rate: bool) -> str:
    if not ci or ci[0] is None or ci[1] is None:
        return ""
    if rate:
        return f' <span class="note">({_fmt_rate(ci[0])}–{_fmt_rate(ci[1])})</span>'
    return f' <span class="note">({_fmt_num(ci[0])}–{_fmt_num(ci[1])})</span>'


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "attribute"


def _undefined(metric: str, group: Mapping[str, Any]) -> str | None:
    """Why a rate has no meaning for this group (fairlearn then reports 0)."""
    c = group.get("confusion") or {}
    if not c:
        return None
    positives = c["tp"] + c["fn"]
    negatives = c["fp"] + c["tn"]
    if metric in ("tpr", "fnr") and positives == 0:
        return "no positive labels in this group"
    if metric == "fpr" and negatives == 0:
        return "no negative labels in this group"
    if metric == "precision" and c["tp"] + c["fp"] == 0:
        return "no positive predictions in this group"
    return None


def _status_badge(attr: Mapping[str, Any]) -> str:
    if attr.get("bias_detected") is True:
        return '<span class="badge flag">FLAG</span>'
    if attr.get("bias_detected") is None:
        return '<span class="badge na">NOT ASSESSED</span>'
    return '<span class="badge ok">within band</span>'


def _verdict(result: Mapping[str, Any], band: tuple[float, float]) -> str:
    attributes: Mapping[str, Any] = result.get("attributes", {})
    flagged = [n for n, a in attributes.items() if a.get("bias_detected") is True]
    unassessed = [n for n, a in attributes.items() if a.get("bias_detected") is None]
    low, high = band
    lines = []
    if flagged:
        css, title = "flagged", "Screening flag raised"
        for name in flagged:
            attr = attributes[name]
            groups = attr.get("groups", {})
            parts = []
            for g in attr.get("flagged_groups", []):
                ratio = groups.get(g, {}).get("impact_ratio")
                parts.append(
                    f"<b>{escape(g)}</b> (selection rate {_fmt_rate(groups.get(g, {}).get('selection_rate'))}, "
                    f"{_fmt_num(ratio, 2)}× the reference group "
                    f"<b>{escape(str(attr.get('reference_group')))}</b>)"
                )
            lines.append(
                f"<li><b>{escape(name)}</b>: disparate impact "
                f"{_fmt_num(attr.get('disparate_impact'), 2)} (band {low:g}–{high:g})"
                + (f"; groups outside the band: {', '.join(parts)}" if parts else "")
                + "</li>"
            )
        summary = (
            f"{len(flagged)} of {len(attributes)} attribute(s) show selection rates outside "
            f"the {low:g}–{high:g} band. Review these before relying on the model:"
        )
    elif unassessed:
        css, title = "partial", "No screening flag raised (some attributes not assessed)"
        summary = (
            f"No attribute that could be assessed is outside the {low:g}–{high:g} band, but "
            f"{len(unassessed)} attribute(s) had fewer than two groups large enough to "
            f"compare: {escape(', '.join(unassessed))}."
        )
    else:
        css, title = "clear", "No screening flag raised"
        summary = (
            f"For every attribute, every group's selection rate is within {low:g}–{high:g}× the reference group's."
        )
    items = f"<ul>{''.join(lines)}</ul>" if lines else ""
    return (
        f'<section class="verdict {css}" id="verdict"><h2>Verdict: {escape(title)}</h2>'
        f"<p>{summary}</p>{items}"
        f'<p class="note">{escape(FOUR_FIFTHS_NOTE)}</p></section>'
    )


def _summary_table(result: Mapping[str, Any]) -> str:
    rows = []
    for name, attr in result.get("attributes", {}).items():
        ci = attr.get("ci") or {}
        compared = sum(1 for g in attr.get("groups", {}).values() if not g.get("small"))
        rows.append(
            "<tr>"
            f'<td><a href="#attr-{_slug(name)}">{escape(name)}</a></td>'
            f"<td>{compared} of {len(attr.get('groups', {}))}</td>"
            f"<td>{_fmt_num(attr.get('disparate_impact'))}"
            f"{_fmt_ci(ci.get('disparate_impact'), rate=False)}</td>"
            f"<td>{_fmt_num(attr.get('demographic_parity_difference'))}"
            f"{_fmt_ci(ci.get('demographic_parity_difference'), rate=False)}</td>"
            f"<td>{_fmt_num(attr.get('equalized_odds_difference'))}"
            f"{_fmt_ci(ci.get('equalized_odds_difference'), rate=False)}</td>"
            f'<td class="text">{escape(", ".join(attr.get("flagged_groups", [])) or "—")}</td>'
            f"<td>{_status_badge(attr)}</td>"
            "</tr>"
        )
    return (
        '<section id="summary"><h2>Summary by attribute</h2><table>'
        "<tr><th>Attribute</th><th>Groups compared</th><th>Disparate impact</th>"
        "<th>Demographic parity difference</th><th>Equalized odds difference</th>"
        "<th>Flagged groups</th><th>Status</th></tr>" + "".join(rows) + "</table></section>"
    )


def _window_text(window: Any) -> str:
    if not window:
        return "not recorded"
    if isinstance(window, Mapping):
        column = f" (column {window.get('column')})" if window.get("column") else ""
        return f"{window.get('start')} → {window.get('end')}{column}"
    return str(window)


def _provenance_table(result: Mapping[str, Any], provenance: Mapping[str, Any]) -> str:
    method = result.get("method") or {}
    fixed = [
        ("Model", provenance.get("model_name") or "not recorded"),
        ("Model version", provenance.get("model_version") or "not recorded"),
        ("Data source", provenance.get("source") or "not recorded"),
        ("Rows audited", f"{int(provenance.get('rows', result.get('rows', 0))):,}"),
        ("Time window", _window_text(provenance.get("time_window"))),
        ("Label / prediction columns", f"{result.get('label')} / {result.get('prediction')}"),
        ("Minimum group size", str(result.get("min_group_size"))),
        ("Generated at", provenance.get("generated_at") or "not recorded"),
        (
            "Computed with",
            f"fairlearn {method.get('fairlearn_version', '?')}, scikit-learn {method.get('scikit_learn_version', '?')}",
        ),
    ]
    shown = {"model_name", "model_version", "source", "rows", "time_window", "generated_at", "batches"}
    extra = [(k.replace("_", " ").capitalize(), v) for k, v in provenance.items() if k not in shown]
    body = "".join(f"<tr><th>{escape(str(k))}</th><td>{escape(str(v))}</td></tr>" for k, v in fixed + extra)
    return f'<section id="provenance"><h2>Data and model</h2><table class="prov">{body}</table></section>'


def _chart(name: str, attr: Mapping[str, Any], band: tuple[float, float]) -> str:
    """Bars per group for selection rate, TPR and FPR with the band around the reference."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    groups = list(attr.get("groups", {}).items())
    reference = attr.get("reference_group")
    low, high = band
    height = 1.6 + 0.34 * max(len(groups), 2)
    fig = Figure(figsize=(11.5, height), dpi=96)
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, len(CHART_METRICS), sharey=True)
    labels = [g for g, _ in groups]
    positions = list(range(len(groups)))
    for ax, (metric, title) in zip(axes, CHART_METRICS, strict=True):
        values = [(v.get(metric) if v.get(metric) is not None else 0.0) for _, v in groups]
        colours = [
            FLAG_COLOUR if v.get("flagged") else SMALL_COLOUR if v.get("small") else OK_COLOUR for _, v in groups
        ]
        ref_value = attr["groups"][reference].get(metric) if reference in attr.get("groups", {}) else None
        if ref_value:
            ax.axvspan(low * ref_value, min(high * ref_value, 1.0), color=BAND_COLOUR, alpha=0.25, lw=0)
            ax.axvline(ref_value, color=REFERENCE_COLOUR, lw=1.2, ls="--")
        bars = ax.barh(positions, values, color=colours, height=0.65)
        for bar, (_, v) in zip(bars, groups, strict=True):
            if v.get("small"):
                bar.set_hatch("//")
            text = _fmt_rate(v.get(metric)) if _undefined(metric, v) is None else "n/a"
            ax.text(bar.get_width() + 0.01, bar.get_y() + bar.get_height() / 2, text, va="center", fontsize=8)
        ax.set_xlim(0, 1.12)
        ax.set_title(title, fontsize=10)
        ax.grid(axis="x", alpha=0.3)
    axes[0].set_yticks(positions, labels=labels, fontsize=9)
    axes[0].invert_yaxis()
    handles = [
        Patch(color=OK_COLOUR, label="compared"),
        Patch(color=FLAG_COLOUR, label="flagged (selection rate outside band)"),
        Patch(facecolor=SMALL_COLOUR, hatch="//", label="small group (not compared)"),
        Patch(color=BAND_COLOUR, alpha=0.25, label=f"{low:g}–{high:g} × reference group"),
    ]
    fig.legend(handles=handles, loc="lower center", ncol=4, fontsize=8, frameon=False)
    title = f"{name}: rates by group"
    if reference is not None:
        title += f" (dashed line: reference group {reference})"
    fig.suptitle(title, fontsize=11)
    fig.tight_layout(rect=(0, 0.08, 1, 0.95))
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    alt = f"Bar charts of selection rate, true positive rate and false positive rate for each {name} group"
    return f'<img class="chart" alt="{escape(alt)}" src="data:image/png;base64,{data}">'


def _attribute_section(name: str, attr: Mapping[str, Any], band: tuple[float, float], min_group_size: int) -> str:
    groups: Mapping[str, Any] = attr.get("groups", {})
    reference = attr.get("reference_group")
    with_score = any("mean_score" in g for g in groups.values())
    head = "".join(f"<th>{escape(label)}</th>" for _, label in TABLE_METRICS)
    head = (
        "<tr><th>Group</th><th>Rows</th>"
        + head
        + "<th>Ratio to reference</th>"
        + ("<th>Mean score</th>" if with_score else "")
        + "<th>Status</th></tr>"
    )
    rows = []
    for gname, g in groups.items():
        classes = [
            c
            for c, on in (("flagged", g.get("flagged")), ("small", g.get("small")), ("reference", gname == reference))
            if on
        ]
        cells = [f"<td>{escape(gname)}</td>", f"<td>{int(g.get('count', 0)):,}</td>"]
        ci = g.get("ci") or {}
        for metric, _ in TABLE_METRICS:
            why = _undefined(metric, g)
            if why:
                cells.append(f'<td class="undefined" title="{escape(why)}">—</td>')
            else:
                cells.append(f"<td>{_fmt_rate(g.get(metric))}{_fmt_ci(ci.get(metric), rate=True)}</td>")
        cells.append(f"<td>{_fmt_num(g.get('impact_ratio'), 2)}</td>")
        if with_score:
            cells.append(f"<td>{_fmt_num(g.get('mean_score'))}</td>")
        if g.get("flagged"):
            status = '<span class="badge flag">FLAG</span>'
        elif g.get("small"):
            status = f'<span class="badge small">small (&lt; {min_group_size} rows)</span>'
        else:
            status = "ok"
        cells.append(f"<td>{status}</td>")
        rows.append(f'<tr class="{" ".join(classes)}">{"".join(cells)}</tr>')
    low, high = band
    intro = [
        f"{_status_badge(attr)} Disparate impact <b>{_fmt_num(attr.get('disparate_impact'))}</b>, "
        f"demographic parity difference <b>{_fmt_num(attr.get('demographic_parity_difference'))}</b>, "
        f"equalized odds difference <b>{_fmt_num(attr.get('equalized_odds_difference'))}</b>."
    ]
    if reference:
        intro.append(
            f"Reference group: <b>{escape(str(reference))}</b>; a compared group whose "
            f"selection rate is outside {low:g}–{high:g}× the reference's is flagged."
        )
    if attr.get("note"):
        intro.append(escape(str(attr["note"])) + ".")
    if attr.get("empty_groups"):
        intro.append("Groups with no rows: " + escape(", ".join(attr["empty_groups"])) + ".")
    chart = _chart(name, attr, band) if groups else ""
    return (
        f'<section class="attribute" id="attr-{_slug(name)}"><h2>{escape(name)}</h2>'
        f"<p>{' '.join(intro)}</p>{chart}<table>{head}{''.join(rows)}</table>"
        '<p class="note">— : undefined for this group (empty denominator, e.g. no positive '
        "labels; hover for the reason); the JSON report carries fairlearn's value, 0. "
        "Shaded band in the charts: the reference group's value × "
        f"{low:g}–{high:g}. Only the selection-rate band raises a flag; the TPR and FPR bands "
        "help to see the equalized-odds gaps.</p></section>"
    )


def _method_section(result: Mapping[str, Any]) -> str:
    method = result.get("method") or {}
    items = "".join(f"<dt>{escape(t)}</dt><dd>{escape(d)}</dd>" for t, d in DEFINITIONS)
    boot = method.get("bootstrap")
    extra = ""
    if boot:
        extra = (
            f"<p>Ranges in brackets are {100 * boot['ci_level']:.0f}% bootstrap percentile "
            f"intervals from {boot['replicates']} resamples of the rows.</p>"
        )
    return (
        '<section id="method"><h2>How to read this report</h2>'
        f"<dl>{items}</dl>{extra}"
        f'<p class="note">{escape(str(method.get("engine", "")))}. '
        "Rates with an empty denominator are reported by fairlearn as 0; this page shows them "
        "as — with the reason.</p></section>"
    )


def render_bias_html(result_dict: Mapping[str, Any], *, provenance: Mapping[str, Any]) -> str:
    """Render the JSON form of a bias audit (``BiasAuditResult.to_dict()``) as one HTML page.

    ``provenance`` adds or overrides what the audit recorded, typically ``model_name``,
    ``model_version``, ``source`` and ``time_window``.
    """
    merged = {**(result_dict.get("provenance") or {}), **provenance}
    band_values = result_dict.get("band") or (0.8, 1.2)
    band = (float(band_values[0]), float(band_values[1]))
    model = " ".join(str(x) for x in (merged.get("model_name"), merged.get("model_version")) if x)
    title = f"Bias audit: {model}" if model else "Bias audit"
    rows = int(merged.get("rows", result_dict.get("rows", 0)))
    sub = f"{rows:,} predictions · time window {_window_text(merged.get('time_window'))}"
    sections = [
        _verdict(result_dict, band),
        _summary_table(result_dict),
        _provenance_table(result_dict, merged),
        *(
            _attribute_section(name, attr, band, int(result_dict.get("min_group_size", 0)))
            for name, attr in result_dict.get("attributes", {}).items()
        ),
        _method_section(result_dict),
    ]
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_CSS}</style></head><body>"
        f'<header><h1>{escape(title)}</h1><p class="sub">{escape(sub)}</p></header>'
        + "".join(sections)
        + "</body></html>\n"
    )
