"""Getting the code out of a chat reply: fenced blocks, the expected language, and for
documentation only the docstring or the comment (a model may repeat the code below it)."""

from __future__ import annotations

import re

from ..postprocess.indentation import indent_width, to_lf
from .ranges import PY_HEADER

LANG_ALIASES: dict[str, tuple[str, ...]] = {
    "python": ("python", "py", "python3"),
    "javascript": ("javascript", "js", "node", "mjs"),
    "javascriptreact": ("jsx", "javascript", "js"),
    "typescript": ("typescript", "ts"),
    "typescriptreact": ("tsx", "typescript", "ts"),
    "go": ("go", "golang"),
    "rust": ("rust", "rs"),
    "cpp": ("cpp", "c++", "cc", "cxx", "hpp"),
    "c": ("c", "h"),
    "csharp": ("csharp", "cs", "c#"),
    "shellscript": ("bash", "sh", "shell", "zsh"),
    "ruby": ("ruby", "rb"),
    "kotlin": ("kotlin", "kt"),
    "markdown": ("markdown", "md"),
}


def fence_tag(language_id: str) -> str:
    """The info string to open a code block in this language with."""
    return LANG_ALIASES.get(language_id, (language_id,))[0] if language_id != "plaintext" else ""


_FENCE = re.compile(r"^[ \t]*(`{3,}|~{3,})[ \t]*([^`\s]*)[^`]*$")


def code_blocks(reply: str) -> list[tuple[str, str]]:
    """``(info, content)`` of each fenced block; an unclosed last block runs to the end."""
    blocks: list[tuple[str, str]] = []
    lines = reply.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    i = 0
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        fence, info = m.group(1), m.group(2).lower()
        body: list[str] = []
        i += 1
        while i < len(lines):
            c = _FENCE.match(lines[i])
            if c and c.group(1)[0] == fence[0] and len(c.group(1)) >= len(fence) and \
                    not c.group(2):
                break
            body.append(lines[i])
            i += 1
        blocks.append((info, "\n".join(body)))
        i += 1
    return blocks


def extract_code(reply: str, language_id: str, *, prefixed: bool) -> str:
    """The code in a model reply.

    ``prefixed``: the reply continues an opened code block, so it is code up to the first fence
    (the API stops there; other servers may not). Otherwise — or when a prefixed reply opens a
    block itself — take the first block in the expected language, else the largest block, else
    the whole reply (no fence at all).
    """
    text = reply.replace("\r\n", "\n").replace("\r", "\n")
    if prefixed:
        first = next((ln for ln in text.split("\n") if ln.strip()), "")
        m = _FENCE.match(first)
        if not (m and m.group(2)):
            cut = text.find("```")
            return (text if cut < 0 else text[:cut]).strip("\n")
    blocks = code_blocks(text)
    if not blocks:
        return text.strip("\n")
    aliases = LANG_ALIASES.get(language_id, (language_id,))
    for info, body in blocks:
        if info in aliases:
            return body.strip("\n")
    return max(blocks, key=lambda b: len(b[1].strip()))[1].strip("\n")


_TRIPLE = re.compile(r"[rRuU]?(\"\"\"|''').*?\1", re.S)


def docstring_only(code: str) -> str:
    """A docstring literal, whatever shape the model answered in (bare text gets quotes)."""
    stripped = code.strip()
    m = _TRIPLE.search(stripped)
    if m and (m.start() == 0 or PY_HEADER.match(stripped)):
        # put the literal back at its column so its continuation lines dedent along with it
        line_start = stripped.rfind("\n", 0, m.start()) + 1
        return " " * indent_width(stripped[line_start:m.start()]) + m.group(0)
    if stripped.startswith(('"', "'")):
        return stripped
    return f'"""{stripped}"""' if "\n" not in stripped else f'"""{stripped}\n"""'


_COMMENT_LINE = re.compile(r"^[ \t]*(//|/\*|\*|#|--|;|\"\"\"|'''|<!--)")


def comment_only(code: str) -> str:
    """Leading comment lines of the answer (a model may repeat the code below its comment)."""
    lines = to_lf(code).strip("\n").split("\n")
    if not lines or not _COMMENT_LINE.match(lines[0]):
        return "\n".join(lines)
    out: list[str] = []
    in_block = False
    for ln in lines:
        if in_block or _COMMENT_LINE.match(ln) or not ln.strip():
            out.append(ln)
            if "/*" in ln and "*/" not in ln.split("/*", 1)[1]:
                in_block = True
            elif "*/" in ln:
                in_block = False
            continue
        break
    while out and not out[-1].strip():
        out.pop()
    return "\n".join(out)

