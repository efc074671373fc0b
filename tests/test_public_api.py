"""The package's public names resolve, and importing the package stays light."""

import subprocess
import sys

import governance


def test_every_public_name_resolves():
    assert sorted(governance.__all__) == sorted([*governance._LAZY, *governance._RENAMED])
    for name in governance.__all__:
        assert getattr(governance, name) is not None


def test_unknown_name_is_an_attribute_error():
    try:
        governance.no_such_name  # noqa: B018
    except AttributeError as exc:
        assert "no_such_name" in str(exc)
    else:
        raise AssertionError("expected AttributeError")


def test_import_governance_loads_nothing_heavy():
    code = "import sys, governance; print(sorted(m for m in ('sqlalchemy', 'pandas', 'great_expectations') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
