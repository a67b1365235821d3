"""Language ids, file extensions and the tree-sitter grammar for each.

Grammars come from the official per-language wheels (``tree-sitter-python`` …), compiled and
offline; each is imported the first time a document of its language needs one, so a session that
never edits Rust never loads the Rust grammar. A language without a grammar (or whose wheel is
missing) gets ``None``, and callers fall back to their heuristics.

Parsers are kept one per language: the server runs on one event loop thread, and a parser is
reused for every parse of its language.
"""

from __future__ import annotations

import importlib
import logging
import os
from functools import cache
from pathlib import PurePath

from tree_sitter import Language, Parser

log = logging.getLogger(__name__)

#: LSP language id → (grammar module, function returning its language pointer).
GRAMMARS: dict[str, tuple[str, str]] = {
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
    "csharp": ("tree_sitter_c_sharp", "language"),
    "php": ("tree_sitter_php", "language_php"),
    "ruby": ("tree_sitter_ruby", "language"),
    "kotlin": ("tree_sitter_kotlin", "language"),
    "css": ("tree_sitter_css", "language"),
    "yaml": ("tree_sitter_yaml", "language"),
    "json": ("tree_sitter_json", "language"),
    "jsonc": ("tree_sitter_json", "language"),
    "shellscript": ("tree_sitter_bash", "language"),
    "lua": ("tree_sitter_lua", "language"),
}

#: Other names editors use for the same languages.
ALIASES = {
    "py": "python", "js": "javascript", "jsx": "javascriptreact", "ts": "typescript",
    "tsx": "typescriptreact", "golang": "go", "rs": "rust", "c++": "cpp", "cs": "csharp",
    "c#": "csharp", "rb": "ruby", "kt": "kotlin", "sh": "shellscript", "bash": "shellscript",
    "zsh": "shellscript", "yml": "yaml",
}

#: File extension → LSP language id.
EXTENSIONS = {
    ".py": "python", ".pyi": "python", ".js": "javascript", ".mjs": "javascript",
    ".cjs": "javascript", ".jsx": "javascriptreact", ".ts": "typescript", ".mts": "typescript",
    ".cts": "typescript", ".tsx": "typescriptreact", ".go": "go", ".rs": "rust", ".c": "c",
    ".h": "c", ".cc": "cpp", ".cpp": "cpp", ".cxx": "cpp", ".hpp": "cpp", ".hh": "cpp",
    ".cs": "csharp", ".java": "java", ".kt": "kotlin", ".kts": "kotlin", ".rb": "ruby",
    ".php": "php", ".swift": "swift", ".lua": "lua", ".sh": "shellscript",
    ".bash": "shellscript", ".zsh": "shellscript", ".sql": "sql", ".html": "html",
    ".css": "css", ".scss": "scss", ".json": "json", ".jsonc": "jsonc", ".yaml": "yaml",
    ".yml": "yaml", ".toml": "toml", ".md": "markdown", ".r": "r", ".scala": "scala",
    ".hs": "haskell", ".ex": "elixir", ".exs": "elixir", ".erl": "erlang", ".ml": "ocaml",
    ".zig": "zig", ".dart": "dart", ".vue": "vue", ".svelte": "svelte", ".tex": "latex",
    ".nix": "nix", ".jl": "julia", ".fs": "fsharp", ".sol": "solidity",
}


def canonical(language_id: str) -> str:
    """The LSP id for an editor's name of a language (``py`` → ``python``)."""
    lid = language_id.strip().lower()
    return ALIASES.get(lid, lid)


def language_of_path(path: str | os.PathLike[str]) -> str:
    """An LSP language id from the file extension (``plaintext`` when unknown)."""
    return EXTENSIONS.get(PurePath(path).suffix.lower(), "plaintext")


@cache
def language_for(language_id: str) -> Language | None:
    """The tree-sitter grammar of a language, or None when there is none."""
    spec = GRAMMARS.get(canonical(language_id))
    if spec is None:
        return None
    module_name, function = spec
    try:
        module = importlib.import_module(module_name)
        return Language(getattr(module, function)())
    except (ImportError, AttributeError, ValueError) as exc:
        log.warning("no tree-sitter grammar for %s: %s", language_id, exc)
        return None


@cache
def parser_for(language_id: str) -> Parser | None:
    """A parser for the language (one per language, reused), or None when there is none."""
    language = language_for(language_id)
    return Parser(language) if language is not None else None


def has_grammar(language_id: str) -> bool:
    return canonical(language_id) in GRAMMARS
