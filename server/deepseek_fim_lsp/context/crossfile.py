"""Snippets of other open documents in front of the prefix, each under a path comment.

Chunks are line-aligned to the document start and chosen by the identifiers near the cursor, then
put in a stable order (by document, then position — not by score), so that consecutive requests
share the start of their prompt and DeepSeek's prefix cache keeps hitting. Secrets are redacted.
"""

from __future__ import annotations

import heapq
import posixpath
import re
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import chain

from .chunks import Chunk, ChunkIndex, add_posting
from .privacy import DEFAULT_EXCLUDE, is_excluded, redact_secrets, uri_to_path
from .tokens import ASCII_COST, cost10

CROSS_FILE_CHUNK_LINES = 20
#: Lines before the cursor whose identifiers select cross-file chunks.
QUERY_LINES = 40
#: At most this many other documents are considered per request.
MAX_OTHER_DOCUMENTS = 8
#: Other documents larger than this are skipped (generated or minified; too costly to scan).
MAX_OTHER_CHARS = 500_000
#: Chunks of one document that go on to the ranking (a budget holds only a few chunks).
PER_DOCUMENT_CHUNKS = 16
#: Time a request may spend indexing chunks of documents it has not seen.
INDEX_BUDGET_S = 0.004
#: Step (in characters) for aligning a forced cut inside one very long line.


@dataclass(frozen=True)
class OpenDocument:
    """Another open document, a candidate source of cross-file context."""

    uri: str
    language_id: str
    text: str
    last_touched: float  # time.monotonic() of the last edit or focus; larger = more recent



# --- comments ----------------------------------------------------------------------------------

_HASH = (
    "python shellscript sh bash zsh fish ruby perl perl6 raku yaml toml r julia elixir makefile "
    "dockerfile powershell coffeescript nim crystal tcl cmake properties graphql nix terraform hcl "
    "gdscript awk starlark bazel conf gitignore ignore requirements pip-requirements dotenv "
    "plaintext"
)
_SLASH = (
    "c cpp objective-c objective-cpp cuda-cpp java javascript javascriptreact typescript "
    "typescriptreact go rust csharp fsharp kotlin scala swift dart php groovy zig solidity proto "
    "proto3 jsonc json json5 scss less sass stylus vue svelte astro glsl hlsl wgsl verilog "
    "systemverilog d haxe apex qml v odin carbon gleam jsx tsx"
)
_DASH = "lua sql plsql mysql pgsql haskell elm ada vhdl purescript idris agda"
_SEMI = "lisp commonlisp clojure scheme racket elisp emacs-lisp ini asm nasm masm fennel"
_PERCENT = "latex tex bibtex matlab octave erlang prolog"

_LINE_COMMENTS: dict[str, str] = {}
for _names, _prefix in (
    (_HASH, "# "),
    (_SLASH, "// "),
    (_DASH, "-- "),
    (_SEMI, "; "),
    (_PERCENT, "% "),
    ("vb vba vbscript", "' "),
    ("bat batch", "REM "),
    ("fortran fortran-modern", "! "),
):
    for _name in _names.split():
        _LINE_COMMENTS[_name] = _prefix

# Languages without line comments: (open, close).
_BLOCK_COMMENTS: dict[str, tuple[str, str]] = {
    "html": ("<!-- ", " -->"),
    "xml": ("<!-- ", " -->"),
    "xsl": ("<!-- ", " -->"),
    "svg": ("<!-- ", " -->"),
    "markdown": ("<!-- ", " -->"),
    "css": ("/* ", " */"),
    "ocaml": ("(* ", " *)"),
    "pascal": ("{ ", " }"),
}


def _comment_delims(language_id: str) -> tuple[str, str]:
    lang = language_id.lower()
    if lang in _BLOCK_COMMENTS:
        return _BLOCK_COMMENTS[lang]
    return _LINE_COMMENTS.get(lang, "# "), ""


def comment_prefix(language_id: str) -> str:
    """The comment opener used for path lines in ``language_id`` ("# ", "// ", "-- ", …)."""
    return _comment_delims(language_id)[0]


# --- cross-file context ------------------------------------------------------------------------

_IDENT = re.compile(r"[^\W\d]\w{2,}")
_TRAILING_WORD = re.compile(r"\w+\Z")
_STOPWORDS = frozenset(
    """
    and as assert async await break case catch class const continue def default del delete do elif
    else enum except export extends false final finally for from func function global if impl
    import in interface is lambda let match mut new nil none not null or package pass private
    protected pub public raise return self static struct super switch this throw true try type
    typeof use var void while with yield int str bool float string number boolean any char
    none true false the end then local
    """.split()
)


def _identifiers(s: str) -> frozenset[str]:
    return frozenset(w for w in _IDENT.findall(s) if w.lower() not in _STOPWORDS)


@dataclass(frozen=True)
class _Chunk:
    index: int
    text: str
    idents: frozenset[str]
    cost: int


@lru_cache(maxsize=16)
def _chunks_of(text: str) -> tuple[list[_Chunk], dict[str, list[int]]]:
    """Redacted, line-aligned chunks of a document with the positions of the chunks holding
    each identifier (memoised per text; str hashes are cached)."""
    lines = redact_secrets(text).split("\n")
    chunks: list[_Chunk] = []
    postings: dict[str, list[int]] = {}
    for i in range(0, len(lines), CROSS_FILE_CHUNK_LINES):
        body = "\n".join(lines[i : i + CROSS_FILE_CHUNK_LINES])
        if not body.strip():
            continue
        if not body.endswith("\n"):
            body += "\n"
        idents = _identifiers(body)
        add_posting(postings, len(chunks), idents)
        chunks.append(_Chunk(i // CROSS_FILE_CHUNK_LINES, body, idents, cost10(body)))
    return chunks, postings


def _best_chunks(query: frozenset[str], chunks: Sequence[_Chunk | Chunk],
                 postings: dict[str, list[int]]) -> list[tuple[float, _Chunk | Chunk]]:
    """A document's ``PER_DOCUMENT_CHUNKS`` best chunks by Jaccard similarity to the query
    (ties: the earlier chunk), each with its score. The shared identifiers are counted from
    the postings of the query's identifiers (at C speed), so only chunks sharing one are
    looked at: eight documents of 5,000 lines are scored per request."""
    shared = Counter(chain.from_iterable(filter(None, map(postings.get, query))))
    nq = len(query)
    # |q ∪ c| = |q| + |c| − |q ∩ c| ≥ |q| ≥ 1
    scored = [(n / (nq + len(chunks[i].idents) - n), -i) for i, n in shared.items()]
    return [(score, chunks[-neg]) for score, neg in heapq.nlargest(PER_DOCUMENT_CHUNKS, scored)]


def _display_path(uri: str, current_uri: str) -> str:
    """Path of ``uri`` as seen from the current document's directory (no home directories)."""
    path = uri_to_path(uri)
    here = uri_to_path(current_uri)
    if path.startswith("/") and here.startswith("/"):
        rel = posixpath.relpath(path, posixpath.dirname(here) or "/")
        if rel.split("/").count("..") <= 2:
            return rel
    return "/".join(path.rstrip("/").split("/")[-3:])


def _query_start(text: str, offset: int) -> int:
    start = offset
    for _ in range(QUERY_LINES):
        if start <= 0:
            break
        start = text.rfind("\n", 0, start - 1) + 1
    return max(start, offset - 8000)


def _score_order(t: tuple[float, int, int, object, object, str]) -> tuple[float, int, int]:
    return t[0], t[1], t[2]


def cross_file_header(
    text: str,
    offset: int,
    uri: str,
    language_id: str,
    others: Sequence[OpenDocument],
    budget_tokens: int,
    index: ChunkIndex | None = None,
) -> tuple[str, tuple[str, ...]]:
    """Best-matching chunks of other documents, each under a path comment, in a stable order.

    With an ``index`` (the engine's), chunks are looked up instead of rebuilt and only the
    chosen ones are redacted; a request spends at most ``INDEX_BUDGET_S`` indexing documents
    it has not seen (the rest are indexed by the next requests)."""
    # The word being typed is left out: a half-typed name would change the selection (and so the
    # prompt start) on every keystroke.
    recent = _TRAILING_WORD.sub("", text[_query_start(text, offset) : offset])
    query = _identifiers(recent)
    if not query:
        return "", ()
    candidates = [
        d
        for d in others
        if d.uri != uri
        and len(d.text) <= MAX_OTHER_CHARS
        and not is_excluded(d.uri, DEFAULT_EXCLUDE)
    ]
    candidates.sort(key=lambda d: (d.language_id != language_id, -d.last_touched, d.uri))
    candidates = candidates[:MAX_OTHER_DOCUMENTS]
    opener, closer = _comment_delims(language_id)

    def path_line(doc_uri: str) -> str:
        return f"{opener}Path: {_display_path(doc_uri, uri)}{closer}\n"

    current_line = path_line(uri)
    limit = budget_tokens * 10 - cost10(current_line)

    scored: list[tuple[float, int, int, OpenDocument, _Chunk | Chunk, str]] = []
    deadline = time.perf_counter() + INDEX_BUDGET_S
    for rank, doc in enumerate(candidates):
        weight = 1.0 if doc.language_id == language_id else 0.5
        head = path_line(doc.uri)
        columns: tuple[Sequence[_Chunk | Chunk], dict[str, list[int]]] = (
            _chunks_of(doc.text) if index is None else index.columns(doc.uri, doc.text, deadline))
        chunks, postings = columns
        # Only a document's best chunks go on to the global ranking.
        scored += [(-weight * score, rank, c.index, doc, c, head)
                   for score, c in _best_chunks(query, chunks, postings)]
    scored.sort(key=_score_order)

    chosen: list[tuple[str, int, _Chunk, str]] = []
    for _neg, _rank, _idx, doc, found, head in scored:
        cost = cost10(head) + found.cost  # upper bound: adjacent chunks share one head below
        if cost <= limit:
            chunk = found if isinstance(found, _Chunk) else _Chunk(
                found.index, index.redacted(doc.uri, found) if index else "", found.idents,
                found.cost)
            chosen.append((doc.uri, chunk.index, chunk, head))
            limit -= cost
        if limit < ASCII_COST * 40:
            break
    if not chosen:
        return "", ()

    chosen.sort(key=lambda t: (t[0], t[1]))  # stable order, not by score: keeps the start cached
    parts: list[str] = []
    uris: list[str] = []
    prev: tuple[str, int] | None = None
    for doc_uri, number, chunk, head in chosen:
        if prev != (doc_uri, number - 1):
            parts.append(head)
        parts.append(chunk.text)
        if doc_uri not in uris:
            uris.append(doc_uri)
        prev = (doc_uri, number)
    parts.append(current_line)
    return "".join(parts), tuple(uris)
