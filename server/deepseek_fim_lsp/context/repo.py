"""Repository context: the definitions the cursor is using, from the files the current one imports.

Per request: the current file's imports (from its import block only, reused while that block is
unchanged), resolved on disk (``imports``); each target's definitions from a bounded LRU index
keyed by path + mtime + size (open documents: by their text); the identifiers near the cursor —
first the call or member being typed, then the lines around — mapped to those definitions up to
the token budget. The chosen snippets are emitted in a stable order (path, then line) so that
consecutive requests share their prompt start.
"""

from __future__ import annotations

import dataclasses
import os
import re
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

from ..syntax.languages import canonical, language_of_path
from .chunks import ChunkIndex
from .crossfile import (
    _STOPWORDS,
    CROSS_FILE_CHUNK_LINES,
    OpenDocument,
    _comment_delims,
    _display_path,
)
from .definitions import Definition, FileFacts, parse_facts
from .identifiers import cursor_identifiers
from .imports import Target, resolve_imports
from .privacy import redact_secrets, uri_to_path
from .recent_edits import RecentEdits
from .tokens import cost10, estimate_tokens
from .workspace import Workspace, project_root

__all__ = ["RepoContext", "RepoIndex", "Snippet", "cursor_identifiers", "render"]

#: Files whose facts are kept (LRU).
MAX_INDEXED_FILES = 2048
#: A file on disk is stat'ed at most this often for changes (a save re-reads it at once).
STAT_INTERVAL_S = 1.0
#: Files reached through re-exports, at most.
MAX_HOPS = 16
#: Recent edits get at most 1/EDIT_SHARE of the budget.
EDIT_SHARE = 4
#: Definitions of one name taken at most (a method name shared by several classes).
PER_NAME = 2

_IMPORT_LINE = {
    "python": r"(?:from|import)\s",
    "javascript": r"(?:import\b|export\s.*\bfrom\b|(?:const|let|var)\s.*\brequire\s*\()",
    "typescript": r"(?:import\b|export\s.*\bfrom\b|(?:const|let|var)\s.*\brequire\s*\()",
    "go": r"(?:import\b|package\s)",
    "rust": r"(?:(?:pub(?:\([^)]*\))?\s+)?(?:use|mod)\s)",
    "java": r"(?:import|package)\s",
    "c": r"#\s*include\b",
}
_IMPORT_LINE["javascriptreact"] = _IMPORT_LINE["javascript"]
_IMPORT_LINE["typescriptreact"] = _IMPORT_LINE["typescript"]
_IMPORT_LINE["cpp"] = _IMPORT_LINE["c"]
_IMPORT_RX = {k: re.compile(r"^" + v, re.MULTILINE) for k, v in _IMPORT_LINE.items()}
_PY_FIRST_DEF = re.compile(r"^(?:async\s+def|def|class|@)\b|^@", re.MULTILINE)
_PY_NESTED_IMPORT = re.compile(r"^[ \t]+(?:from|import)\s", re.MULTILINE)
#: Python: nested imports are looked for only above a first definition this close to the start.
_PY_HEAD_MAX = 16_000
#: The import block is looked for in the first this many characters.
_HEAD_SCAN = 64_000
#: Lines after the last import line kept (closing a parenthesised or multi-line import).
_HEAD_TAIL_LINES = 30


@dataclass(frozen=True)
class Snippet:
    path: str
    line: int
    text: str


@dataclass
class _Head:
    head: str
    facts: FileFacts | None
    targets: list[Target]
    roots: tuple[str, ...]
    names: tuple[tuple[int, ...], dict[str, list[tuple[str, Definition]]]] | None = None


@dataclass
class _Entry:
    key: tuple[object, ...]
    facts: FileFacts | None
    checked: float  # time.monotonic() of the last stat


class RepoIndex:
    """The per-file index (LRU) and the per-document import heads; no I/O at construction."""

    def __init__(self, workspace: Workspace, max_files: int = MAX_INDEXED_FILES) -> None:
        self.workspace = workspace
        self._max = max_files
        self._files: OrderedDict[str, _Entry] = OrderedDict()
        self._heads: dict[str, _Head] = {}
        self._onward: dict[tuple[str, int], list[Target]] = {}
        self.files_read = 0  # for tests and benchmarks: files opened from disk

    # -- the index ------------------------------------------------------------------------

    def facts(self, path: str, open_text: str | None = None) -> FileFacts | None:
        """Definitions of ``path``: from the editor's text when open, else from disk (cached by
        mtime + size, checked at most once a second; the workspace rules are checked before the
        file is opened). Definition texts are redacted once, here."""
        now = time.monotonic()
        hit = self._files.get(path)
        if open_text is not None:
            key: tuple[object, ...] = ("open", hash(open_text), len(open_text))
        elif hit is not None and hit.key[0] == "disk" and now - hit.checked < STAT_INTERVAL_S:
            self._files.move_to_end(path)
            return hit.facts
        else:
            try:
                st = os.stat(path)
            except OSError:
                return None
            key = ("disk", st.st_mtime_ns, st.st_size)
        if hit is not None and hit.key == key:
            self._files.move_to_end(path)
            hit.checked = now
            return hit.facts
        text = open_text
        if text is None:
            text = self.workspace.read(path)
            self.files_read += text is not None
        facts = None
        if text is not None and "PRIVATE KEY" not in text:
            facts = parse_facts(text, language_of_path(path))
        if facts is not None:
            facts = dataclasses.replace(facts, definitions=tuple(
                dataclasses.replace(d, text=redact_secrets(d.text)) for d in facts.definitions))
        self._files[path] = _Entry(key, facts, now)
        self._files.move_to_end(path)
        while len(self._files) > self._max:
            self._files.popitem(last=False)
        return facts

    def warm(self, path: str, text: str, language_id: str) -> None:
        """Index what a request in this document will need: its imports and their re-exports."""
        targets = self.targets(path, text, len(text), language_id)
        found = [self.facts(t) for t, _names in targets]
        for target, _names in self._hops(targets, found):
            self.facts(target)

    def _hops(self, targets: list[Target], found: list[FileFacts | None]) -> list[Target]:
        out: list[Target] = []
        for (target, names), facts in zip(targets, found, strict=True):
            if facts is None or not names:
                continue
            defined = {d.name for d in facts.definitions}
            missing = [n for n in names if n not in defined]
            if not missing:
                continue
            key = (target, id(facts))
            onward = self._onward.get(key)
            if onward is None:
                onward = resolve_imports(target, facts, self.workspace)
                self._onward[key] = onward
                if len(self._onward) > 512:
                    self._onward.pop(next(iter(self._onward)))
            for nxt, brought in onward:
                take = tuple(n for n in missing if not brought or n in brought)
                if take and (nxt, take) not in out:
                    out.append((nxt, take))
        return out[:MAX_HOPS]

    def forget(self, path: str) -> None:
        """A save or an outside change: re-read next time (mtime usually tells, this makes sure)."""
        self._files.pop(path, None)
        self._heads.pop(path, None)

    def clear(self) -> None:
        self._files.clear()
        self._heads.clear()
        self._onward.clear()

    # -- the current document ---------------------------------------------------------------

    def _import_head(self, text: str, offset: int, language_id: str) -> str:
        rx = _IMPORT_RX.get(language_id)
        if rx is None:
            return ""
        ends = [m.end() for m in rx.finditer(text, 0, _HEAD_SCAN)]
        if language_id == "python":
            # imports under `if TYPE_CHECKING:` / `try:` before the first definition count too
            first = _PY_FIRST_DEF.search(text, 0, _PY_HEAD_MAX)
            if first is not None and _PY_NESTED_IMPORT.search(text, 0, first.start()):
                ends.append(first.start())
        if not ends:
            return ""
        end = max(ends)
        for _ in range(_HEAD_TAIL_LINES):
            nl = text.find("\n", end)
            if nl < 0:
                end = len(text)
                break
            end = nl + 1
            if end < len(text) and text[end] not in " \t\n)}]" and \
                    not rx.match(text, end):
                break
        return text[:end]

    def targets(self, path: str, text: str, offset: int, language_id: str) -> list[Target]:
        """The current document's resolved imports; recomputed when its import block changed."""
        language_id = canonical(language_id)
        prev = self._heads.get(path)
        roots = self.workspace.roots
        if prev is not None and prev.roots == roots and text.startswith(prev.head):
            line_start = text.rfind("\n", 0, offset) + 1
            rx = _IMPORT_RX.get(language_id)
            if offset > len(prev.head) and not (rx and rx.match(text, line_start)):
                return prev.targets
        head = self._import_head(text, offset, language_id)
        if prev is not None and prev.head == head and prev.roots == roots:
            return prev.targets
        facts = parse_facts(head, language_id) if head else None
        targets = resolve_imports(path, facts, self.workspace) if facts else []
        self._heads[path] = _Head(head, facts, targets, roots)
        if len(self._heads) > 256:
            self._heads.pop(next(iter(self._heads)))
        return targets

    # -- selection --------------------------------------------------------------------------

    def select(
        self,
        path: str,
        text: str,
        offset: int,
        language_id: str,
        budget_tokens: int,
        open_texts: Mapping[str, str] | None = None,
    ) -> list[Snippet]:
        """Definitions used near the cursor, within ``budget_tokens``, in (path, line) order."""
        if budget_tokens <= 0 or not self.workspace.contains(path):
            return []
        targets = self.targets(path, text, offset, language_id)
        if not targets:
            return []
        texts = open_texts or {}
        found = [self.facts(t, texts.get(t)) for t, _names in targets]
        # Names a target imports itself instead of defining them (re-exports: `export { x }
        # from "./x"`, a package's __init__.py): one hop further.
        hops = self._hops(targets, found)
        if hops:
            targets = [*targets, *hops]
            found += [self.facts(t, texts.get(t)) for t, _names in hops]
        head = self._heads.get(path)
        sig = tuple(id(f) for f in found)
        if head is not None and head.names is not None and head.names[0] == sig:
            by_name = head.names[1]
        else:
            by_name = {}
            for (target, names), facts in zip(targets, found, strict=True):
                if facts is None:
                    continue
                allowed = frozenset(names)
                for d in facts.definitions:
                    if allowed and d.name not in allowed and d.container not in allowed:
                        continue
                    by_name.setdefault(d.name, []).append((target, d))
            if head is not None:
                head.names = (sig, by_name)
        if not by_name:
            return []
        chosen: list[Snippet] = []
        seen: set[tuple[str, int]] = set()
        left = budget_tokens
        for ident in cursor_identifiers(text, offset):
            for target, d in by_name.get(ident, ())[:PER_NAME]:
                if (target, d.line) in seen:
                    continue
                need = estimate_tokens(d.text) + 12  # + its share of a path line
                if need <= left:
                    chosen.append(Snippet(target, d.line, d.text))
                    seen.add((target, d.line))
                    left -= need
            if left < 20:
                break
        # a method shown inside its class (a small type shown whole) is not shown twice
        wholes = [s for s in chosen if "\n" in s.text.rstrip("\n")]
        chosen = [s for s in chosen if not any(
            o is not s and o.path == s.path and o.line < s.line
            and (rest := s.text.split("\n", 1)[1]).strip() and rest in o.text for o in wholes)]
        chosen.sort(key=lambda s: (s.path, s.line))
        return chosen


def render(snippets: list[Snippet], uri: str, language_id: str) -> str:
    """The snippets under one path comment per file (the cross-file header's format)."""
    opener, closer = _comment_delims(language_id)
    parts: list[str] = []
    prev = None
    for s in snippets:
        if s.path != prev:
            parts.append(f"{opener}Path: {_display_path(s.path, uri)}{closer}\n")
            prev = s.path
        parts.append(s.text)
    return "".join(parts)


@lru_cache(maxsize=4096)
def file_path(uri: str) -> str | None:
    """The local path of a ``file:`` URI or plain absolute path; None for other schemes."""
    if uri.startswith("file:") or uri.startswith("/"):
        return uri_to_path(uri)
    return None


class RepoContext:
    """What the engine holds: the workspace roots, the file index and the recent edits.

    Without roots from the client (``complete``, the Python API, an editor without a workspace)
    a file's project root becomes the workspace when the file is first seen.
    """

    def __init__(self, exclude: Sequence[str] = ()) -> None:
        self.workspace = Workspace((), exclude)
        self.index = RepoIndex(self.workspace)
        self.edits = RecentEdits()
        self.chunks = ChunkIndex(CROSS_FILE_CHUNK_LINES, _STOPWORDS, cost10)
        self._explicit = False

    def set_exclude(self, patterns: Sequence[str]) -> None:
        if tuple(patterns) != self.workspace.exclude:
            self.workspace.exclude = tuple(patterns)
            self.index.clear()

    def set_roots(self, roots: Iterable[str]) -> None:
        self._explicit = True
        self.workspace.set_roots(roots)
        self.index.clear()

    def change_roots(self, added: Iterable[str], removed: Iterable[str]) -> None:
        self._explicit = True
        self.workspace.remove_roots(removed)
        self.workspace.add_roots(added)
        self.index.clear()

    def _path(self, uri: str) -> str | None:
        path = file_path(uri)
        if path is None:
            return None
        if not self._explicit and not self.workspace.contains(path):
            self.workspace.add_roots([project_root(path)])
        return path

    def opened(self, uri: str, language_id: str, text: str) -> None:
        """Fill the index for a document just opened: its imports and their definitions."""
        path = self._path(uri)
        if path is None or not self.workspace.contains(path):
            return
        self.index.warm(path, text, language_id)

    def changed(self, uri: str, text: str, begin: int, end: int, line: int) -> None:
        """An edit whose new text is ``text[begin:end]``, starting on 0-based ``line``."""
        self.edits.record(uri, text, begin, end, line)

    def saved(self, uri: str) -> None:
        path = file_path(uri)
        if path is not None:
            self.index.forget(path)

    def closed(self, uri: str) -> None:
        self.edits.forget(uri)
        self.chunks.forget(uri)

    def header(
        self,
        uri: str,
        text: str,
        offset: int,
        language_id: str,
        budget_tokens: int,
        others: Sequence[OpenDocument] | Mapping[str, str],
        allowed: Callable[[str], bool],
    ) -> str:
        """Definitions in use (path, line order), then recent edits elsewhere (newest first).

        ``others``: the open documents (their text is used instead of the file on disk)."""
        if budget_tokens <= 0:
            return ""
        if isinstance(others, Mapping):
            open_texts: Mapping[str, str] = others
        else:
            open_texts = {p: d.text for d in others if (p := file_path(d.uri)) is not None}
        edits = self.edits.for_prompt(uri, budget_tokens // EDIT_SHARE, allowed, estimate_tokens)
        used = sum(estimate_tokens(e.text) + 12 for e in edits)
        parts: list[str] = []
        path = self._path(uri)
        if path is not None:
            snippets = self.index.select(path, text, offset, language_id, budget_tokens - used,
                                         open_texts)
            parts.append(render(snippets, uri, language_id))
        opener, closer = _comment_delims(language_id)
        for e in edits:
            shown = _display_path(file_path(e.uri) or e.uri, uri)
            parts.append(f"{opener}Path: {shown} (edited, line {e.first_line + 1}){closer}\n")
            parts.append(redact_secrets(e.text))
        return "".join(parts)
