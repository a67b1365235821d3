"""Text + cursor offset → the FIM prompt/suffix pair, under token budgets. Pure, no I/O.

Why the layout matters: DeepSeek bills input tokens that hit its prefix cache at ~2% of a miss,
and a hit needs a byte-identical *start* of the prompt. So the prefix window starts at the file
start while it fits, and otherwise at a line that is a multiple of ``chunk_lines`` — it moves
forward in large steps, not on every keystroke, and consecutive requests share their start.
Cross-file snippets go in front of the prefix in a stable order for the same reason.

All offsets are Python string indices (code points). Token counts are the documented estimate
(≈0.3 token per ASCII character, ≈0.6 per other character); internally costs are kept in tenths
of a token so that budgets are exact integers.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from .privacy import (
    DEFAULT_EXCLUDE,
    REDACTED,
    effective_patterns,
    is_excluded,
    redact_secrets,
    uri_to_path,
)

__all__ = [
    "DEFAULT_EXCLUDE",
    "REDACTED",
    "FimWindow",
    "OpenDocument",
    "build_window",
    "comment_prefix",
    "effective_patterns",
    "estimate_tokens",
    "is_excluded",
    "redact_secrets",
]

#: Lines per cross-file chunk; chunks are aligned to the document start so their text recurs.
CROSS_FILE_CHUNK_LINES = 20
#: Lines before the cursor whose identifiers select cross-file chunks.
QUERY_LINES = 40
#: At most this many other documents are considered per request.
MAX_OTHER_DOCUMENTS = 8
#: Other documents larger than this are skipped (generated or minified; too costly to scan).
MAX_OTHER_CHARS = 500_000
#: Step (in characters) for aligning a forced cut inside one very long line.
CHAR_ALIGN = 256

_ASCII_COST = 3  # tenths of a token
_OTHER_COST = 6


def _cost10(s: str) -> int:
    """Estimated tokens ×10 (C-speed: one ASCII encode, no Python-level loop)."""
    n = len(s)
    if s.isascii():
        return _ASCII_COST * n
    ascii_chars = len(s.encode("ascii", "ignore"))
    return _ASCII_COST * ascii_chars + _OTHER_COST * (n - ascii_chars)


def estimate_tokens(text: str) -> int:
    """Estimated token count: 0.3 per ASCII char, 0.6 per other char, rounded up."""
    return (_cost10(text) + 9) // 10


@dataclass(frozen=True)
class OpenDocument:
    """Another open document, a candidate source of cross-file context."""

    uri: str
    language_id: str
    text: str
    last_touched: float  # time.monotonic() of the last edit or focus; larger = more recent


@dataclass(frozen=True)
class FimWindow:
    """What to send: ``prompt``/``suffix`` for the API, plus where they came from."""

    prompt: str  # cross-file header (if any) + prefix window
    suffix: str  # text[offset:suffix_end]
    prefix: str  # text[prefix_start:offset]
    prefix_start: int
    suffix_end: int
    context_uris: tuple[str, ...]  # documents whose snippets are in the header, in order
    language_id: str = ""  # the document's language (the clean-up's syntax judge uses it)


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


# --- cutting -----------------------------------------------------------------------------------


def _fits(text: str, a: int, b: int, limit: int) -> int | None:
    """Cost of text[a:b] if it is at most ``limit`` tenths, else None (cheap reject first)."""
    if _ASCII_COST * (b - a) > limit:
        return None
    c = _cost10(text[a:b])
    return c if c <= limit else None


def _splits_pair(text: str, i: int) -> bool:
    """True if a cut at ``i`` would separate "\\r\\n" or a (stray) surrogate pair."""
    if i <= 0 or i >= len(text):
        return False
    before, after = text[i - 1], text[i]
    if before == "\r" and after == "\n":
        return True
    return "\ud800" <= before <= "\udbff" and "\udc00" <= after <= "\udfff"


def _cut_tail(text: str, a: int, b: int, limit: int, align: bool) -> int:
    """Smallest ``p`` in [a, b] with cost(text[p:b]) <= limit; aligned to steps from ``a``."""
    m_hi = min(b - a, max(limit, 0) // _ASCII_COST)  # more chars than this can never fit
    if _cost10(text[b - m_hi : b]) <= limit:
        m = m_hi
    else:  # binary search the longest fitting tail length
        lo, hi = 0, m_hi
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if _cost10(text[b - mid : b]) <= limit:
                lo = mid
            else:
                hi = mid
        m = lo
    p = b - m
    if align and p > a:
        step = CHAR_ALIGN
        while step > 1:
            q = a + -(-(p - a) // step) * step
            if q <= b:
                p = q
                break
            step //= 2
    if p < b and _splits_pair(text, p):
        p += 1
    return p


def _cut_head(text: str, a: int, b: int, limit: int) -> int:
    """Largest ``e`` in [a, b] with cost(text[a:e]) <= limit, never splitting "\\r\\n"."""
    m_hi = min(b - a, max(limit, 0) // _ASCII_COST)
    if _cost10(text[a : a + m_hi]) <= limit:
        m = m_hi
    else:
        lo, hi = 0, m_hi
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if _cost10(text[a : a + mid]) <= limit:
                lo = mid
            else:
                hi = mid
        m = lo
    e = a + m
    if e > a and _splits_pair(text, e):
        e -= 1
    return e


def _prefix_start(
    text: str, offset: int, budget_tokens: int, chunk_lines: int, sliding: bool
) -> int:
    """Where the prefix window starts; see the module docstring for the alignment rule."""
    if budget_tokens <= 0 or offset <= 0:
        return offset
    limit = budget_tokens * 10
    line_start = text.rfind("\n", 0, offset) + 1
    used = _fits(text, line_start, offset, limit)
    if used is None:  # the cursor line alone is too long: cut inside it
        return _cut_tail(text, line_start, offset, limit, not sliding)
    starts = [line_start]  # line starts walked so far, cursor line first
    while line_start > 0:
        prev = text.rfind("\n", 0, line_start - 1) + 1
        cost = _fits(text, prev, line_start, limit - used)
        if cost is None:
            if len(starts) == 1 and _fits(text, prev, line_start, limit) is None:
                # the line above alone exceeds the budget (minified code): take its tail
                return _cut_tail(text, prev, line_start, limit - used, not sliding)
            break
        used += cost
        line_start = prev
        starts.append(prev)
    if line_start == 0 or sliding:
        return line_start
    # Cache-friendly: the smallest line number >= the earliest fitting one that is a multiple of
    # chunk_lines (halving the step when the window is shorter than a chunk).
    first_line = text.count("\n", 0, line_start)
    cursor_line = first_line + len(starts) - 1
    step = max(chunk_lines, 1)
    while True:
        aligned = -(-first_line // step) * step
        if aligned <= cursor_line or step == 1:
            break
        step //= 2
    return starts[cursor_line - aligned]


def _suffix_end(text: str, offset: int, budget_tokens: int) -> int:
    """Where the suffix window ends: after whole lines (the "\\n" included) within budget."""
    n = len(text)
    if budget_tokens <= 0 or offset >= n:
        return offset
    limit = budget_tokens * 10
    nl = text.find("\n", offset)
    end = n if nl < 0 else nl + 1
    used = _fits(text, offset, end, limit)
    if used is None:
        return _cut_head(text, offset, end, limit)
    whole_lines = 0
    while end < n:
        nl = text.find("\n", end)
        nxt = n if nl < 0 else nl + 1
        cost = _fits(text, end, nxt, limit - used)
        if cost is None:
            if whole_lines == 0 and _fits(text, end, nxt, limit) is None:
                # the line below alone exceeds the budget (minified code): take its head
                return _cut_head(text, end, nxt, limit - used)
            break
        used += cost
        end = nxt
        whole_lines += 1
    return end


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
def _chunks_of(text: str) -> tuple[_Chunk, ...]:
    """Redacted, line-aligned chunks of a document (memoised per text; str hashes are cached)."""
    lines = redact_secrets(text).split("\n")
    chunks: list[_Chunk] = []
    for i in range(0, len(lines), CROSS_FILE_CHUNK_LINES):
        body = "\n".join(lines[i : i + CROSS_FILE_CHUNK_LINES])
        if not body.strip():
            continue
        if not body.endswith("\n"):
            body += "\n"
        chunks.append(_Chunk(i // CROSS_FILE_CHUNK_LINES, body, _identifiers(body), _cost10(body)))
    return tuple(chunks)


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


def _cross_file_header(
    text: str,
    offset: int,
    uri: str,
    language_id: str,
    others: Sequence[OpenDocument],
    budget_tokens: int,
) -> tuple[str, tuple[str, ...]]:
    """Best-matching chunks of other documents, each under a path comment, in a stable order."""
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
    limit = budget_tokens * 10 - _cost10(current_line)

    scored: list[tuple[float, int, int, OpenDocument, _Chunk, str]] = []
    for rank, doc in enumerate(candidates):
        weight = 1.0 if doc.language_id == language_id else 0.5
        head = path_line(doc.uri)
        for chunk in _chunks_of(doc.text):
            if query.isdisjoint(chunk.idents):
                continue
            score = weight * len(query & chunk.idents) / len(query | chunk.idents)
            scored.append((-score, rank, chunk.index, doc, chunk, head))
    scored.sort(key=lambda t: (t[0], t[1], t[2]))

    chosen: list[tuple[str, int, _Chunk, str]] = []
    for _neg, _rank, _idx, doc, chunk, head in scored:
        cost = _cost10(head) + chunk.cost  # upper bound: adjacent chunks share one head below
        if cost <= limit:
            chosen.append((doc.uri, chunk.index, chunk, head))
            limit -= cost
        if limit < _ASCII_COST * 40:
            break
    if not chosen:
        return "", ()

    chosen.sort(key=lambda t: (t[0], t[1]))  # stable order, not by score: keeps the start cached
    parts: list[str] = []
    uris: list[str] = []
    prev: tuple[str, int] | None = None
    for doc_uri, index, chunk, head in chosen:
        if prev != (doc_uri, index - 1):
            parts.append(head)
        parts.append(chunk.text)
        if doc_uri not in uris:
            uris.append(doc_uri)
        prev = (doc_uri, index)
    parts.append(current_line)
    return "".join(parts), tuple(uris)


# --- the window --------------------------------------------------------------------------------


def build_window(
    text: str,
    offset: int,
    *,
    uri: str,
    language_id: str,
    prefix_tokens: int,
    suffix_tokens: int,
    others: Sequence[OpenDocument] = (),
    cross_file_tokens: int = 0,
    chunk_lines: int = 32,
    sliding: bool = False,
) -> FimWindow:
    """Cut the prompt and suffix around ``offset`` (a code-point index into ``text``).

    The prefix starts at a line start (the file start while it fits, else a line number that is
    a multiple of ``chunk_lines``; ``sliding=True`` starts as early as the budget allows instead).
    The suffix ends after a whole line. Only a line too long for the budget is cut inside, never
    between "\\r" and "\\n". Cross-file snippets, if any, come first under their own budget.
    """
    offset = max(0, min(offset, len(text)))
    start = _prefix_start(text, offset, prefix_tokens, chunk_lines, sliding)
    end = _suffix_end(text, offset, suffix_tokens)
    prefix = text[start:offset]
    header, uris = "", tuple[str, ...]()
    if cross_file_tokens > 0 and others:
        header, uris = _cross_file_header(text, offset, uri, language_id, others, cross_file_tokens)
    return FimWindow(
        prompt=header + prefix,
        suffix=text[offset:end],
        prefix=prefix,
        prefix_start=start,
        suffix_end=end,
        context_uris=uris,
        language_id=language_id,
    )
