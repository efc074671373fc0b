"""The nightly compliance report's HTML page (governance.reports.compliance_html) of an empty snapshot."""

from __future__ import annotations

from governance.reports import compliance_html as ch


def test_empty_scope_renders() -> None:
    empty = {"generated_at": "2026-11-27T00:00:00Z", "summary": {"models": 0, "passed": 0, "failed": 0}, "models": []}
    html = ch.render_compliance_html(empty)
    assert "All 0 models pass compliance" in html and "No model in scope." in html
