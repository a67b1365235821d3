"""The chat messages for each code action: the file around the selection under a token budget
(secrets redacted), the selection between markers, and the task in plain words.

Code-producing actions end with an opened code block (an assistant message in prefix mode) so
that the answer *is* the code; "explain" asks for Markdown.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..backends.base import ChatMessage
from ..context.privacy import redact_secrets
from ..context.tokens import estimate_tokens
from ..postprocess.indentation import to_lf
from .replies import fence_tag
from .testfiles import python_module, relative_name
from .types import ActionRequest

DEFAULT_INSTRUCTION = (
    "Improve this code: make it clearer and more idiomatic without changing behaviour"
)
#: Token budget for the file around the selection that goes along as context.
CONTEXT_TOKENS = 3000

SEL_START = "<<<SELECTION>>>"
SEL_END = "<<<END SELECTION>>>"


@dataclass(frozen=True)
class Prompt:
    messages: list[ChatMessage]
    #: The last message opens a code block for the model to continue (``/beta`` prefix mode).
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


def lang_name(language_id: str) -> str:
    """The language's name as a person writes it."""
    return {"typescriptreact": "TypeScript (TSX)", "javascriptreact": "JavaScript (JSX)",
            "shellscript": "shell script", "cpp": "C++", "csharp": "C#"}.get(
        language_id, language_id.capitalize() if language_id != "plaintext" else "plain text")


def build_prompt(req: ActionRequest, *, task: str, what: str, prefixed: bool,
                 extra: str = "") -> Prompt:
    lang = lang_name(req.language_id)
    tag = fence_tag(req.language_id)
    before, after = context_window(req.text, req.start, req.end, CONTEXT_TOKENS)
    # The context is only read, so secrets in it can go; the selection is what gets edited.
    before, after = redact_secrets(before), redact_secrets(after)
    name = req.path.name if req.path else req.uri.rsplit("/", 1)[-1]
    selected = to_lf(req.text[req.start:req.end])
    system = (
        f"You are an expert {lang} programmer working inside a code editor. You are precise, "
        "keep the existing style and conventions of the file, and never invent APIs that the "
        "code does not show."
    )
    user = (
        f"File `{name}` ({lang}). The code in question is marked with {SEL_START} and "
        f"{SEL_END}:\n\n```{tag}\n{to_lf(before)}{SEL_START}{selected}{SEL_END}{to_lf(after)}\n```"
        f"\n\n{task}\n{extra}"
    )
    if what:
        user += (f"\nReply with only the {what}, in a single ```{tag} code block, without the "
                 "markers and without explanations.")
    messages = [ChatMessage("system", system), ChatMessage("user", user.rstrip() + "\n")]
    if prefixed:
        messages.append(ChatMessage("assistant", f"```{tag}\n", prefix=True))
    return Prompt(messages, prefixed)


# --- per action ----------------------------------------------------------------------------------


def explain_prompt(req: ActionRequest) -> Prompt:
    return build_prompt(
        req, what="", prefixed=False,
        task=("Explain the marked code to a developer who is about to change it: what it does "
              "and why, how it works step by step where that is not obvious, and anything "
              "surprising or risky (edge cases, bugs, performance). Answer in concise Markdown "
              "with headings or lists where they help; quote code in fenced blocks."),
    )


def rewrite_prompt(req: ActionRequest) -> Prompt:
    instruction = (req.instruction or "").strip() or DEFAULT_INSTRUCTION
    task = (f"Rewrite the marked code following this instruction: {instruction}\n"
            "The result replaces the marked code exactly, so keep what surrounds it working.")
    return build_prompt(req, task=task, what="new code", prefixed=True)


def fix_prompt(req: ActionRequest) -> Prompt:
    problem = (req.diagnostic or "").strip() or "the problem in it"
    task = (f"The marked code has this problem reported by the editor:\n{problem}\n"
            "Fix it with the smallest sensible change. The result replaces the marked code "
            "exactly.")
    return build_prompt(req, task=task, what="corrected code", prefixed=True)


def docstring_prompt(req: ActionRequest) -> Prompt:
    task = ("Write a docstring for the marked definition: one summary line, then what the "
            "caller needs to know (arguments, return value, raised errors) in the style the "
            "file already uses. ")
    return build_prompt(req, task=task, what="docstring (a triple-quoted string literal)",
                        prefixed=True)


def comment_prompt(req: ActionRequest) -> Prompt:
    task = (f"Write a documentation comment for the marked code, in the conventional style for "
            f"{lang_name(req.language_id)} (for example JSDoc, Javadoc, a Go doc comment, /// "
            "or #), saying what it does and what a caller needs to know.")
    return build_prompt(req, task=task, what="comment", prefixed=True)


def tests_prompt(req: ActionRequest, target: Path | None,
                 existing: tuple[str, int | None] | None) -> Prompt:
    """Tests for the marked code; ``target`` is their own file (None: below the code) and
    ``existing`` its current content when it exists."""
    lang = lang_name(req.language_id)
    framework = {"python": "pytest", "go": "the standard `testing` package",
                 "javascript": "the test runner the file's project uses (Jest/Vitest style)",
                 "typescript": "the test runner the file's project uses (Jest/Vitest style)"}.get(
        req.language_id.replace("react", ""), f"the usual {lang} test framework")
    where = ""
    if target is not None and req.path is not None:
        rel = relative_name(target, req.root)
        src = relative_name(req.path, req.root)
        where = f"The tests go into `{rel}`; the code under test is in `{src}`"
        if req.language_id == "python":
            where += f" (import it as `{python_module(req.path, req.root)}`)"
        where += "."
        if existing is not None:
            head = redact_secrets(to_lf(existing[0])[:1500])
            where += (" That file already exists and the tests will be appended to it; it "
                      f"starts with:\n```\n{head}\n```\nDo not repeat its imports or tests.")
        else:
            where += " It is a new file: include the imports it needs."
    else:
        where = "The tests will be placed right below the marked code in the same file."
    task = (f"Write focused unit tests for the marked code with {framework}: the normal cases, "
            f"the edge cases and the error cases its behaviour shows. {where}")
    return build_prompt(req, task=task, what="test code", prefixed=True)
