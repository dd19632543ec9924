"""The import contracts of docs/architecture.md hold: shells over domains, db and common neutral,
domains layered. The contracts themselves are in pyproject.toml ([tool.importlinter])."""

from __future__ import annotations

import ast
import os
from pathlib import Path

import pytest
from importlinter.cli import lint_imports

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "warroom"


def test_the_import_contracts_hold(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)  # import-linter reads pyproject.toml from the working directory
    code = lint_imports(config_filename=str(ROOT / "pyproject.toml"), no_cache=True, no_logo=True)
    out = capsys.readouterr().out
    assert code == 0, out
    assert "broken" in out and " 0 broken" in out


def _imported(path: Path) -> set[str]:
    """Every warroom module a file imports, at any depth (function-level imports too)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return {m for m in found if m.split(".")[0] == "warroom"}


def test_alembic_env_is_the_only_db_file_that_reaches_the_model_registry() -> None:
    # import-linter cannot see db/migrations (not a package): checked here instead. The env
    # needs the full metadata; nothing else under db/ may import a domain or the registry.
    domains = (
        "alerts",
        "analytics",
        "catalog",
        "engine",
        "incidents",
        "intake",
        "notify",
        "oncall",
        "reviews",
    )
    offenders = {}
    for path in sorted((PACKAGE / "db").rglob("*.py")):
        rel = path.relative_to(PACKAGE).as_posix()
        if rel.startswith("db/migrations/versions/"):
            continue
        bad = {
            m
            for m in _imported(path)
            if m == "warroom.models" or m.partition(".")[2].split(".")[0] in domains
        }
        if rel == "db/migrations/env.py":
            bad.discard("warroom.models")
        if bad:
            offenders[rel] = sorted(bad)
    assert offenders == {}, os.linesep.join(f"{k}: {v}" for k, v in offenders.items())
