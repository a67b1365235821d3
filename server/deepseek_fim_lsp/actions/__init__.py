"""Chat-based code actions, free of LSP: the flow of one action and the public names of the feature.

The flow: :func:`default_range` picks the code (the selection, else the enclosing
function/block, else the line); :func:`run_action` builds the prompt with the surrounding file
under a token budget (:mod:`.prompts`), asks the chat model — in prefix mode (``/beta``,
assistant message "```<lang>\\n", stop "```") so the answer *is* the code — gets the code out of
the reply (:mod:`.replies`) and turns it into :class:`FileChange` edits re-indented and
with the line endings of the target document (:mod:`.edits`). A reply cut off by
``max_tokens`` (or by the backend's character cap) never becomes an edit: half a function is
worse than none. Explanations are Markdown, saved by :func:`write_explanation`.

Everything here works on Python string offsets; the LSP layer (``lsp/actions.py``) converts to
LSP positions.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path

from ..backends.base import Backend, ChatRequest, ChatResult
from ..config import Settings
from ..context.tokens import estimate_tokens
from ..errors import RequestRejected, UnknownModelError
from ..usage import Usage, UsageLedger
from .edits import plan
from .prompts import Prompt, explain_prompt
from .ranges import default_range
from .replies import extract_code
from .types import (
    ACTION_KINDS,
    ActionError,
    ActionKind,
    ActionRequest,
    EmptyReply,
    FileChange,
    Outcome,
    TextChange,
    TruncatedReply,
)

__all__ = [
    "ACTION_KINDS",
    "ActionError",
    "ActionKind",
    "ActionRequest",
    "EmptyReply",
    "FileChange",
    "Outcome",
    "TextChange",
    "TruncatedReply",
    "cache_dir",
    "default_range",
    "run_action",
    "write_explanation",
]


async def _ask(backend: Backend, settings: Settings, prompt: Prompt) -> tuple[ChatResult, bool]:
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


def _account(ledger: UsageLedger, settings: Settings, prompt: Prompt,
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
    prompt, place = plan(req)
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
    prompt = explain_prompt(req)
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

