"""The root holds the card's modules and entry points only, and each imports only the layers below it.

import-linter (`make lint`) checks the packages; it cannot map top-level modules, so this test reads their imports.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUR_TOP_LEVEL = {
    "app", "cli", "worker", "config", "models", "payment_processor", "gunicorn",
    "routes", "demo", "billing", "reports", "workshop", "admin", "gateway", "adapters", "core",
    "microservices", "simulators", "bench",
}  # fmt: skip
# What each root module may import from the project (everything else it imports must be a library).
ALLOWED = {
    "config": set(),
    "models": set(),
    "gunicorn.conf": {"config"},
    "payment_processor": {"core", "gateway", "adapters", "config"},
    "worker": {"core", "gateway", "admin", "billing", "models", "config"},
    "cli": {"core", "gateway", "admin", "billing", "reports", "workshop", "demo", "worker", "config"},
    "app": {"core", "gateway", "adapters", "routes", "cli", "config"},
}


def _project_imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        found |= {name.split(".")[0] for name in names if name.split(".")[0] in OUR_TOP_LEVEL}
    return found


def test_root_holds_only_the_card_modules_and_entry_points():
    assert {p.stem for p in ROOT.glob("*.py")} == {m.split(".")[0] if m != "gunicorn.conf" else m for m in ALLOWED}


def test_root_modules_import_only_lower_layers():
    for module, allowed in ALLOWED.items():
        imported = _project_imports(ROOT / f"{module}.py") - {module}
        assert imported <= allowed, f"{module}.py imports {sorted(imported - allowed)}, outside its layers"
