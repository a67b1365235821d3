"""Chat-based code actions, free of LSP: which code an action works on, the prompt, the chat call,
getting the code out of the reply, and the edit as offsets and text.

The flow of one action: :func:`default_range` picks the code (the selection, else the enclosing
function/block, else the line); :func:`run_action` builds the prompt with the surrounding file
under a token budget, asks the chat model — in prefix mode (``/beta``, assistant message
"```<lang>\\n", stop "```") so the answer *is* the code — and turns the reply into
:class:`FileChange` edits re-indented and with the line endings of the target document. A reply
cut off by ``max_tokens`` never becomes an edit: half a function is worse than none.

Everything here works on Python string offsets; :mod:`lsp_actions` converts to LSP positions.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from . import postprocess
from .backends.base import Backend, ChatMessage, ChatRequest, ChatResult, Usage
from .config import Settings
from .context import estimate_tokens
from .errors import DeepSeekError, RequestRejected, UnknownModelError
from .privacy import redact_secrets
from .usage import UsageLedger

ActionKind = Literal["explain", "rewrite", "document", "tests", "fix"]
ACTION_KINDS: tuple[ActionKind, ...] = ("explain", "rewrite", "document", "tests", "fix")

DEFAULT_INSTRUCTION = (
    "Improve this code: make it clearer and more idiomatic without changing behaviour"
)
#: Token budget for the file around the selection that goes along as context.
CONTEXT_TOKENS = 3000

SEL_START = "<<<SELECTION>>>"
SEL_END = "<<<END SELECTION>>>"


class ActionError(DeepSeekError):
    """An action that cannot produce a sound result; nothing is applied."""

    kind = "action"


class TruncatedReply(ActionError):
    kind = "action_truncated"

    def __init__(self, max_tokens: int) -> None:
        super().__init__(
            f"DeepSeek: the answer was cut off at {max_tokens} tokens (`deepseekFim.chatMaxTokens`"
            "), so nothing was changed. Select less code or raise `deepseekFim.chatMaxTokens`."
        )


class EmptyReply(ActionError):
    kind = "action_empty"

    def __init__(self) -> None:
        super().__init__("DeepSeek: the model answered without any code, so nothing was changed.")


# --- documents: line endings, lines, indentation -----------------------------------------------


def eol_of(text: str) -> str:
    """The document's line break: the first one found (``\\n`` for single-line documents)."""
    m = re.search(r"\r\n|\n|\r", text)
    return m.group(0) if m else "\n"


def _lines_with_offsets(text: str) -> list[tuple[int, int, int]]:
    """``(start, content_end, next_start)`` per line (LSP line breaks)."""
    out: list[tuple[int, int, int]] = []
    pos = 0
    for m in re.finditer(r"\r\n|\n|\r", text):
        out.append((pos, m.start(), m.end()))
        pos = m.end()
    out.append((pos, len(text), len(text)))
    return out


def _line_index(lines: list[tuple[int, int, int]], offset: int) -> int:
    for i, (start, _end, nxt) in enumerate(lines):
        if offset < nxt or i == len(lines) - 1:
            if offset >= start:
                return i
    return len(lines) - 1


def _indent_of(line: str) -> str:
    return line[: len(line) - len(line.lstrip(" \t"))]


def _width(indent: str, tab: int = 4) -> int:
    w = 0
    for ch in indent:
        w = (w // tab + 1) * tab if ch == "\t" else w + 1
    return w


@dataclass(frozen=True)
class IndentStyle:
    tabs: bool
    unit: int  # columns per level (the tab width when ``tabs``)

    def make(self, width: int) -> str:
        if self.tabs:
            return "\t" * (width // self.unit) + " " * (width % self.unit)
        return " " * width


def detect_indent(text: str) -> IndentStyle:
    """The document's indentation as a style: the same detection as inline completion uses."""
    unit = postprocess.detect_indent(text)
    return IndentStyle(True, 4) if unit == "\t" else IndentStyle(False, len(unit))


def reindent(code: str, *, base: str, style: IndentStyle, first_line_indented: bool = True,
             eol: str = "\n") -> str:
    """Code from the model, placed at ``base`` indentation in the document's style.

    The model's own indentation is normalised (common leading whitespace removed, its levels
    converted to tabs or the document's step) and ``base`` is put in front of every non-blank
    line — except the first when ``first_line_indented`` is False (the text before the range on
    that line already provides it). Line breaks become ``eol``; no trailing line break.
    """
    lines = code.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    while lines and not lines[0].strip():
        lines.pop(0)
    while lines and not lines[-1].strip():
        lines.pop()
    if not lines:
        return ""
    lines = [ln.rstrip() for ln in lines]
    widths = [_width(_indent_of(ln)) for ln in lines]
    nonblank = [i for i, ln in enumerate(lines) if ln.strip()]
    base_w = _width(base)
    # A model copying from the file sometimes writes the first line flush left and the rest at
    # their absolute column: take the rest's indentation relative to the base instead.
    if len(nonblank) > 1 and widths[0] == 0 and base_w and \
            min(widths[i] for i in nonblank[1:]) >= base_w + style.unit:
        widths = [widths[0]] + [max(0, w - base_w) for w in widths[1:]]
    common = min(widths[i] for i in nonblank)
    model_unit = _model_unit([widths[i] - common for i in nonblank])
    out: list[str] = []
    for i, ln in enumerate(lines):
        body = ln.lstrip(" \t")
        if not body:
            out.append("")
            continue
        rel = widths[i] - common
        levels, rest = divmod(rel, model_unit)
        ind = style.make(levels * style.unit + rest)
        prefix = base if (i > 0 or first_line_indented) else ""
        out.append(prefix + ind + body)
    return eol.join(out)


def _model_unit(widths: list[int]) -> int:
    """The model's indentation step: the smallest positive relative indentation (default 4)."""
    positive = [w for w in widths if w > 0]
    return min(positive) if positive and min(positive) in (2, 3, 4, 8) else 4


# --- which code an action works on -----------------------------------------------------------

_PY_HEADER = re.compile(r"^[ \t]*(?:async[ \t]+def|def|class)\b")
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
    lines = _lines_with_offsets(text)
    row = _line_index(lines, start)
    found: tuple[int, int] | None = None
    if language_id == "python":
        found = _python_block(text, lines, row)
    elif language_id in _BRACE_LANGS:
        found = _brace_block(text, lines, row)
    if found is not None:
        return found
    s, e, _ = lines[row]
    return (s, e)


def _python_header_end(text: str, lines: list[tuple[int, int, int]], row: int) -> int:
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
        if not _PY_HEADER.match(line(h)):
            continue
        indent = _width(_indent_of(line(h)))
        hend = _python_header_end(text, lines, h)
        last = hend
        for j in range(hend + 1, len(lines)):
            content = line(j)
            if not content.strip():
                continue
            if _width(_indent_of(content)) <= indent:
                break
            last = j
        if h <= row <= last:
            first = h
            while first > 0 and line(first - 1).lstrip().startswith("@") and \
                    _width(_indent_of(line(first - 1))) == indent:
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
                if _line_index(lines, o) == _line_index(lines, i):
                    continue  # a one-line block: the line itself is the better unit
                if best is None or o > best[0]:
                    best = (o, i)
    if best is None:
        return None
    o, c = best
    orow = _line_index(lines, o)
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


# --- extracting code from a reply ------------------------------------------------------------

_LANG_ALIASES: dict[str, tuple[str, ...]] = {
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
    return _LANG_ALIASES.get(language_id, (language_id,))[0] if language_id != "plaintext" else ""


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
    aliases = _LANG_ALIASES.get(language_id, (language_id,))
    for info, body in blocks:
        if info in aliases:
            return body.strip("\n")
    return max(blocks, key=lambda b: len(b[1].strip()))[1].strip("\n")


# --- where tests go ----------------------------------------------------------------------------

_JS_LANGS = ("javascript", "javascriptreact", "typescript", "typescriptreact")


def is_test_file(path: Path) -> bool:
    name = path.name
    return (name.startswith("test_") or name.endswith("_test.py") or name.endswith("_test.go")
            or ".test." in name or ".spec." in name)


def test_file_for(path: Path, language_id: str, root: Path | None) -> Path | None:
    """The conventional test file for ``path``, or None when the language has no convention."""
    if is_test_file(path):
        return None
    stem = path.stem
    if language_id == "python":
        d = path.parent
        while True:
            if (d / "tests").is_dir():
                return d / "tests" / f"test_{stem}.py"
            if root is None or d == root or d.parent == d or root not in d.parents:
                break
            d = d.parent
        return path.with_name(f"test_{stem}.py")
    if language_id == "go":
        return path.with_name(f"{stem}_test.go")
    if language_id in _JS_LANGS:
        return path.with_name(f"{stem}.test{path.suffix or '.js'}")
    return None


def python_module(path: Path, root: Path | None) -> str:
    """Dotted import name of ``path`` relative to the workspace root (best effort)."""
    try:
        rel = path.relative_to(root) if root else Path(path.name)
    except ValueError:
        rel = Path(path.name)
    parts = list(rel.with_suffix("").parts)
    if parts and parts[0] in ("src", "lib") and len(parts) > 1:
        parts = parts[1:]
    return ".".join(parts)


# --- the edit ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class TextChange:
    start: int
    end: int
    new_text: str


@dataclass(frozen=True)
class FileChange:
    """Edits to one file. ``text`` is its content the offsets refer to ('' for a new file)."""

    uri: str
    text: str
    changes: tuple[TextChange, ...]
    create: bool = False
    version: int | None = None


@dataclass(frozen=True)
class Outcome:
    files: tuple[FileChange, ...] = ()
    markdown: str | None = None
    usage: Usage | None = None
    cost_usd: float = 0.0


@dataclass(frozen=True)
class ActionRequest:
    kind: ActionKind
    uri: str
    text: str
    language_id: str
    start: int
    end: int
    version: int | None = None
    instruction: str | None = None
    diagnostic: str | None = None
    path: Path | None = None  # the file on disk, when the URI is a file: URI
    root: Path | None = None  # the workspace root
    #: Whether a new test file may be created (client supports CreateFile + documentChanges).
    can_create: bool = False
    #: Existing file content (and version) by URI — open documents first, then disk.
    read: Callable[[str], tuple[str, int | None] | None] | None = None


@dataclass(frozen=True)
class _Prompt:
    messages: list[ChatMessage]
    prefixed: bool


def context_window(text: str, start: int, end: int, budget: int) -> tuple[str, str]:
    """Whole lines before and after the selection, about 2/3 and 1/3 of ``budget`` tokens."""
    before_budget, after_budget = budget * 2 // 3, budget - budget * 2 // 3
    before_lines = text[:start].splitlines(keepends=True)
    after_lines = text[end:].splitlines(keepends=True)
    b: list[str] = []
    used = 0
    # the partial line right before the selection always goes along
    while before_lines:
        ln = before_lines.pop()
        used += estimate_tokens(ln)
        if used > before_budget and b:
            break
        b.insert(0, ln)
    a: list[str] = []
    used = 0
    for ln in after_lines:
        used += estimate_tokens(ln)
        if used > after_budget and a:
            break
        a.append(ln)
    return "".join(b), "".join(a)


def _lang_name(language_id: str) -> str:
    return {"typescriptreact": "TypeScript (TSX)", "javascriptreact": "JavaScript (JSX)",
            "shellscript": "shell script", "cpp": "C++", "csharp": "C#"}.get(
        language_id, language_id.capitalize() if language_id != "plaintext" else "plain text")


def _nl(s: str) -> str:
    return s.replace("\r\n", "\n").replace("\r", "\n")


def build_prompt(req: ActionRequest, *, task: str, what: str, prefixed: bool,
                 extra: str = "") -> _Prompt:
    lang = _lang_name(req.language_id)
    tag = fence_tag(req.language_id)
    before, after = context_window(req.text, req.start, req.end, CONTEXT_TOKENS)
    # The context is only read, so secrets in it can go; the selection is what gets edited.
    before, after = redact_secrets(before), redact_secrets(after)
    name = req.path.name if req.path else req.uri.rsplit("/", 1)[-1]
    selected = _nl(req.text[req.start:req.end])
    system = (
        f"You are an expert {lang} programmer working inside a code editor. You are precise, "
        "keep the existing style and conventions of the file, and never invent APIs that the "
        "code does not show."
    )
    user = (
        f"File `{name}` ({lang}). The code in question is marked with {SEL_START} and "
        f"{SEL_END}:\n\n```{tag}\n{_nl(before)}{SEL_START}{selected}{SEL_END}{_nl(after)}\n```"
        f"\n\n{task}\n{extra}"
    )
    if what:
        user += (f"\nReply with only the {what}, in a single ```{tag} code block, without the "
                 "markers and without explanations.")
    messages = [ChatMessage("system", system), ChatMessage("user", user.rstrip() + "\n")]
    if prefixed:
        messages.append(ChatMessage("assistant", f"```{tag}\n", prefix=True))
    return _Prompt(messages, prefixed)


async def _ask(backend: Backend, settings: Settings, prompt: _Prompt) -> tuple[ChatResult, bool]:
    """One chat call; a server refusing prefix completion (non-DeepSeek proxy) gets one plain
    retry, with the reply then extracted from prose."""
    request = ChatRequest(
        model=settings.chat_model, messages=prompt.messages, max_tokens=settings.chat_max_tokens,
        temperature=0.0, thinking=settings.chat_thinking,
        stop=("```",) if prompt.prefixed else (),
    )
    try:
        return await backend.chat(request), prompt.prefixed
    except RequestRejected as err:
        if not prompt.prefixed or isinstance(err, UnknownModelError) or \
                err.status not in (400, 404, 422):
            raise
    plain = ChatRequest(
        model=settings.chat_model, messages=[m for m in prompt.messages if not m.prefix],
        max_tokens=settings.chat_max_tokens, temperature=0.0, thinking=settings.chat_thinking,
    )
    return await backend.chat(plain), False


def _account(ledger: UsageLedger, settings: Settings, prompt: _Prompt,
             result: ChatResult) -> tuple[Usage, float]:
    usage = result.usage or Usage(
        0, sum(estimate_tokens(m.content) for m in prompt.messages),
        estimate_tokens(result.text + result.reasoning), estimated=True)
    return usage, ledger.record(usage, settings.prices, chat=True)


async def run_action(req: ActionRequest, backend: Backend, settings: Settings,
                     ledger: UsageLedger, *,
                     progress: Callable[[str], None] | None = None) -> Outcome:
    """Ask the model and compute what to change. Raises :class:`DeepSeekError` subclasses.

    ``progress`` hears a short message once the answer is in (for the editor's progress bar).
    """
    if req.kind == "explain":
        return await _explain(req, backend, settings, ledger)
    prompt, place = _plan(req)
    result, prefixed = await _ask(backend, settings, prompt)
    usage, cost = _account(ledger, settings, prompt, result)
    if progress is not None:
        progress(f"answer received ({usage.completion_tokens} tokens); preparing the edit")
    if result.finish_reason == "length":
        raise TruncatedReply(settings.chat_max_tokens)
    code = extract_code(result.text, req.language_id, prefixed=prefixed)
    if not code.strip():
        raise EmptyReply()
    files = place(code)
    return Outcome(files, None, usage, cost)


async def _explain(req: ActionRequest, backend: Backend, settings: Settings,
                   ledger: UsageLedger) -> Outcome:
    prompt = build_prompt(
        req, what="", prefixed=False,
        task=("Explain the marked code to a developer who is about to change it: what it does "
              "and why, how it works step by step where that is not obvious, and anything "
              "surprising or risky (edge cases, bugs, performance). Answer in concise Markdown "
              "with headings or lists where they help; quote code in fenced blocks."),
    )
    result, _ = await _ask(backend, settings, prompt)
    usage, cost = _account(ledger, settings, prompt, result)
    md = result.text.strip()
    if not md:
        # cut off while still thinking (a long reasoning, or a server ignoring max_tokens)
        raise TruncatedReply(settings.chat_max_tokens) if result.finish_reason == "length" \
            else EmptyReply()
    if result.finish_reason == "length":
        md += ("\n\n*(The explanation was cut off at `deepseekFim.chatMaxTokens` = "
               f"{settings.chat_max_tokens} tokens.)*")
    return Outcome((), md + "\n", usage, cost)


Placer = Callable[[str], tuple[FileChange, ...]]


def _plan(req: ActionRequest) -> tuple[_Prompt, Placer]:
    """The prompt for a code-producing action, and how its code becomes edits."""
    text = req.text
    eol = eol_of(text)
    style = detect_indent(text)
    lines = _lines_with_offsets(text)
    first_row = _line_index(lines, req.start)
    row_start = lines[first_row][0]
    base = _indent_of(text[row_start:lines[first_row][1]])
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
        instruction = (req.instruction or "").strip() or DEFAULT_INSTRUCTION
        task = (f"Rewrite the marked code following this instruction: {instruction}\n"
                "The result replaces the marked code exactly, so keep what surrounds it working.")
        return build_prompt(req, task=task, what="new code", prefixed=True), replace
    if req.kind == "fix":
        problem = (req.diagnostic or "").strip() or "the problem in it"
        task = (f"The marked code has this problem reported by the editor:\n{problem}\n"
                "Fix it with the smallest sensible change. The result replaces the marked code "
                "exactly.")
        return build_prompt(req, task=task, what="corrected code", prefixed=True), replace
    if req.kind == "document":
        return _plan_document(req, lines, style, eol)
    return _plan_tests(req, lines, eol)


def _plan_document(req: ActionRequest, lines: list[tuple[int, int, int]], style: IndentStyle,
                   eol: str) -> tuple[_Prompt, Placer]:
    text = req.text
    first_row = _line_index(lines, req.start)
    last_row = _line_index(lines, max(req.start, req.end - 1))

    def line(i: int) -> str:
        return text[lines[i][0]:lines[i][1]]

    header = next((i for i in range(first_row, last_row + 1) if _PY_HEADER.match(line(i))), None)
    hend = _python_header_end(text, lines, header) if header is not None else -1
    if req.language_id == "python" and header is not None and \
            line(hend).split("#", 1)[0].rstrip().endswith(":"):
        def_w = _width(_indent_of(line(header)))
        body_row = next((j for j in range(hend + 1, len(lines)) if line(j).strip()), None)
        body_indent = style.make(def_w + style.unit) if not style.tabs else \
            _indent_of(line(header)) + "\t"
        existing: tuple[int, int] | None = None
        if body_row is not None and _width(_indent_of(line(body_row))) > def_w:
            body_indent = _indent_of(line(body_row))
            existing = _existing_docstring(text, lines, body_row)
        task = ("Write a docstring for the marked definition: one summary line, then what the "
                "caller needs to know (arguments, return value, raised errors) in the style the "
                "file already uses. ")
        prompt = build_prompt(req, task=task, what="docstring (a triple-quoted string literal)",
                              prefixed=True)

        def place_py(code: str) -> tuple[FileChange, ...]:
            doc = _docstring_only(code)
            new = reindent(doc, base=body_indent, style=style, eol=eol)
            if existing is not None:
                change = TextChange(existing[0], existing[1], new)
            else:
                at = lines[hend][1]
                change = TextChange(at, at, eol + new)
            return (FileChange(req.uri, text, (change,), version=req.version),)

        return prompt, place_py

    base = _indent_of(line(first_row))
    task = (f"Write a documentation comment for the marked code, in the conventional style for "
            f"{_lang_name(req.language_id)} (for example JSDoc, Javadoc, a Go doc comment, /// "
            "or #), saying what it does and what a caller needs to know.")
    prompt = build_prompt(req, task=task, what="comment", prefixed=True)

    def place_above(code: str) -> tuple[FileChange, ...]:
        comment = _comment_only(code)
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


_TRIPLE = re.compile(r"[rRuU]?(\"\"\"|''').*?\1", re.S)


def _docstring_only(code: str) -> str:
    """A docstring literal, whatever shape the model answered in (bare text gets quotes)."""
    stripped = code.strip()
    m = _TRIPLE.search(stripped)
    if m and (m.start() == 0 or _PY_HEADER.match(stripped)):
        # put the literal back at its column so its continuation lines dedent along with it
        line_start = stripped.rfind("\n", 0, m.start()) + 1
        return " " * _width(stripped[line_start:m.start()]) + m.group(0)
    if stripped.startswith(('"', "'")):
        return stripped
    return f'"""{stripped}"""' if "\n" not in stripped else f'"""{stripped}\n"""'


_COMMENT_LINE = re.compile(r"^[ \t]*(//|/\*|\*|#|--|;|\"\"\"|'''|<!--)")


def _comment_only(code: str) -> str:
    """Leading comment lines of the answer (a model may repeat the code below its comment)."""
    lines = _nl(code).strip("\n").split("\n")
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


def _plan_tests(req: ActionRequest, lines: list[tuple[int, int, int]],
                eol: str) -> tuple[_Prompt, Placer]:
    text = req.text
    target = test_file_for(req.path, req.language_id, req.root) if req.path else None
    existing: tuple[str, int | None] | None = None
    target_uri = target.as_uri() if target else None
    if target_uri is not None and req.read is not None:
        existing = req.read(target_uri)
    if target is not None and existing is None and not req.can_create:
        target = None  # cannot create files in this editor: put the tests below the code
    lang = _lang_name(req.language_id)
    framework = {"python": "pytest", "go": "the standard `testing` package",
                 "javascript": "the test runner the file's project uses (Jest/Vitest style)",
                 "typescript": "the test runner the file's project uses (Jest/Vitest style)"}.get(
        req.language_id.replace("react", ""), f"the usual {lang} test framework")
    where = ""
    if target is not None and req.path is not None:
        rel = _rel(target, req.root)
        src = _rel(req.path, req.root)
        where = f"The tests go into `{rel}`; the code under test is in `{src}`"
        if req.language_id == "python":
            where += f" (import it as `{python_module(req.path, req.root)}`)"
        where += "."
        if existing is not None:
            head = redact_secrets(_nl(existing[0])[:1500])
            where += (" That file already exists and the tests will be appended to it; it "
                      f"starts with:\n```\n{head}\n```\nDo not repeat its imports or tests.")
        else:
            where += " It is a new file: include the imports it needs."
    else:
        where = "The tests will be placed right below the marked code in the same file."
    task = (f"Write focused unit tests for the marked code with {framework}: the normal cases, "
            f"the edge cases and the error cases its behaviour shows. {where}")
    prompt = build_prompt(req, task=task, what="test code", prefixed=True)
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
        row = _below(text, lines, _line_index(lines, max(req.start, req.end - 1)))
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


def _rel(path: Path, root: Path | None) -> str:
    try:
        return str(path.relative_to(root)) if root else path.name
    except ValueError:
        return path.name


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


# --- explanations on disk ----------------------------------------------------------------------


def cache_dir(env: os._Environ[str] | dict[str, str] | None = None) -> Path:
    """``$DEEPSEEK_FIM_CACHE_DIR``, else ``$XDG_CACHE_HOME/deepseek-fim-lsp`` (``~/.cache``)."""
    e = os.environ if env is None else env
    if e.get("DEEPSEEK_FIM_CACHE_DIR"):
        return Path(e["DEEPSEEK_FIM_CACHE_DIR"])
    base = e.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "deepseek-fim-lsp"


def write_explanation(markdown: str, *, name: str, first_line: int, last_line: int,
                      directory: Path | None = None) -> Path:
    """Save an explanation as ``explanations/<name>-L<a>-<b>.md`` and return its path."""
    folder = (directory or cache_dir()) / "explanations"
    folder.mkdir(parents=True, exist_ok=True)
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", name) or "selection"
    path = folder / f"{safe}-L{first_line}-{last_line}.md"
    title = f"# Explanation of `{name}`, lines {first_line}–{last_line}\n\n"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(title + markdown, "utf-8")
    tmp.replace(path)
    return path
