"""governance/ has no import circles and no module imports another module's ``_private`` name
(checked from the AST by scripts/import_cycles.py)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / "scripts" / "import_cycles.py"
PACKAGE = REPO / "governance"


def _script():
    spec = importlib.util.spec_from_file_location("import_cycles", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


def test_governance_has_no_import_cycles():
    script = _script()
    circles = script.cycles(script.graph(script.imports(script.module_files(PACKAGE))))
    listed = "\n".join("  " + " -> ".join(circle) for circle in circles)
    assert not circles, f"{len(circles)} import cycle(s) in governance/:\n{listed}"


def test_no_private_names_imported_across_modules():
    script = _script()
    modules = script.module_files(PACKAGE)
    offenders = script.private_imports(script.imports(modules), modules)
    listed = "\n".join(
        f"  {imp.path.relative_to(REPO)}:{imp.line}: {imp.importer} imports {imp.name} from {imp.source}"
        for imp in offenders
    )
    assert not offenders, f"{len(offenders)} import(s) of a _private name from another module:\n{listed}"


def test_the_script_finds_a_cycle_and_a_private_import(tmp_path):
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from pkg.b import _helper\n")
    (pkg / "b.py").write_text("def f():\n    from pkg.a import thing\n\n_helper = 1\n")
    result = subprocess.run(
        [sys.executable, str(SCRIPT), str(pkg), "--private"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 1
    assert "cycle: pkg.a -> pkg.b -> pkg.a" in result.stdout
    assert "pkg.a imports _helper from pkg.b" in result.stdout
    (pkg / "b.py").write_text("_helper = 1\n")
    (pkg / "a.py").write_text("from pkg.b import helper\n")
    clean = subprocess.run([sys.executable, str(SCRIPT), str(pkg)], capture_output=True, text=True, check=False)
    assert clean.returncode == 0, clean.stdout
