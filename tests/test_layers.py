"""The engine's import contract covers every engine module, new ones included."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROJECT_LEVEL = {"__init__", "settings", "urls", "wsgi", "dbroles", "demo", "reference_data",
                 "management", "static", "templates", "__pycache__"}


def test_every_engine_module_is_forbidden_to_import_apps():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    contracts = config["tool"]["importlinter"]["contracts"]
    engine = next(c for c in contracts if c["id"] == "engine")
    listed = set(engine["source_modules"])
    modules = {p.stem for p in (ROOT / "amazonsync").glob("*.py")}
    modules |= {p.name for p in (ROOT / "amazonsync").iterdir() if (p / "__init__.py").exists()}
    missing = sorted(f"amazonsync.{m}" for m in modules - PROJECT_LEVEL
                     if f"amazonsync.{m}" not in listed)
    assert not missing, f"add to the engine contract in pyproject.toml: {missing}"
