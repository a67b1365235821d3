"""Where the tests for a file go, by each language's convention (pytest, Go, Jest/Vitest)."""

from __future__ import annotations

from pathlib import Path

_JS_LANGS = ("javascript", "javascriptreact", "typescript", "typescriptreact")


def is_test_file(path: Path) -> bool:
    name = path.name
    return (name.startswith("test_") or name.endswith("_test.py") or name.endswith("_test.go")
            or ".test." in name or ".spec." in name)


def test_file_for(path: Path, language_id: str, root: Path | None) -> Path | None:
    """The conventional test file for ``path``, or None when the language has no convention."""
    if is_test_file(path):
        return None
    stem = path.stem
    if language_id == "python":
        d = path.parent
        while True:
            if (d / "tests").is_dir():
                return d / "tests" / f"test_{stem}.py"
            if root is None or d == root or d.parent == d or root not in d.parents:
                break
            d = d.parent
        return path.with_name(f"test_{stem}.py")
    if language_id == "go":
        return path.with_name(f"{stem}_test.go")
    if language_id in _JS_LANGS:
        return path.with_name(f"{stem}.test{path.suffix or '.js'}")
    return None


def python_module(path: Path, root: Path | None) -> str:
    """Dotted import name of ``path`` relative to the workspace root (best effort)."""
    try:
        rel = path.relative_to(root) if root else Path(path.name)
    except ValueError:
        rel = Path(path.name)
    parts = list(rel.with_suffix("").parts)
    if parts and parts[0] in ("src", "lib") and len(parts) > 1:
        parts = parts[1:]
    return ".".join(parts)



def relative_name(path: Path, root: Path | None) -> str:
    """``path`` relative to the workspace root, for the prompt (the bare name outside it)."""
    try:
        return str(path.relative_to(root)) if root else path.name
    except ValueError:
        return path.name
