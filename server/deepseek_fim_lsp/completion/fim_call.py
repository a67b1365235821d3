"""One FIM call: stream the answer, stop as soon as the suggestion is complete (one line plus
the model's next line as lookahead, or the block), clean it up, and account for it.

With ``early``, the suggested line is answered as soon as it is complete and the lookahead line
streams on behind it (returned as a future of the text to append).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, NamedTuple

from ..backends.base import Backend, FimRequest, StopCheck
from ..config import Settings
from ..context.tokens import estimate_tokens
from ..context.window import FimWindow
from ..errors import DeepSeekError
from ..postprocess import Mode, Suggestion, clean, cut, early_stop
from ..usage import Usage, UsageLedger

log = logging.getLogger(__name__)

class CallResult(NamedTuple):
    """What one FIM call yields."""

    suggestion: Suggestion | None
    #: The same with its lookahead line (for type-through), when there is one.
    full: Suggestion | None
    usage: Usage | None
    cost: float
    #: The lookahead still streaming (see ``early``): the text to append; ``""`` when the
    #: model continues with the code below (nothing to add), None when unknown.
    later: asyncio.Future[str | None] | None = None
    #: The model's next line is the code below the cursor's line: the suggestion ends the
    #: gap, and asking what follows it would only get that code again.
    ends: bool = False
    #: Cut by the request timeout (what arrived): not an answer worth keeping.
    timed_out: bool = False


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
    #: Seen while streaming: the model went on with the code below (the stream is cut there).
    meets: list[bool] = [False]

    def line_end(text: str) -> int | None:
        return early_stop(text, mode=mode, prefix=window.prefix, suffix=window.suffix)

    def stop_check(text: str) -> int | None:
        first = line_end(text)
        if first is not None and not meets[0]:
            meets[0] = _meets_code_below(text[first:], window, final=False)
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
                     raw: str, timed_out: bool) -> Suggestion | None:
        if suggestion is None:
            return None
        if first is not None and carries_lookahead(suggestion, first, shown_raw):
            if (full := _with_lookahead(suggestion, raw[first:], window)) is not None:
                return full
        return None if timed_out else _with_blank_lines(suggestion, raw, window)

    def ends(suggestion: Suggestion | None, raw: str, timed_out: bool) -> bool:
        """The suggestion, untouched, is followed by the code below in the model's answer."""
        if suggestion is None or suggestion.replace or timed_out:
            return False
        if meets[0]:
            return True
        end = cut(raw, mode=mode, prefix=window.prefix, suffix=window.suffix)
        return end is not None and _meets_code_below(raw[end:], window, final=True)

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
                        raw, _usage, _cost, timed_out = await call
                    except DeepSeekError as err:
                        log.info("the lookahead line was lost: %s", err.user_message)
                        return None
                    full = lookahead_of(answered, line_end(raw), shown_raw, raw, timed_out)
                    if full is None:
                        return "" if ends(answered, raw, timed_out) else None
                    return full.text[len(answered.text):]

                more: asyncio.Task[str | None] = asyncio.ensure_future(rest())
                track(more)
                return CallResult(suggestion, None, None, 0.0, more)
    raw, usage, cost, timed_out = await call
    suggestion, first, shown_raw = shown(raw)
    full = lookahead_of(suggestion, first, shown_raw, raw, timed_out)
    return CallResult(suggestion, full, usage, cost, None,
                      full is None and ends(suggestion, raw, timed_out), timed_out)


async def _stream(backend: Backend, s: Settings, ledger: UsageLedger, request: FimRequest,
                  stop_check: StopCheck, partial: list[str], window: FimWindow, mode: Mode
                  ) -> tuple[str, Usage, float, bool]:
    """The raw answer (what arrived, at a timeout), its usage (estimated if the API gave
    none) and cost, recorded in the ledger, and whether it timed out."""
    usage: Usage | None
    timed_out = False
    try:
        async with asyncio.timeout(s.request_timeout_ms / 1000):
            result = await backend.fim(request, stop_check=stop_check, partial=partial)
        raw, usage = result.text, result.usage
    except TimeoutError:
        timed_out = True
        raw = "".join(partial)
        if mode == "multi" and "\n" in raw:
            raw = raw[: raw.rindex("\n")]
        log.info("completion timed out after %d ms; using %d characters that arrived",
                 s.request_timeout_ms, len(raw))
        usage = None
    if usage is None:
        usage = Usage(0, estimate_tokens(window.prompt) + estimate_tokens(window.suffix),
                      estimate_tokens(raw), estimated=True)
    return raw, usage, ledger.record(usage, s.prices), timed_out


#: Blank lines a lookahead may start with (a model's blank lines between blocks).
_MAX_BLANK_LINES = 2
#: How far past the shown line to read for the lookahead line at most.
_LOOKAHEAD_CHARS = 300


def newline_in(text: str, offset: int) -> str:
    """The line break the document uses around ``offset``."""
    return "\r\n" if "\r\n" in text[max(0, offset - 4096):offset + 4096] else "\n"


def _meets_code_below(rest: str, window: FimWindow, final: bool) -> bool:
    """The model's next line with content, after the suggestion (``rest``), is the first line
    with content below the cursor's line: the gap is filled, the model goes on with the code
    that is already there. Only a complete line counts (unless ``final``)."""
    following = next((ln.strip() for ln in window.suffix.splitlines()[1:] if ln.strip()), "")
    if not following:
        return False
    lines = rest.split("\n")
    for i, line in enumerate(lines):
        if line.strip():
            complete = final or i < len(lines) - 1
            return complete and line.strip() == following
    return False


def _with_blank_lines(suggestion: Suggestion, raw: str, window: FimWindow) -> Suggestion | None:
    """``suggestion`` followed by the blank lines the model ended its answer with.

    The answer and the suffix join: ``}`` + line break before a suffix that starts with a line
    break is ``}``, a blank line, then the code below. Held for type-through, the blank lines
    move the line asked ahead past them (where the model answers code, not a blank line)."""
    if suggestion.replace or not window.suffix.startswith(("\n", "\r\n")):
        return None
    body = raw.replace("\r\n", "\n")
    text = body.rstrip()
    tail = body[len(text):]
    blank = tail.count("\n")
    if not blank or blank > _MAX_BLANK_LINES or tail.strip(" \t\n") \
            or text != suggestion.text.replace("\r\n", "\n"):
        return None
    newline = "\r\n" if "\r\n" in window.prefix or "\r\n" in window.suffix else "\n"
    return Suggestion(suggestion.text + newline * blank, 0)


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
