"""How each code action's answer becomes edits: replacing the selection, a docstring under the
``def`` line (or replacing the one there), a comment above the code, tests in their own file
(created or appended to) or below the code — re-indented, with the document's line endings.

:func:`plan` pairs the prompt for an action with the function that places its code.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from ..postprocess.indentation import (
    IndentStyle,
    detect_indent,
    eol_of,
    indent_of,
    indent_width,
    line_index,
    lines_with_offsets,
    reindent,
)
from .prompts import (
    Prompt,
    comment_prompt,
    docstring_prompt,
    fix_prompt,
    rewrite_prompt,
    tests_prompt,
)
from .ranges import PY_HEADER, python_header_end
from .replies import comment_only, docstring_only
from .testfiles import test_file_for
from .types import ActionRequest, FileChange, TextChange

Placer = Callable[[str], tuple[FileChange, ...]]


def plan(req: ActionRequest) -> tuple[Prompt, Placer]:
    """The prompt for a code-producing action, and how its code becomes edits."""
    text = req.text
    eol = eol_of(text)
    style = detect_indent(text)
    lines = lines_with_offsets(text)
    first_row = line_index(lines, req.start)
    row_start = lines[first_row][0]
    base = indent_of(text[row_start:lines[first_row][1]])
    selected = text[req.start:req.end]
    keeps_eol = selected.endswith(("\n", "\r"))

    def replace(code: str) -> tuple[FileChange, ...]:
        new = reindent(code, base=base, style=style, eol=eol,
                       first_line_indented=req.start == row_start)
        if keeps_eol:
            new += eol
        return (FileChange(req.uri, text, (TextChange(req.start, req.end, new),),
                           version=req.version),)

    if req.kind == "rewrite":
        return rewrite_prompt(req), replace
    if req.kind == "fix":
        return fix_prompt(req), replace
    if req.kind == "document":
        return _plan_document(req, lines, style, eol)
    return _plan_tests(req, lines, eol)


def _plan_document(req: ActionRequest, lines: list[tuple[int, int, int]], style: IndentStyle,
                   eol: str) -> tuple[Prompt, Placer]:
    text = req.text
    first_row = line_index(lines, req.start)
    last_row = line_index(lines, max(req.start, req.end - 1))

    def line(i: int) -> str:
        return text[lines[i][0]:lines[i][1]]

    header = next((i for i in range(first_row, last_row + 1) if PY_HEADER.match(line(i))), None)
    hend = python_header_end(text, lines, header) if header is not None else -1
    if req.language_id == "python" and header is not None and \
            line(hend).split("#", 1)[0].rstrip().endswith(":"):
        def_w = indent_width(indent_of(line(header)))
        body_row = next((j for j in range(hend + 1, len(lines)) if line(j).strip()), None)
        body_indent = style.make(def_w + style.unit) if not style.tabs else \
            indent_of(line(header)) + "\t"
        existing: tuple[int, int] | None = None
        if body_row is not None and indent_width(indent_of(line(body_row))) > def_w:
            body_indent = indent_of(line(body_row))
            existing = _existing_docstring(text, lines, body_row)
        prompt = docstring_prompt(req)

        def place_py(code: str) -> tuple[FileChange, ...]:
            doc = docstring_only(code)
            new = reindent(doc, base=body_indent, style=style, eol=eol)
            if existing is not None:
                change = TextChange(existing[0], existing[1], new)
            else:
                at = lines[hend][1]
                change = TextChange(at, at, eol + new)
            return (FileChange(req.uri, text, (change,), version=req.version),)

        return prompt, place_py

    base = indent_of(line(first_row))
    prompt = comment_prompt(req)

    def place_above(code: str) -> tuple[FileChange, ...]:
        comment = comment_only(code)
        new = reindent(comment, base=base, style=style, eol=eol) + eol
        at = lines[first_row][0]
        return (FileChange(req.uri, text, (TextChange(at, at, new),), version=req.version),)

    return prompt, place_above


def _existing_docstring(text: str, lines: list[tuple[int, int, int]],
                        row: int) -> tuple[int, int] | None:
    """Span (line start → closing quotes) of a docstring starting on ``row``, if any."""
    s = lines[row][0]
    m = re.match(r"[ \t]*[rRuU]?(\"\"\"|''')", text[s:])
    if not m:
        return None
    close = text.find(m.group(1), s + m.end())
    if close < 0:
        return None
    return (s, close + 3)


def _plan_tests(req: ActionRequest, lines: list[tuple[int, int, int]],
                eol: str) -> tuple[Prompt, Placer]:
    text = req.text
    target = test_file_for(req.path, req.language_id, req.root) if req.path else None
    existing: tuple[str, int | None] | None = None
    target_uri = target.as_uri() if target else None
    if target_uri is not None and req.read is not None:
        existing = req.read(target_uri)
    if target is not None and existing is None and not req.can_create:
        target = None  # cannot create files in this editor: put the tests below the code
    prompt = tests_prompt(req, target, existing)
    style = detect_indent(text)

    def place(code: str) -> tuple[FileChange, ...]:
        if target is not None and target_uri is not None:
            if existing is None:
                body = reindent(code, base="", style=IndentStyle(style.tabs, style.unit),
                                eol=eol) + eol
                return (FileChange(target_uri, "", (TextChange(0, 0, body),), create=True),)
            old, version = existing
            t_eol = eol_of(old) if old else eol
            body = reindent(code, base="", style=detect_indent(old) if old.strip() else style,
                            eol=t_eol) + t_eol
            sep = "" if not old else (t_eol if old.endswith(("\n", "\r")) else t_eol * 2)
            if old.strip():
                sep += t_eol
            return (FileChange(target_uri, old, (TextChange(len(old), len(old), sep + body),),
                               version=version),)
        row = _below(text, lines, line_index(lines, max(req.start, req.end - 1)))
        body = reindent(code, base="", style=style, eol=eol)
        gap = 2 if req.language_id == "python" else 1  # blank lines between top-level items
        if row >= len(lines):  # at the end of the document
            at = len(text)
            blank = 0
            k = len(lines) - 1
            while k > 0 and not text[lines[k - 1][0]:lines[k - 1][1]].strip():
                blank, k = blank + 1, k - 1
            sep = (eol if text and not text.endswith(("\n", "\r")) else "") + \
                eol * max(0, gap - blank)
            new = sep + body + eol
        else:
            at = lines[row][0]
            blank = 0
            k = row - 1
            while k >= 0 and not text[lines[k][0]:lines[k][1]].strip():
                blank, k = blank + 1, k - 1
            new = eol * max(0, gap - blank) + body + eol + eol * gap
        return (FileChange(req.uri, text, (TextChange(at, at, new),), version=req.version),)

    return prompt, place


_CONTINUES = re.compile(r"^(?:[})\]]|else\b|elif\b|except\b|finally\b|catch\b|end\b)")


def _below(text: str, lines: list[tuple[int, int, int]], row: int) -> int:
    """The line before which top-level code can go after ``row``: the next top-level
    statement, or ``len(lines)`` for the end of the document."""
    for j in range(row + 1, len(lines)):
        s, e, _ = lines[j]
        ln = text[s:e]
        if ln.strip() and ln[0] not in " \t" and not _CONTINUES.match(ln):
            return j
    return len(lines)

