"""Tree-sitter as the judge between a few ways of cutting a suggestion.

The line scan (``_postprocess_cut``) finds where a suggestion ends from indentation and
keywords, and offers the clean-up a few readings of it: with or without the closing line the
model wrote, replacing the closers after the cursor or not. Here each reading is inserted into
(a window of) the document and parsed; the reading that adds the fewest parse errors wins. A
language without a grammar, or a parse over the time budget, gives no verdict and the
heuristics decide.
"""

from __future__ import annotations

import functools
import importlib
import logging
import re
import time
from collections.abc import Sequence
from typing import Any

import tree_sitter

log = logging.getLogger(__name__)

#: Language id → (grammar module, function returning the language).
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
    "csharp": ("tree_sitter_c_sharp", "language"),
    "php": ("tree_sitter_php", "language_php"),
    "ruby": ("tree_sitter_ruby", "language"),
    "kotlin": ("tree_sitter_kotlin", "language"),
    "css": ("tree_sitter_css", "language"),
    "yaml": ("tree_sitter_yaml", "language"),
    "json": ("tree_sitter_json", "language"),
    "shellscript": ("tree_sitter_bash", "language"),
    "bash": ("tree_sitter_bash", "language"),
    "lua": ("tree_sitter_lua", "language"),
}

#: Characters of document kept around the cursor for a parse (a window in huge files).
PREFIX_WINDOW = 6000
SUFFIX_WINDOW = 2500
#: A parse of the bare window slower than this turns the judge off for the call.
BUDGET_MS = 20.0

_TOP_LEVEL = re.compile(r"\n(?=[^\s)\]}])")


@functools.cache
def parser_for(language_id: str) -> tree_sitter.Parser | None:
    """A parser for this language id, or None (no grammar installed for it)."""
    spec = _GRAMMARS.get(language_id.lower())
    if spec is None:
        return None
    try:
        module: Any = importlib.import_module(spec[0])
        return tree_sitter.Parser(tree_sitter.Language(getattr(module, spec[1])()))
    except (ImportError, AttributeError, ValueError) as err:  # pragma: no cover - broken wheel
        log.info("no tree-sitter grammar for %s: %s", language_id, err)
        return None


def errors(parser: tree_sitter.Parser, text: str) -> int:
    """How many ERROR and MISSING nodes the parse of ``text`` has."""
    tree = parser.parse(text.encode("utf-8", "surrogatepass"))
    count = 0
    stack = [tree.root_node]
    while stack:
        node = stack.pop()
        if node.is_error or node.is_missing:
            count += 1
        if node.has_error:
            stack.extend(node.children)
    return count


def window(prefix: str, suffix: str) -> tuple[str, str]:
    """The part of prefix and suffix to parse: whole top-level lines near the cursor."""
    if len(prefix) > PREFIX_WINDOW:
        part = prefix[-PREFIX_WINDOW:]
        m = _TOP_LEVEL.search(part)
        prefix = part[m.end() :] if m else part
    if len(suffix) > SUFFIX_WINDOW:
        part = suffix[:SUFFIX_WINDOW]
        starts = [m.start() for m in _TOP_LEVEL.finditer(part)]
        suffix = part[: starts[-1]] if starts else part
    return prefix, suffix


def choose(
    prefix: str, suffix: str, options: Sequence[tuple[str, int]], language: str
) -> int | None:
    """Index of the reading ``(text, replace)`` that parses with the fewest errors.

    None when there is no verdict: no grammar, too slow, or all readings parse alike.
    Ties go to the earlier reading (callers put the heuristic's choice first).
    """
    parser = parser_for(language) if language else None
    if parser is None or len(options) < 2:
        return None
    before, after = window(prefix, suffix)
    t0 = time.perf_counter()
    scores: list[int] = []
    for text, replace in options:
        scores.append(errors(parser, before + text + after[replace:]))
        if (time.perf_counter() - t0) * 1000 > BUDGET_MS * len(options):
            return None
    best = min(range(len(scores)), key=lambda i: (scores[i], i))
    if all(s == scores[best] for s in scores):
        return None
    return best
