"""Stand-in for syntax/languages.py until the layout lands: lazy tree-sitter grammars."""

from __future__ import annotations

import importlib
import posixpath
from functools import cache

import tree_sitter

_GRAMMARS: dict[str, tuple[str, str]] = {
    "python": ("tree_sitter_python", "language"),
    "javascript": ("tree_sitter_javascript", "language"),
    "javascriptreact": ("tree_sitter_javascript", "language"),
    "typescript": ("tree_sitter_typescript", "language_typescript"),
    "typescriptreact": ("tree_sitter_typescript", "language_tsx"),
    "go": ("tree_sitter_go", "language"),
    "rust": ("tree_sitter_rust", "language"),
    "java": ("tree_sitter_java", "language"),
    "c": ("tree_sitter_c", "language"),
    "cpp": ("tree_sitter_cpp", "language"),
}

_EXTENSIONS = {
    ".py": "python", ".pyi": "python", ".js": "javascript", ".mjs": "javascript",
    ".cjs": "javascript", ".jsx": "javascriptreact", ".ts": "typescript", ".mts": "typescript",
    ".cts": "typescript", ".tsx": "typescriptreact", ".go": "go", ".rs": "rust",
    ".java": "java", ".c": "c", ".h": "c", ".cc": "cpp", ".cpp": "cpp", ".cxx": "cpp",
    ".hpp": "cpp", ".hh": "cpp", ".hxx": "cpp",
}


@cache
def language_for(language_id: str) -> tree_sitter.Language | None:
    spec = _GRAMMARS.get(language_id)
    if spec is None:
        return None
    try:
        mod = importlib.import_module(spec[0])
        return tree_sitter.Language(getattr(mod, spec[1])())
    except (ImportError, AttributeError, ValueError):
        return None


def parser_for(language_id: str) -> tree_sitter.Parser | None:
    lang = language_for(language_id)
    return None if lang is None else tree_sitter.Parser(lang)


def language_of_path(path: str) -> str:
    return _EXTENSIONS.get(posixpath.splitext(path)[1].lower(), "plaintext")
