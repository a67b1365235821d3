"""The shape of a multi-line suggestion: its closing line, the join at the cursor, its depth.

Pure helpers for :func:`postprocess.clean`:

- :func:`scope_closer` / :func:`closer_first` — the closing line the model wrote at the end of
  the block: kept exactly when the rest of the document does not close that block itself
  (bracket balance of the document; indentation and keywords for ``end``-languages). When a
  grammar is installed, tree-sitter has the last word (:func:`.syntax_cut.choose`).
- :func:`join_at_cursor` — blanks the answer repeats at the join are not doubled.
- :func:`shift_to_cursor` — an answer written at another depth than the cursor's is moved so
  that its first line sits at the cursor and later lines keep their relative depth;
  :func:`reindent` then puts it in the document's tabs/spaces and unit.
"""

from __future__ import annotations

import re

from .text import (
    CLOSING_LINE,
    REOPENS,
    Cursor,
    indent_width,
    leading_ws,
    net_brackets,
    space_unit,
)

_OPENS = re.compile(r"(?:[{:]|=>|->|\bdo|\bthen|\bbegin)$")
_CONTINUATION = re.compile(r"^(?:[.+\-*/%&|^?:,=<>]|and\b|or\b)")


def scope_closer(text: str, scope: Cursor) -> int | None:
    """Offset of the line break before the last line when that line closes the scope."""
    nl = text.rstrip().rfind("\n")
    if nl < 0:
        return None
    last = text[nl + 1 :]
    stripped = last.strip()
    if not CLOSING_LINE.match(stripped) or REOPENS.search(stripped):
        return None
    if indent_width(leading_ws(last)) >= scope.scope_w:
        return None
    return nl


def closer_first(prefix: str, suffix: str, keep: tuple[str, int], drop: tuple[str, int],
                 closer: str, scope: Cursor) -> bool:
    """Heuristic: is the model's closing line wanted? ``keep``/``drop``: the suggestion
    ``(text, replace)`` with and without it. Bracket balance of the whole document first (a
    brace the document lacks is kept, one it has is not), else indentation."""
    doc = net_brackets(prefix) + net_brackets(suffix)
    with_it = abs(doc + net_brackets(keep[0]) - net_brackets(suffix[: keep[1]]))
    without = abs(doc + net_brackets(drop[0]) - net_brackets(suffix[: drop[1]]))
    if with_it != without:
        return with_it < without
    if _END.match(closer.strip()):
        # `end`-languages: keyword lines that open a block against the `end`s.
        opened = _keyword_balance(prefix) + _keyword_balance(drop[0]) + _keyword_balance(suffix)
        if opened != 0:
            return opened > 0
    if scope.block_ends and CLOSING_LINE.match(scope.next_line):
        # The document's next line closes a block: this one only if it is as deep.
        return scope.next_w < indent_width(leading_ws(closer.lstrip("\n")))
    return scope.keep_closer


_END = re.compile(r"end\b")
_KEYWORD_OPEN = re.compile(
    r"^[ \t]*(?:(?:local[ \t]+)?function|module|struct|mutable[ \t]+struct|macro|for|while|if"
    r"|unless|until|case|begin|let|try|quote|def|class|defp?|defmodule)\b(?!.*\bend\b).*$"
    r"|^.*\bdo(?:[ \t]*\|[^|\n]*\|)?[ \t]*$",
    re.MULTILINE,
)
_KEYWORD_END = re.compile(r"^[ \t]*end\b", re.MULTILINE)


def _keyword_balance(text: str) -> int:
    """Lines that open a keyword block minus lines that ``end`` one."""
    return len(_KEYWORD_OPEN.findall(text)) - len(_KEYWORD_END.findall(text))


def join_at_cursor(text: str, before: str, unit: str) -> str:
    """Drop blanks at the start of the answer that the text before the cursor already has.

    ``return |`` + `` this;`` → ``this;`` (``x = 1 |`` + ``  # c`` keeps one: two in all);
    on an indented blank line a start of fewer blanks than one indentation unit is the join
    repeated (``10 spaces|`` + `` x`` is not 11).
    """
    if not before or before[-1] not in " \t" or text[:1] not in (" ", "\t"):
        return text
    lead = leading_ws(text.split("\n", 1)[0])
    if before.strip():
        tail = before[len(before.rstrip(" \t")) :]
        return text[min(len(tail), len(lead)) :]
    if len(lead.replace("\t", "    ")) < (4 if unit == "\t" else len(unit)):
        return text[len(lead) :]
    return text


def shift_to_cursor(text: str, *, before: str, unit: str) -> str:
    """Move lines written in another frame so the first line sits at the cursor.

    The model sometimes writes the first line flush with the cursor and the rest at the depth
    it imagined for itself (body at twelve spaces under a first line meant for eight, or at
    two under a first line meant for zero). Its frame is read off the lines that come back to
    the first line's depth (a closing ``}``, a Python dedent, an Allman ``{``); without them,
    the body sits one level under an opening first line, and a statement's next lines at its
    depth.
    """
    lines = text.split("\n")
    body = [i for i, ln in enumerate(lines) if i > 0 and ln.strip()]
    if not body:
        return text
    first = before + lines[0]
    base = indent_width(leading_ws(first))
    widths = {i: indent_width(leading_ws(lines[i])) for i in body}
    lowest = min(widths.values())
    start = widths[body[0]]
    if lines[body[0]].strip() == "{":
        frame = start  # Allman: the brace sits where the header does
    elif _OPENS.search(first.rstrip()):
        step = space_unit([w - lowest for w in widths.values() if w > lowest])
        if start > lowest:
            frame = lowest
        elif lowest > base + 8 or (lowest <= base and lowest >= 2):
            frame = lowest - (step or (4 if lowest % 4 == 0 else 2))
        else:
            return text
    elif lowest > base + max(len(unit) if unit != "\t" else 4, 4) and not any(
        _CONTINUATION.match(lines[i].strip()) for i in body
    ):
        frame = lowest
    else:
        return text
    shift = frame - base
    if shift == 0 or any(w - shift < 0 for w in widths.values()):
        return text
    for i in body:
        ws = leading_ws(lines[i])
        w = widths[i] - shift
        indent = "\t" * (w // 4) + " " * (w % 4) if unit == "\t" else " " * w
        lines[i] = indent + lines[i][len(ws) :]
    return "\n".join(lines)


def reindent(text: str, *, before: str, doc_unit: str) -> str:
    """Re-indent continuation lines to the document's unit (the cursor line is left alone).

    Tab documents: leading spaces become tabs using the model's space step. Space documents:
    tabs become the unit; a model answering in 4 spaces for a 2-space file (measured relative
    to the cursor line's indentation) is rescaled.
    """
    lines = text.split("\n")
    if len(lines) < 2:
        return text
    body = [(i, leading_ws(ln)) for i, ln in enumerate(lines) if i > 0 and ln.strip()]
    if doc_unit == "\t":
        step = space_unit([ws.count(" ") for _, ws in body if " " in ws])
        if step is None:
            return text
        for i, ws in body:
            if " " in ws:
                w = ws.count("\t") * step + ws.count(" ")
                lines[i] = "\t" * (w // step) + " " * (w % step) + lines[i][len(ws) :]
        return "\n".join(lines)
    n = len(doc_unit)
    for i, ws in body:
        if "\t" in ws:
            lines[i] = ws.replace("\t", doc_unit) + lines[i][len(ws) :]
    # The cursor line as it will be: at column 0 the answer brings its own indentation.
    base = len(leading_ws(before + lines[0]).replace("\t", doc_unit))
    widths = [len(leading_ws(lines[i])) for i, _ in body]
    deltas = [w - base for w in widths if w > base]
    if deltas:
        step = min(deltas)
        plausible = step in (2, 4, 8) and n in (2, 4, 8)
        if step != n and plausible and all(d % step == 0 for d in deltas):
            for i, _ in body:
                ws = leading_ws(lines[i])
                d = len(ws) - base
                if d > 0:
                    lines[i] = " " * (base + (d // step) * n) + lines[i][len(ws) :]
    return "\n".join(lines)
