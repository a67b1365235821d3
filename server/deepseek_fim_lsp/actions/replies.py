"""Getting the code out of a chat reply: fenced blocks, the expected language, and for
documentation only the docstring or the comment (a model may repeat the code below it)."""

from __future__ import annotations

import re

from ..postprocess.indentation import indent_width, to_lf
from .ranges import PY_HEADER
from .types import EmptyReply, NoCodeBlock

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


def lang_name(language_id: str) -> str:
    """The language's name as a person writes it."""
    return {"typescriptreact": "TypeScript (TSX)", "javascriptreact": "JavaScript (JSX)",
            "shellscript": "shell script", "cpp": "C++", "csharp": "C#"}.get(
        language_id, language_id.capitalize() if language_id != "plaintext" else "plain text")


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


#: Info strings that say nothing about the language: such a block counts as untagged.
_GENERIC_TAGS = ("", "text", "txt", "plaintext", "plain", "code")
#: Languages whose "code" is prose: no prose check, any block will do.
_PROSE_LANGUAGES = ("plaintext", "markdown", "text", "restructuredtext", "latex")
#: A sentence: starts with a letter, three words or more, ends like a sentence, and holds
#: nothing code is made of (brackets, operators, ``#`` comments, semicolons).
_SENTENCE = re.compile(r"^[A-Za-z][^()\[\]{}=<>+*/\\#@$%^&|~;]*\s\S+\s\S+[^()\[\]{}=<>+*/\\"
                       r"#@$%^&|~;]*[.:!?]$")


def _is_prose(text: str) -> bool:
    """Every line reads as a sentence ("Here is the fix:", "I can't help with that.")."""
    lines = [ln.strip() for ln in text.split("\n") if ln.strip()]
    return bool(lines) and all(_SENTENCE.match(ln) for ln in lines)


def _before_first_fence(text: str) -> tuple[str, re.Match[str] | None]:
    """The text before the first fence line, and that line's match (None: no fence)."""
    lines = text.split("\n")
    for i, line in enumerate(lines):
        if m := _FENCE.match(line):
            return "\n".join(lines[:i]), m
    return text, None


def extract_code(reply: str, language_id: str, *, prefixed: bool) -> str:
    """The code in a model reply; :class:`NoCodeBlock` when there is none to apply
    (:class:`EmptyReply` when the answer holds no code at all).

    Prose is never code. ``prefixed``: the request opened a code block for the reply to
    continue, so the reply is code up to its first (closing) fence — if the server honoured
    that. One that ignored it answers in Markdown, which shows: its first fence names a
    language (it opens a block), or what comes before the fence is empty or prose. A Markdown
    answer gives the first block in the file's language, else the largest block without a
    language; blocks only in other languages, or none at all, give nothing.
    """
    text = reply.replace("\r\n", "\n").replace("\r", "\n")
    prose_ok = language_id in _PROSE_LANGUAGES
    if prefixed:
        head, fence = _before_first_fence(text)
        if fence is None or not fence.group(2):
            code = head.strip("\n")
            if code.strip() and (prose_ok or not _is_prose(code)):
                return code
            if fence is None:
                if not code.strip():
                    raise EmptyReply()
                raise NoCodeBlock("the model answered in words, without code", prose=True)
    blocks = [(info, body.strip("\n")) for info, body in code_blocks(text)]
    if prose_ok:
        usable = [b for _, b in blocks if b.strip()]
        if usable:
            return max(usable, key=len)
        if not prefixed and not blocks:
            raise NoCodeBlock("the answer had no code block")
        raise EmptyReply()
    aliases = LANG_ALIASES.get(language_id, (language_id,))
    for info, body in blocks:
        if info in aliases and body.strip():
            return body
    untagged = [body for info, body in blocks
                if info in _GENERIC_TAGS and body.strip() and not _is_prose(body)]
    if untagged:
        return max(untagged, key=len)
    others = sorted({info for info, body in blocks if body.strip() and info not in _GENERIC_TAGS})
    if others:
        raise NoCodeBlock(f"the answer's code is in {', '.join(others)}, not "
                          f"{lang_name(language_id)}")
    if not any(body.strip() for _, body in blocks):
        if blocks:
            raise EmptyReply()
        raise NoCodeBlock(f"the answer had no code block, only words (no "
                          f"{lang_name(language_id)} to apply)")
    raise NoCodeBlock("the answer's code block holds only words")


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

