"""The doors (policy.py), the samples (samples.py) and what one FIM call tells of the code below
(fim_call.py), each on its own: a fake backend stands in for the API."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from deepseek_fim_lsp.backends.base import FimRequest, FimResult, StopCheck
from deepseek_fim_lsp.completion import policy
from deepseek_fim_lsp.completion.fim_call import CallResult, fim_call
from deepseek_fim_lsp.completion.samples import merge, temperatures
from deepseek_fim_lsp.completion.types import (
    CompletionItem,
    CompletionRequest,
    CompletionResult,
    Fetched,
    Selected,
)
from deepseek_fim_lsp.config import Settings
from deepseek_fim_lsp.context.window import build_window
from deepseek_fim_lsp.errors import BusyError
from deepseek_fim_lsp.postprocess import Suggestion, choose_mode
from deepseek_fim_lsp.usage import Usage, UsageLedger

URI = "file:///p.py"


def test_doors() -> None:
    assert policy.inline_door(invoked=True, menu_open=False) == "explicit"
    assert policy.inline_door(invoked=True, menu_open=True) == "typing"
    assert policy.inline_door(invoked=False, menu_open=False) == "typing"
    assert policy.classic_door(client_has_inline=True, re_trigger=False) == "known"
    assert policy.classic_door(client_has_inline=False, re_trigger=True) == "known"
    assert policy.classic_door(client_has_inline=False, re_trigger=False) == "typing"
    assert policy.door_of(CompletionRequest(URI, "", 0, invoked=True)) == "explicit"
    assert policy.door_of(CompletionRequest(URI, "", 0, invoked=True, door="typing")) == "typing"


def test_what_each_door_may_cost() -> None:
    s = Settings(invoked_suggestions=3)
    assert policy.cost("known", s) == policy.Cost(fetch=False, debounce=False, samples=1)
    assert policy.cost("typing", s) == policy.Cost(fetch=True, debounce=True, samples=1)
    assert policy.cost("explicit", s) == policy.Cost(fetch=True, debounce=False, samples=3)


def test_debounce_longer_after_a_move_and_longest_for_a_glance() -> None:
    s = Settings(debounce_ms=150)
    assert policy.debounce_s(s, moved=False, typo=False, glance=False) == 0.15
    assert policy.debounce_s(s, moved=True, typo=False, glance=False) == 0.15 * 3
    assert policy.debounce_s(s, moved=True, typo=False, glance=True) == 0.15 * 6
    assert policy.debounce_s(Settings(debounce_ms=0), moved=True, typo=False, glance=True) == 0


def test_a_selected_entry_is_applied_and_extended_over_its_range() -> None:
    req = CompletionRequest(URI, "x = pr(1)\n", 6, selected=Selected(4, 6, "print"))
    applied = policy.apply_selection(req)
    assert applied is not None and applied.selected is None
    assert (applied.text, applied.offset) == ("x = print(1)\n", 9)
    result = CompletionResult((CompletionItem("1", "(2", 2),), "backend")
    (item,) = policy.over_selection(req, result).items
    # The entry's text + the suggestion, from the entry's start to past what it replaces.
    assert (item.text, item.back, item.replace) == ("print(2", 2, 2)
    outside = CompletionRequest(URI, "x = pr\n", 6, selected=Selected(0, 3, "abc"))
    assert policy.apply_selection(outside) is None


def test_temperatures_go_out_as_written() -> None:
    assert temperatures(0.0, 3) == [0.0, 0.8, 1.2]
    assert json.dumps(temperatures(0.0, 3)) == "[0.0, 0.8, 1.2]"
    assert temperatures(1.0, 3) == [1.0, 1.0, 1.2]
    assert temperatures(0.2, 1) == [0.2]


def _call(text: str, ends: bool = False, timed_out: bool = False) -> CallResult:
    return CallResult(Suggestion(text), None, Usage(1, 2, 3), 0.5, None, ends, timed_out)


def test_samples_received_come_first_and_count() -> None:
    base = merge([_call("a", ends=True)], "single", 1)
    assert (base.samples, base.ends, base.answered) == (1, True, True)
    more = merge([_call("b"), _call("a"), BusyError(503)], "single", 3, base)
    assert [s.text for s in more.items] == ["a", "b"]
    assert (more.samples, more.ends, more.answered) == (3, True, False)
    assert more.usage == Usage(2, 4, 6)
    # Every new sample failed: what was received still stands.
    assert merge([BusyError(503)], "single", 3, base).items == base.items
    assert not merge([_call("", timed_out=True)], "single", 1).answered


class _Answers:
    """A backend that streams a fixed answer in chunks, honouring the stop check."""

    def __init__(self, answer: str) -> None:
        self.answer = answer

    async def fim(self, request: FimRequest, *, stop_check: StopCheck | None = None,
                  partial: list[str] | None = None) -> FimResult:
        text = ""
        for ch in self.answer:
            text += ch
            if partial is not None:
                partial.append(ch)
            if stop_check is not None and (cut := stop_check(text)) is not None:
                return FimResult(text[:cut], "early_stop", None, stopped_early=True)
        return FimResult(text, "stop", Usage(0, 10, 5))

    def __getattr__(self, name: str) -> Any:
        raise AttributeError(name)


def _fim(answer: str, text: str, offset: int, early: bool = False) -> CallResult:
    s = Settings(api_key="sk-x")
    window = build_window(text, offset, uri=URI, language_id="python", prefix_tokens=3000,
                          suffix_tokens=1000)
    mode = choose_mode(window.prefix, window.suffix, "auto")

    async def run() -> CallResult:
        result = await fim_call(_Answers(answer), s, UsageLedger(), window,  # type: ignore[arg-type]
                                mode, 0.0, lookahead=True, early=early, track=lambda t: None)
        if result.later is not None:
            more = await result.later
            return result._replace(later=None, full=Suggestion(
                result.suggestion.text + more if result.suggestion and more else "x"),
                ends=more == "")
        return result

    return asyncio.run(run())


def test_a_model_that_goes_on_with_the_code_below_ends_the_suggestion() -> None:
    doc = "def f():\n    a = 1\n\n    return a\n"
    at = doc.index("\n\n") + 1  # the empty line before `return a`
    r = _fim("    b = 2\n    return a\n", doc, at)
    assert r.suggestion is not None and r.suggestion.text == "    b = 2"
    assert r.ends and r.full is None
    r = _fim("    b = 2\n    c = 3", doc, at)
    assert not r.ends


def test_a_single_line_whose_next_line_is_the_code_below_ends_too() -> None:
    doc = "x = \ny = 2\n"
    assert _fim("1\ny = 2", doc, 4).ends
    assert _fim("1\ny = 2", doc, 4, early=True).ends
    assert not _fim("1\nz = 3", doc, 4).ends


def test_blank_lines_an_answer_ends_with_are_held() -> None:
    doc = "fn f() {\n    g()\n\n"
    at = doc.index("g()") + 3
    r = _fim("\n}\n", doc, at)
    assert r.suggestion is not None and r.suggestion.text == "\n}"
    assert r.full is not None and r.full.text == "\n}\n"
    # At the end of the file the last line break is only the line's end.
    r = _fim("\n}\n", doc.rstrip("\n") + "", len(doc.rstrip("\n")))
    assert r.full is None or r.full.text == "\n}"


def test_fetched_defaults_keep_old_callers_working() -> None:
    f = Fetched((), (), True, None, 0.0)
    assert (f.samples, f.ends, f.answered, f.later) == (1, False, True, None)
