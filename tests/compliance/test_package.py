"""The package's public names, and that the trend (which the HTML report imports) loads nothing heavy."""

from __future__ import annotations

import subprocess
import sys

import governance.compliance as compliance
from tests.checks.conftest import REPO


def test_every_public_name_resolves() -> None:
    for name in compliance.__all__:
        assert getattr(compliance, name) is not None
    assert set(compliance.__all__) <= set(dir(compliance))


def test_import_of_the_trend_loads_no_heavy_library() -> None:
    code = (
        "import sys, governance.compliance, governance.compliance.trend, governance.reports.compliance_html\n"
        "heavy = [m for m in ('sqlalchemy', 'pydantic', 'yaml', 'pandas', 'boto3') if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.strip() == ""
