"""Reading code text for the clean-up: indentation, brackets, and what surrounds the cursor.

Pure helpers shared by the line scan (``cut``) and the clean-up steps
(``postprocess``). :class:`Cursor` gathers, once per prefix/suffix, everything the rest of the
pipeline asks about the document around the cursor.
"""

from __future__ import annotations

import functools
import math
import re
from collections import Counter
from dataclasses import dataclass

# What may follow the cursor without counting as "real text" on the line: closing brackets and
# quotes, then punctuation (`)`, `");`, `},`, `]):`).
CLOSING_RUN = re.compile(r"[)\]}>\"'`]*[;,.:]*")
OPENERS = {"(": ")", "[": "]", "{": "}"}
CLOSERS = {v: k for k, v in OPENERS.items()}
_BLOCK_OPENER = re.compile(
    r"(?:[:{(\[]|=>|->|\bdo(?:\s*\|[^|]*\|)?|\bthen|\bbegin|\belse|\brepeat)\s*$"
)
CLOSING_LINE = re.compile(r"^(?:[)\]}]|(?:end|fi|done|esac|until)\b)")
REOPENS = re.compile(r"(?:[{(\[:]|\bdo|\bthen|\belse)\s*$")
# Lines at the opener's level that carry the same statement on (`} else {`, `else:`, `except`).
GOES_ON = re.compile(
    r"^(?:[)\]}]\s*)?(?:elseif|else|elif|elsif|except|finally|catch|rescue|ensure)\b"
)
WORD = re.compile(r"\w")
_BRACKETS = re.compile(r"[^()\[\]{}]+")
TRIPLE = re.compile(r'"""|\'\'\'')
_CONTEXT_LINES = 8
_SUFFIX_LINES = 3


def indent_width(ws: str) -> int:
    """Visual width of leading whitespace; a tab counts 4 (only used to compare depths)."""
    return sum(4 if c == "\t" else 1 for c in ws)


def leading_ws(line: str) -> str:
    """The blanks (spaces and tabs) a line starts with."""
    return line[: len(line) - len(line.lstrip(" \t"))]


def is_closing_only(rest: str) -> bool:
    """True when ``rest`` is blank or only closing brackets, quotes and punctuation."""
    return CLOSING_RUN.fullmatch(rest.strip()) is not None


def _opens_block(line: str) -> bool:
    stripped = line.rstrip()
    return bool(stripped) and _BLOCK_OPENER.search(stripped) is not None


def opens_block(line: str, own: str | None = None) -> bool:
    """The line opens a block: it ends with an opener, or its own part (``own``, the text
    the suggestion adds to it; all of it by default) leaves a bracket open."""
    return _opens_block(line) or open_brackets_before(line if own is None else own) > 0


# An enclosing line that opens a construct made of like lines (fields, variants, arms, entries):
# a line below it at the same depth continues it.
_LIST_OPENER = re.compile(
    r"(?:\b(?:struct|interface|enum|record|union|object|type|data)\b.*[{(]"
    r"|\b(?:match|switch|when|select)\b.*\{|\bwith|=\s*[{\[(]|[\[(]|\benum\b.*:"
    r"|^\s*class\b.*:)\s*$"
)
_MEMBER_START = re.compile(r"^(?:[|*-]\s|case\b|default\b)")


@dataclass(frozen=True)
class Cursor:
    """What the surrounding document tells us, computed once per call."""

    before: str  # cursor line, text before the cursor
    after: str  # cursor line, text after the cursor (no line break)
    opener: bool  # the cursor line opens a block
    scope_w: int  # lines narrower than this leave the scope (multi mode)
    suffix_lines: tuple[str, ...]  # first non-blank lines after the cursor line, stripped
    keep_closer: bool  # a closing line that ends the scope belongs in the suggestion
    opener_w: int  # indentation width of the cursor line when it opens a block, else -1
    block_ends: bool  # the document has nothing more inside the scope after the cursor
    context: tuple[str, ...]  # last non-blank full lines before the cursor line (rstripped)
    next_w: int = -1  # indentation width of the first non-blank line after the cursor line
    next_line: str = ""  # that line, stripped
    in_list: bool = False  # the cursor line is a member of a list-like construct (fields, arms)
    in_triple: bool = False  # the prefix leaves a triple-quoted string open (Python)

    def open_brackets(self, prefix: str) -> int:
        """Brackets ``prefix`` (the one this cursor was made of) leaves open; computed once."""
        return _open_in_prefix(prefix)

    def opened(self, line: str, new_line: bool = False) -> Cursor:
        """The cursor as if ``line`` (the suggestion's first line; on a line of its own
        below the cursor line when ``new_line``) had been typed: it opens a block, so the
        scope is the block under it."""
        return _opened(self, line, new_line)

    @staticmethod
    @functools.lru_cache(maxsize=16)
    def of(prefix: str, suffix: str) -> Cursor:
        """Cached: while streaming, every chunk asks again about the same prefix/suffix
        objects (their hashes are cached by Python, so a hit costs next to nothing)."""
        before = prefix[prefix.rfind("\n") + 1 :]
        nl = suffix.find("\n")
        after = (suffix if nl < 0 else suffix[:nl]).rstrip("\r")
        opener = _opens_block(before)
        base = indent_width(leading_ws(before))
        if before.strip() == "":
            scope_w = indent_width(before)
        elif opener:
            scope_w = base + 1
        else:
            scope_w = base
        following: list[str] = []
        first_w = -1
        first_line = ""
        if nl >= 0:
            for raw in suffix[nl + 1 : nl + 1 + 4000].split("\n"):
                line = raw.rstrip("\r")
                if not line.strip():
                    continue
                if first_w < 0:
                    first_w = indent_width(leading_ws(line))
                    first_line = line.strip()
                following.append(line.strip())
                if len(following) >= _SUFFIX_LINES:
                    break
        # The model's closing line is wanted only when the document does not go on inside the
        # scope and does not close it itself: at the end of the file, or before a dedented
        # line that is not a closer (the next function, say).
        block_ends = first_w < scope_w
        keep_closer = block_ends and CLOSING_LINE.match(first_line) is None
        start = max(0, len(prefix) - len(before) - 4000)
        earlier = [
            ln.rstrip()
            for ln in prefix[start : len(prefix) - len(before)].split("\n")
            if ln.strip()
        ]
        in_list = False
        if before.strip() and not opener and after.strip() == "":
            member = _MEMBER_START.match(before.strip()) is not None
            enclosing = _enclosing(earlier, base, member)
            in_list = bool(enclosing) and (
                _LIST_OPENER.search(enclosing.strip()) is not None
                or (member and _opens_block(enclosing))
            )
        return Cursor(
            before=before,
            after=after,
            opener=opener,
            scope_w=scope_w,
            suffix_lines=tuple(following),
            keep_closer=keep_closer,
            opener_w=base if opener else -1,
            block_ends=block_ends,
            context=tuple(earlier[-_CONTEXT_LINES:]),
            next_w=first_w,
            next_line=first_line,
            in_list=in_list,
            in_triple=len(TRIPLE.findall(prefix)) % 2 == 1,
        )


@functools.lru_cache(maxsize=4)
def _open_in_prefix(prefix: str) -> int:
    return open_brackets_before(prefix)


def _enclosing(earlier: list[str], base: int, member: bool) -> str:
    """The line that opens the construct the cursor line sits in: the nearest one above with
    less indentation (above a lone ``{``); for a member line (``| x ->``, ``case``), the
    nearest non-member line at its depth or less."""
    for k in range(len(earlier) - 1, -1, -1):
        ln = earlier[k]
        w = indent_width(leading_ws(ln))
        if w < base or (member and w <= base and not _MEMBER_START.match(ln.strip())):
            if ln.strip() == "{" and k > 0:
                return earlier[k - 1].rstrip() + " {"  # Allman style
            return ln
    return ""


@functools.lru_cache(maxsize=16)
def _opened(cur: Cursor, line: str, new_line: bool) -> Cursor:
    before = line if new_line else cur.before + line
    base = indent_width(leading_ws(before))
    block_ends = cur.next_w < base + 1
    context = (cur.context + (cur.before.rstrip(),))[-_CONTEXT_LINES:] if new_line else cur.context
    return Cursor(
        before=before,
        after=cur.after,
        opener=True,
        scope_w=base + 1,
        suffix_lines=cur.suffix_lines,
        keep_closer=block_ends and CLOSING_LINE.match(cur.next_line) is None,
        opener_w=base,
        block_ends=block_ends,
        context=context,
        next_w=cur.next_w,
        next_line=cur.next_line,
    )


# --------------------------------------------------------------------------------------------
# Brackets


def net_brackets(text: str) -> int:
    """Openers minus closers (round, square and curly brackets)."""
    return sum(text.count(c) for c in OPENERS) - sum(text.count(c) for c in CLOSERS)


def closing_run(after: str) -> str:
    """The closing characters right after the cursor (``")`` in ``|"); x``)."""
    m = CLOSING_RUN.match(after)
    return m.group(0) if m else ""


def excess_closers(text: str) -> int:
    """How many closing brackets in ``text`` no opener in ``text`` matches."""
    return len(unmatched_closers(text))


def unmatched_closers(text: str) -> str:
    """The closing brackets in ``text`` that no opener in ``text`` matches, in order."""
    depth = 0
    out: list[str] = []
    for c in _BRACKETS.sub("", text):
        if c in OPENERS:
            depth += 1
        elif depth:
            depth -= 1
        else:
            out.append(c)
    return "".join(out)


def open_brackets_before(prefix: str) -> int:
    """Brackets opened in ``prefix`` and not closed yet (unmatched closers are ignored)."""
    depth = 0
    for c in _BRACKETS.sub("", prefix):
        depth = depth + 1 if c in OPENERS else max(0, depth - 1)
    return depth


# --------------------------------------------------------------------------------------------
# Indentation and line endings


def space_unit(widths: list[int]) -> int | None:
    """The space step (4 or 2) all these indentation widths are multiples of, if any."""
    g = 0
    for w in widths:
        g = math.gcd(g, w)
    if g == 0:
        return None
    if g % 4 == 0:
        return 4
    if g % 2 == 0:
        return 2
    return None


def indent_evidence(text: str) -> tuple[str, int]:
    """(unit, how many lines support it); unit is ``"\\t"`` or spaces."""
    tabs = 0
    deltas: Counter[int] = Counter()
    prev = 0
    for line in text.split("\n"):
        if not line.strip():
            continue
        ws = leading_ws(line)
        if ws.startswith("\t"):
            tabs += 1
            continue
        if "\t" in ws:
            continue
        w = len(ws)
        d = abs(w - prev)
        if 2 <= d <= 8:
            deltas[d] += 1
        prev = w
    spaces = sum(deltas.values())
    if tabs > spaces:
        return "\t", tabs
    if not deltas:
        return "    ", 0
    best = max(deltas.items(), key=lambda kv: (kv[1], -kv[0]))[0]
    return " " * best, deltas[best]


def detect_indent(text: str) -> str:
    """The indentation unit of ``text``: ``"\\t"`` or n spaces; 4 spaces when unclear."""
    return indent_evidence(text)[0]


def doc_crlf(prefix: str, suffix: str) -> bool:
    """Whether the document ends its lines with ``\\r\\n`` (judged by the line break
    nearest before the cursor, else the first one after it)."""
    nl = prefix.rfind("\n")
    if nl >= 0:
        return nl > 0 and prefix[nl - 1] == "\r"
    nl = suffix.find("\n")
    return nl > 0 and suffix[nl - 1] == "\r"
