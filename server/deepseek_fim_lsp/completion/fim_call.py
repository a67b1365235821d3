"""One FIM call: stream the answer, stop as soon as the suggestion is complete (one line plus
the model's next line as lookahead, or the block), clean it up, and account for it.

With ``early``, the suggested line is answered as soon as it is complete and the lookahead line
streams on behind it (returned as a future of the text to append).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from ..backends.base import Backend, FimRequest, StopCheck
from ..config import Settings
from ..context.tokens import estimate_tokens
from ..context.window import FimWindow
from ..errors import DeepSeekError
from ..postprocess import Mode, Suggestion, clean, early_stop
from ..usage import Usage, UsageLedger

log = logging.getLogger(__name__)

#: The suggestion, the same with its lookahead line, usage, cost, and the lookahead to come.
CallResult = tuple[Suggestion | None, Suggestion | None, Usage | None, float,
                   "asyncio.Future[str | None] | None"]


async def fim_call(backend: Backend, s: Settings, ledger: UsageLedger, window: FimWindow,
                   mode: Mode, temperature: float, *, lookahead: bool, early: bool,
                   track: Callable[[asyncio.Task[Any]], None]) -> CallResult:
    """One FIM request: the suggestion, the same with its lookahead line, usage, cost, and
    the lookahead still to come (see ``early``).

    ``lookahead``: read the model's next line too (type-through is on).

    ``early``: answer as soon as the suggested line is complete, and let the lookahead
    line stream on (returned last, as a future of the text to append; usage and cost are
    then recorded when it ends). The user sees the line a line's streaming time sooner.
    """
    request = FimRequest(s.model, window.prompt, window.suffix, s.max_tokens, temperature)
    partial: list[str] = []
    lookahead = (lookahead and mode == "single"
                 and not window.suffix.split("\n", 1)[0].strip())
    line_done = asyncio.Event()

    def line_end(text: str) -> int | None:
        return early_stop(text, mode=mode, prefix=window.prefix, suffix=window.suffix)

    def stop_check(text: str) -> int | None:
        first = line_end(text)
        if first is None or not lookahead or text[first:first + 1] != "\n":
            return first
        line_done.set()
        # Read on to the end of the next line with content (blank lines before it kept):
        # not shown, but served by type-through once the user has typed this line and
        # pressed Enter.
        start = first + 1
        while (nxt := text.find("\n", start)) >= 0 and not text[start:nxt].strip():
            start = nxt + 1
        if nxt < 0:
            return first if len(text) - first > _LOOKAHEAD_CHARS else None
        return nxt

    def shown(raw: str) -> tuple[Suggestion | None, int | None, str]:
        first = line_end(raw) if lookahead else None
        shown_raw = raw[:first] if first is not None else raw
        return (clean(shown_raw, prefix=window.prefix, suffix=window.suffix, mode=mode),
                first, shown_raw)

    def carries_lookahead(suggestion: Suggestion, first: int | None, shown_raw: str) -> bool:
        """The suggestion is the model's whole line, untouched: what follows can be held."""
        return first is not None and suggestion.replace == 0 \
            and suggestion.text == shown_raw.rstrip()

    def lookahead_of(suggestion: Suggestion | None, first: int | None, shown_raw: str,
                     raw: str) -> Suggestion | None:
        if suggestion is not None and first is not None \
                and carries_lookahead(suggestion, first, shown_raw):
            return _with_lookahead(suggestion, raw[first:], window)
        return None

    call = asyncio.ensure_future(_stream(backend, s, ledger, request, stop_check, partial,
                                         window, mode))
    if early and lookahead:
        waiting = asyncio.ensure_future(line_done.wait())
        try:
            await asyncio.wait({call, waiting}, return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            call.cancel()
            raise
        finally:
            waiting.cancel()
        if not call.done():
            suggestion, first, shown_raw = shown("".join(partial))
            # Only a suggestion that could carry a lookahead; others wait as before.
            if suggestion is not None and carries_lookahead(suggestion, first, shown_raw):
                answered = suggestion

                async def rest() -> str | None:
                    try:
                        raw, _usage, _cost = await call
                    except DeepSeekError as err:
                        log.info("the lookahead line was lost: %s", err.user_message)
                        return None
                    full = lookahead_of(answered, line_end(raw), shown_raw, raw)
                    return None if full is None else full.text[len(answered.text):]

                more: asyncio.Task[str | None] = asyncio.ensure_future(rest())
                track(more)
                return suggestion, None, None, 0.0, more
    raw, usage, cost = await call
    suggestion, first, shown_raw = shown(raw)
    return suggestion, lookahead_of(suggestion, first, shown_raw, raw), usage, cost, None


async def _stream(backend: Backend, s: Settings, ledger: UsageLedger, request: FimRequest,
                  stop_check: StopCheck, partial: list[str], window: FimWindow, mode: Mode
                  ) -> tuple[str, Usage, float]:
    """The raw answer (what arrived, at a timeout), its usage (estimated if the API gave
    none) and cost, recorded in the ledger."""
    usage: Usage | None
    try:
        async with asyncio.timeout(s.request_timeout_ms / 1000):
            result = await backend.fim(request, stop_check=stop_check, partial=partial)
        raw, usage = result.text, result.usage
    except TimeoutError:
        raw = "".join(partial)
        if mode == "multi" and "\n" in raw:
            raw = raw[: raw.rindex("\n")]
        log.info("completion timed out after %d ms; using %d characters that arrived",
                 s.request_timeout_ms, len(raw))
        usage = None
    if usage is None:
        usage = Usage(0, estimate_tokens(window.prompt) + estimate_tokens(window.suffix),
                      estimate_tokens(raw), estimated=True)
    return raw, usage, ledger.record(usage, s.prices)


#: Blank lines a lookahead may start with (a model's blank lines between blocks).
_MAX_BLANK_LINES = 2
#: How far past the shown line to read for the lookahead line at most.
_LOOKAHEAD_CHARS = 300


def newline_in(text: str, offset: int) -> str:
    """The line break the document uses around ``offset``."""
    return "\r\n" if "\r\n" in text[max(0, offset - 4096):offset + 4096] else "\n"


def _with_lookahead(suggestion: Suggestion, rest: str, window: FimWindow) -> Suggestion | None:
    """``suggestion`` extended by the model's next line, unless that line is useless."""
    if not rest.startswith("\n"):
        return None
    lines = rest[1:].split("\n")
    k = next((i for i, ln in enumerate(lines) if ln.strip()), None)
    if k is None or k > _MAX_BLANK_LINES:
        return None
    line = lines[k].rstrip()
    following = next((ln for ln in window.suffix.splitlines()[1:] if ln.strip()), "")
    if line.strip() == following.strip():
        return None  # the model repeats the code below
    newline = "\r\n" if "\r\n" in window.prefix or "\r\n" in window.suffix else "\n"
    return Suggestion(suggestion.text + newline * (k + 1) + line, 0)
