"""Which code an action works on when nothing is selected: the enclosing Python def/class or
``{…}`` block, else the current line."""

from __future__ import annotations

import re

from ..postprocess.indentation import indent_of, indent_width, line_index, lines_with_offsets

PY_HEADER = re.compile(r"^[ \t]*(?:async[ \t]+def|def|class)\b")
_BRACE_LANGS = frozenset(
    "c cpp objective-c objective-cpp cuda-cpp java javascript javascriptreact typescript "
    "typescriptreact go rust csharp kotlin scala swift dart php groovy zig solidity jsonc json "
    "css scss less glsl hlsl wgsl d haxe apex vue svelte".split()
)


def default_range(text: str, start: int, end: int, language_id: str) -> tuple[int, int]:
    """The selection; for an empty one the enclosing def/class (Python) or ``{…}`` block, else
    the current line (without its line break)."""
    if start != end:
        return (min(start, end), max(start, end))
    lines = lines_with_offsets(text)
    row = line_index(lines, start)
    found: tuple[int, int] | None = None
    if language_id == "python":
        found = _python_block(text, lines, row)
    elif language_id in _BRACE_LANGS:
        found = _brace_block(text, lines, row)
    if found is not None:
        return found
    s, e, _ = lines[row]
    return (s, e)


def python_header_end(text: str, lines: list[tuple[int, int, int]], row: int) -> int:
    """Last line of the def/class signature starting at ``row`` (brackets may span lines)."""
    depth = 0
    for i in range(row, len(lines)):
        s, e, _ = lines[i]
        content = text[s:e].split("#", 1)[0]
        for ch in content:
            if ch in "([{":
                depth += 1
            elif ch in ")]}":
                depth = max(0, depth - 1)
        if depth == 0:
            return i  # the signature is complete (a one-liner does not end with ':')
        if i > row + 40:
            break
    return row


def _python_block(text: str, lines: list[tuple[int, int, int]],
                  row: int) -> tuple[int, int] | None:
    def line(i: int) -> str:
        return text[lines[i][0]:lines[i][1]]

    while line(row).lstrip().startswith("@") and row + 1 < len(lines):
        row += 1  # on a decorator: the definition below it
    for h in range(row, -1, -1):
        if not PY_HEADER.match(line(h)):
            continue
        indent = indent_width(indent_of(line(h)))
        hend = python_header_end(text, lines, h)
        last = hend
        for j in range(hend + 1, len(lines)):
            content = line(j)
            if not content.strip():
                continue
            if indent_width(indent_of(content)) <= indent:
                break
            last = j
        if h <= row <= last:
            first = h
            while first > 0 and line(first - 1).lstrip().startswith("@") and \
                    indent_width(indent_of(line(first - 1))) == indent:
                first -= 1
            return (lines[first][0], lines[last][1])
    return None


_SKIP = re.compile(
    r"//[^\n]*|/\*.*?\*/|\"(?:\\.|[^\"\\\n])*\"|'(?:\\.|[^'\\\n])*'|`(?:\\.|[^`\\])*`", re.S)


def _brace_block(text: str, lines: list[tuple[int, int, int]],
                 row: int) -> tuple[int, int] | None:
    """The innermost ``{…}`` pair whose lines include ``row`` (strings and comments skipped)."""
    if len(text) > 500_000:
        return None  # listing actions must stay cheap; the line will do
    masked = _SKIP.sub(lambda m: " " * len(m.group(0)), text)
    stack: list[int] = []
    best: tuple[int, int] | None = None
    row_start, row_end, _ = lines[row]
    for i, ch in enumerate(masked):
        if ch == "{":
            stack.append(i)
        elif ch == "}" and stack:
            o = stack.pop()
            if o < row_end + 1 and i >= row_start:
                if line_index(lines, o) == line_index(lines, i):
                    continue  # a one-line block: the line itself is the better unit
                if best is None or o > best[0]:
                    best = (o, i)
    if best is None:
        return None
    o, c = best
    orow = line_index(lines, o)
    s, e, _ = lines[orow]
    if not text[s:o].strip() and orow > 0:  # Allman style: the header is on the line above
        k = orow - 1
        while k > 0 and not text[lines[k][0]:lines[k][1]].strip():
            k -= 1
        s = lines[k][0]
    end = c + 1
    if end < len(text) and text[end] == ";":
        end += 1
    return (s, end)

