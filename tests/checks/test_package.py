"""The package's public names, and that importing it loads nothing heavy."""

from __future__ import annotations

import subprocess
import sys

import governance.checks as checks
from tests.checks.conftest import REPO


def test_every_public_name_resolves() -> None:
    for name in checks.__all__:
        assert getattr(checks, name) is not None
    assert set(checks.__all__) <= set(dir(checks))


def test_import_loads_no_heavy_library() -> None:
    code = (
        "import sys, governance.checks, governance.checks.automated, governance.checks.security\n"
        "heavy = [m for m in ('great_expectations', 'pandas', 'boto3', 'picklescan', 'sqlalchemy') if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.strip() == ""
