"""The identifiers near the cursor, most relevant first (what the repository context looks up)."""

from __future__ import annotations

import re

__all__ = ["cursor_identifiers"]

#: Lines around the cursor whose identifiers select definitions.
LINES_ABOVE = 30
LINES_BELOW = 5

_IDENT = re.compile(r"[A-Za-z_]\w*")
_KEYWORDS = frozenset(
    """
    and as assert async await break case catch class const continue def default del delete do elif
    else enum except export extends false final finally for from func function global if impl
    import in interface is lambda let match mut new nil none not null or package pass private
    protected pub public raise return self static struct super switch this throw true try type
    typeof use var void while with yield None True False fn mod crate let mut
    """.split()
)


_CONTROL = frozenset("if elif while for switch return catch function def class with not".split())


def cursor_identifiers(text: str, offset: int) -> list[str]:
    """Identifiers near the cursor, most relevant first: the call or member being typed on the
    cursor line, then the rest of that line, then the lines above and below, nearest first. The
    word under the cursor is left out (half typed, it would change on every keystroke)."""
    line_start = text.rfind("\n", 0, offset) + 1
    head = text[line_start:offset]
    head = re.sub(r"\w+\Z", "", head)
    out: list[str] = []

    def add(words: list[str]) -> None:
        for w in words:
            if w not in _KEYWORDS and len(w) > 1 and w not in out:
                out.append(w)

    # the innermost open call: `f(a, g(` → g, then f
    depth, calls = 0, list[str]()
    for m in re.finditer(r"[()]", head):
        if m.group(0) == ")":
            depth = max(0, depth - 1)
            if calls and len(calls) > depth:
                calls.pop()
        else:
            before = _IDENT.findall(head[: m.start()].rstrip()[-80:])
            calls = calls[:depth]
            calls.append(before[-1] if before else "")
            depth += 1
    for c in reversed(calls):  # `and(`, `or(` are functions in some code bases
        if c and c not in _CONTROL and c not in out:
            out.append(c)
    # a member being typed: `client.` → client (the chain before the dot)
    member = re.search(r"([\w.]+)\.\s*\Z", head)
    if member:
        add(list(reversed(member.group(1).split("."))))
    add(list(reversed(_IDENT.findall(head))))
    above_start, below_end = line_start, text.find("\n", offset)
    below_end = len(text) if below_end < 0 else below_end
    for _ in range(LINES_ABOVE):
        if above_start <= 0:
            break
        prev = text.rfind("\n", 0, above_start - 1) + 1
        add(list(reversed(_IDENT.findall(text[prev:above_start]))))
        above_start = prev
    tail = text[offset:below_end]
    add(_IDENT.findall(re.sub(r"\A\w+", "", tail)))
    end = below_end
    for _ in range(LINES_BELOW):
        if end >= len(text):
            break
        nxt = text.find("\n", end + 1)
        nxt = len(text) if nxt < 0 else nxt
        add(_IDENT.findall(text[end:nxt]))
        end = nxt
    return out
