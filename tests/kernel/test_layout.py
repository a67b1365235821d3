"""The package's shape: layers point down only, no import cycle, modules of a readable size.

Every import counts, also those inside functions and under ``TYPE_CHECKING``: a cycle that only
type checking sees still ties two rooms together.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[2] / "server" / "deepseek_fim_lsp"
NAME = "deepseek_fim_lsp"

#: Rank of each room: a module may import its own room and rooms of a lower rank only.
RANKS = {
    "config": 0, "errors": 0, "log": 0, "usage": 0, "version": 0,
    "backends": 1, "syntax": 1,
    "context": 2, "postprocess": 2,
    "completion": 3, "actions": 3,
    "lsp": 4, "headless": 4,
    "entry": 5,
}
KERNEL = {"config", "errors", "log", "usage", "version"}
MAX_LINES = 450


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PKG).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join([NAME, *parts])


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PKG.rglob("*.py"))}


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    """Modules of the package that ``name`` imports (a name imported from a package counts as
    the submodule when there is one)."""
    tree = ast.parse(path.read_text("utf-8"))
    is_pkg = path.name == "__init__.py"
    base = name.split(".") if is_pkg else name.split(".")[:-1]
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.startswith(NAME)}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                anchor = base[:len(base) - node.level + 1]
                target = ".".join(anchor + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if not target.startswith(NAME):
                continue
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                out.add(sub if sub in known else target)
    out.discard(name)
    return {m for m in out if m in known}


def _room(module: str) -> str:
    """The subpackage (or kernel module) a module belongs to; the entry points are one room."""
    parts = module.split(".")
    room = parts[1] if len(parts) > 1 else "__init__"
    return "entry" if room in ("cli", "__main__", "__init__") else room


def _graph() -> dict[str, set[str]]:
    mods = _modules()
    return {m: _imports(m, p, set(mods)) for m, p in mods.items()}


def test_every_room_has_a_rank() -> None:
    rooms = {_room(m) for m in _modules()}
    assert rooms - set(RANKS) - {"emulator"} == set()


def test_layers_point_down() -> None:
    wrong = []
    for mod, deps in _graph().items():
        room = _room(mod)
        for dep in deps:
            other = _room(dep)
            if other == room:
                continue
            if room == "emulator":
                ok = other in KERNEL
            elif other == "emulator":
                ok = mod == f"{NAME}.cli"  # only `deepseek-fim-lsp emulate` starts it
            else:
                ok = RANKS[other] < RANKS[room] or (room in KERNEL and other in KERNEL)
            if not ok:
                wrong.append(f"{mod} -> {dep}")
    assert wrong == []


def test_no_import_cycle() -> None:
    graph = _graph()
    seen: dict[str, int] = {}  # 1: on the stack, 2: done
    cycles: list[list[str]] = []

    def visit(node: str, stack: list[str]) -> None:
        seen[node] = 1
        stack.append(node)
        for dep in sorted(graph[node]):
            if seen.get(dep) == 1:
                cycles.append(stack[stack.index(dep):] + [dep])
            elif dep not in seen:
                visit(dep, stack)
        stack.pop()
        seen[node] = 2

    for node in sorted(graph):
        if node not in seen:
            visit(node, [])
    assert cycles == []


@pytest.mark.parametrize("path", sorted(PKG.rglob("*.py")), ids=lambda p: str(p.relative_to(PKG)))
def test_modules_stay_readable(path: Path) -> None:
    assert len(path.read_text("utf-8").splitlines()) <= MAX_LINES


def test_no_flat_leftovers() -> None:
    """The top level holds the entry points and the kernel only; everything else has a room."""
    top = {p.stem for p in PKG.glob("*.py")}
    assert top <= {"__init__", "__main__", "cli"} | KERNEL
