"""The import-linter contracts of pyproject.toml: the core stays Qt-free, rendering has no widgets."""

import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_import_contracts_hold():
    lint = shutil.which("lint-imports") or str(Path(sys.executable).parent / "lint-imports")
    result = subprocess.run([lint, str(REPO / "pyproject.toml")], cwd=REPO,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Contracts: 2 kept, 0 broken" in result.stdout


def test_render_imports_no_widgets():
    """import-linter cannot forbid a submodule of an external package, so check the source."""
    for path in (REPO / "sipscope" / "render").rglob("*.py"):
        assert "QtWidgets" not in path.read_text(), f"{path.name} imports QtWidgets"
