"""The package's shape: every module imports on its own, and imports run one way, down."""

from __future__ import annotations

import ast
import subprocess
import sys

from .service import PROJECT

PACKAGE = PROJECT / "dialajoke"

LAYERS = {
    "wiring": 5,
    "dialajoke.web": 4,
    "dialajoke.keys": 3,
    "dialajoke.calls": 2,
    "dialajoke.accounts": 2,
    "dialajoke.simulator": 2,
    "dialajoke.store": 1,
    "dialajoke.telnyx": 1,
    "dialajoke.scheduler": 1,
}
"""Wiring, then the HTTP surface, then the typed keys of what the app holds, then the call
flow (and the stand-in Telnyx, and the accounts of who may use it), then what they are
built on; everything not named here (models, config, clock, ids, background, metrics) is
the shared vocabulary at the bottom."""


def module_names() -> list[str]:
    names = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PROJECT).with_suffix("").parts
        names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


WIRING = frozenset({"dialajoke.__main__", "dialajoke.app", "dialajoke.users_cli", "dialajoke.dnc_cli"})


def unit_of(module: str) -> str:
    """The package (or top-level module) a module belongs to; the wiring modules are one unit."""
    parts = module.split(".")
    unit = ".".join(parts[:2])
    return "wiring" if unit in WIRING else unit


def layer_of(module: str) -> int:
    return LAYERS.get(unit_of(module), 0)


def imports_of(module: str) -> set[str]:
    path = PROJECT / (module.replace(".", "/") + ".py")
    is_package = not path.exists()
    if is_package:
        path = PROJECT / module.replace(".", "/") / "__init__.py"
    package = module if is_package else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            names = [f"{target}.{alias.name}" for alias in node.names]
            found.update(name if _is_module(name) else target for name in names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {name for name in found if name == "dialajoke" or name.startswith("dialajoke.")}


def _is_module(name: str) -> bool:
    relative = name.replace(".", "/")
    return (PROJECT / f"{relative}.py").exists() or (PROJECT / relative / "__init__.py").exists()


def test_every_module_imports_on_its_own() -> None:
    """Each module is imported first into a fresh interpreter state, so an import circle cannot hide."""
    script = (
        "import importlib, sys\n"
        "failed = []\n"
        "for name in sys.argv[1:]:\n"
        "    for loaded in [m for m in sys.modules if m == 'dialajoke' or m.startswith('dialajoke.')]:\n"
        "        del sys.modules[loaded]\n"
        "    try:\n"
        "        importlib.import_module(name)\n"
        "    except Exception as exc:\n"
        "        failed.append(f'{name}: {type(exc).__name__}: {exc}')\n"
        "print('\\n'.join(failed))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, *module_names()], cwd=PROJECT, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""


def test_imports_run_one_way_down() -> None:
    upward = []
    for module in module_names():
        for imported in imports_of(module):
            same_unit = unit_of(imported) == unit_of(module)
            if same_unit:
                continue
            below = layer_of(imported) < layer_of(module)
            shared = layer_of(imported) == layer_of(module) == 0
            if not (below or shared):
                upward.append(f"{module} imports {imported}")
    assert upward == []


def test_the_layer_rule_sees_an_upward_import() -> None:
    """The rule above reads real imports: the store would be caught importing the call flow."""
    assert layer_of("dialajoke.calls.bookings") > layer_of("dialajoke.store.sqlite")
    assert "dialajoke.store" in imports_of("dialajoke.calls.bookings")
    assert "dialajoke.keys" in imports_of("dialajoke.web.api")
