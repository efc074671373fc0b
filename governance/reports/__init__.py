"""Reports: the bias audit HTML page and where report files are stored."""

from governance.reports.bias_html import render_bias_html
from governance.reports.store import (
    ERR_BAD_CONTENT_TYPE,
    ERR_BAD_KEY,
    ERR_NO_SUCH_KEY,
    LocalReportStore,
    ReportStore,
)

__all__ = [
    "ERR_BAD_CONTENT_TYPE",
    "ERR_BAD_KEY",
    "ERR_NO_SUCH_KEY",
    "LocalReportStore",
    "ReportStore",
    "render_bias_html",
]
