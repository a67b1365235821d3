"""What each kind of completion request may cost, through the real server over stdio.

Every test counts the FIM requests the emulator received: classic completion next to inline
completion must not pay twice, the suggest widget's requests are debounced, alternatives only
for a request the user really made, and a sample already received serves every later request.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from lsprotocol import types as lsp

from conftest import Session, lsp_session
from deepseek_fim_lsp.emulator import Emulator, Reply, Rule

URI = "file:///work/discipline.py"
THREE = {"invokedSuggestions": 3}


def fims(emu: Emulator) -> list[Any]:
    return emu.requests("/beta/completions")


async def classic(s: Session, line: int, character: int,
                  kind: lsp.CompletionTriggerKind = lsp.CompletionTriggerKind.Invoked
                  ) -> lsp.CompletionList:
    result = await s.client.text_document_completion_async(lsp.CompletionParams(
        text_document=lsp.TextDocumentIdentifier(uri=URI), position=lsp.Position(line, character),
        context=lsp.CompletionContext(trigger_kind=kind)))
    assert isinstance(result, lsp.CompletionList)
    return result


async def inline(s: Session, line: int, character: int, *, invoked: bool = False,
                 selected: tuple[int, int, str] | None = None) -> lsp.InlineCompletionList:
    """An inline request; ``selected``: (start, end, text) of the suggest widget's entry on
    ``line``."""
    kind = (lsp.InlineCompletionTriggerKind.Invoked if invoked
            else lsp.InlineCompletionTriggerKind.Automatic)
    info = None if selected is None else lsp.SelectedCompletionInfo(
        range=lsp.Range(lsp.Position(line, selected[0]), lsp.Position(line, selected[1])),
        text=selected[2])
    result = await s.client.text_document_inline_completion_async(lsp.InlineCompletionParams(
        context=lsp.InlineCompletionContext(trigger_kind=kind, selected_completion_info=info),
        text_document=lsp.TextDocumentIdentifier(uri=URI), position=lsp.Position(line, character)))
    assert result is not None
    return result


def texts(result: lsp.InlineCompletionList | lsp.CompletionList) -> list[str]:
    out = []
    for item in result.items:
        if isinstance(item, lsp.InlineCompletionItem):
            assert isinstance(item.insert_text, str)
            out.append(item.insert_text)
        else:
            assert isinstance(item.text_edit, lsp.TextEdit)
            out.append(item.text_edit.new_text)
    return out


# --- a client with inline completion: classic completion only says what is known ------------


async def test_classic_completion_never_asks_when_the_client_has_inline_completion(
        tmp_path: Path, emulator: Emulator) -> None:
    emulator.fim_responder = lambda body: "a + b"
    async with lsp_session(tmp_path, emulator.base_url, inline_completion=True,
                           init_options=THREE) as s:
        s.open(URI, "def add(a, b):\n    return \n")
        for kind in (lsp.CompletionTriggerKind.Invoked,
                     lsp.CompletionTriggerKind.TriggerForIncompleteCompletions):
            nothing = await classic(s, 1, 11, kind)
            assert nothing.items == () and nothing.is_incomplete
        assert fims(emulator) == []
        ghost = await inline(s, 1, 11)
        assert texts(ghost) == ["a + b"]
        assert len(fims(emulator)) == 1
        # What is known is offered: the exact state, then typed through.
        assert texts(await classic(s, 1, 11)) == ["a + b"]
        s.insert(URI, 1, 11, "a ")
        assert texts(await classic(s, 1, 13)) == ["+ b"]
        assert len(fims(emulator)) == 1


async def test_classic_completion_does_not_supersede_the_inline_request(
        tmp_path: Path, emulator: Emulator) -> None:
    """VS Code asks both doors for the same keystroke: the suggest widget's request must not
    cancel the ghost text's."""
    emulator.first_token_ms = 300
    emulator.fim_responder = lambda body: "a + b"
    async with lsp_session(tmp_path, emulator.base_url, inline_completion=True) as s:
        s.open(URI, "def add(a, b):\n    return \n")
        ghost = asyncio.ensure_future(inline(s, 1, 11))
        await asyncio.sleep(0.1)
        menu = await classic(s, 1, 11)
        assert menu.items == ()
        assert texts(await ghost) == ["a + b"]
        assert [r.outcome for r in fims(emulator)] == ["completed"]


# --- a client without inline completion: classic completion is the typing door --------------


async def test_classic_completion_without_inline_is_debounced_with_one_sample(
        tmp_path: Path, emulator: Emulator) -> None:
    """nvim-cmp asks on every keyword character with triggerKind Invoked."""
    emulator.fim_responder = lambda body: "  # done"
    word = "result = value"
    async with lsp_session(tmp_path, emulator.base_url,
                           init_options={**THREE, "debounceMs": 300}) as s:
        s.open(URI, "\n")
        pending = []
        for i, ch in enumerate(word):
            s.insert(URI, 0, i, ch)
            pending.append(asyncio.ensure_future(classic(s, 0, i + 1)))
            await asyncio.sleep(0.02)
        results = await asyncio.gather(*pending)
        assert texts(results[-1]) == ["  # done"]
        assert all(not r.items for r in results[:-2]), "superseded requests end empty"
        assert len(fims(emulator)) <= 2
        assert {r.body["temperature"] for r in fims(emulator)} == {0.0}
        assert fims(emulator)[-1].body["prompt"] == word


async def test_classic_completion_without_inline_uses_cache_and_type_through(
        tmp_path: Path, emulator: Emulator) -> None:
    emulator.fim_responder = lambda body: "a + b"
    async with lsp_session(tmp_path, emulator.base_url, init_options=THREE) as s:
        s.open(URI, "def add(a, b):\n    return \n")
        assert texts(await classic(s, 1, 11)) == ["a + b"]
        assert texts(await classic(s, 1, 11)) == ["a + b"]
        s.insert(URI, 1, 11, "a")
        incomplete = lsp.CompletionTriggerKind.TriggerForIncompleteCompletions
        assert texts(await classic(s, 1, 12, incomplete)) == [" + b"]
        assert len(fims(emulator)) == 1


async def test_trigger_for_incomplete_completions_never_starts_a_request(
        tmp_path: Path, emulator: Emulator) -> None:
    emulator.fim_responder = lambda body: "a + b"
    async with lsp_session(tmp_path, emulator.base_url) as s:
        s.open(URI, "def add(a, b):\n    return \n")
        result = await classic(s, 1, 11,
                               lsp.CompletionTriggerKind.TriggerForIncompleteCompletions)
        assert result.items == () and result.is_incomplete
        await asyncio.sleep(0.3)
        assert fims(emulator) == []


# --- alternatives: only for a request the user made ------------------------------------------


async def test_alternatives_only_for_an_invoked_request_without_a_menu_entry(
        tmp_path: Path, emulator: Emulator) -> None:
    emulator.fim_responder = lambda body: f"v{body['temperature']}"
    async with lsp_session(tmp_path, emulator.base_url, init_options=THREE) as s:
        s.open(URI, "x = \ny = \nz = pr\n")
        await inline(s, 0, 4)
        assert len(fims(emulator)) == 1
        await inline(s, 2, 6, invoked=True, selected=(4, 6, "print"))
        assert len(fims(emulator)) == 2, "a menu entry selected: one sample"
        invoked = await inline(s, 1, 4, invoked=True)
        assert len(fims(emulator)) == 5
        assert sorted(texts(invoked)) == ["v0.0", "v0.8", "v1.2"]


async def test_sampling_temperatures_go_out_as_written(tmp_path: Path,
                                                       emulator: Emulator) -> None:
    emulator.fim_responder = lambda body: "1"
    async with lsp_session(tmp_path, emulator.base_url, init_options=THREE) as s:
        s.open(URI, "x = \n")
        await inline(s, 0, 4, invoked=True)
        raw = sorted(json.loads(r.raw_body)["temperature"] for r in fims(emulator))
        assert raw == [0.0, 0.8, 1.2]
        for r in fims(emulator):
            assert b"0000000" not in r.raw_body


# --- any sample received serves every later request for the state ----------------------------


async def test_an_explicit_request_serves_the_automatic_one_after_it(
        tmp_path: Path, emulator: Emulator) -> None:
    emulator.fim_responder = lambda body: f"v{body['temperature']}"
    async with lsp_session(tmp_path, emulator.base_url, init_options=THREE) as s:
        s.open(URI, "x = \n")
        explicit = await inline(s, 0, 4, invoked=True)
        assert len(fims(emulator)) == 3 and len(explicit.items) == 3
        automatic = await inline(s, 0, 4)
        assert texts(automatic)[0] == "v0.0"
        assert len(fims(emulator)) == 3, "the temperature-0 sample was asked again"


async def test_an_explicit_request_after_an_automatic_one_asks_only_the_missing_samples(
        tmp_path: Path, emulator: Emulator) -> None:
    emulator.fim_responder = lambda body: f"v{body['temperature']}"
    async with lsp_session(tmp_path, emulator.base_url, init_options=THREE) as s:
        s.open(URI, "x = \n")
        assert texts(await inline(s, 0, 4)) == ["v0.0"]
        explicit = await inline(s, 0, 4, invoked=True)
        assert texts(explicit) == ["v0.0", "v0.8", "v1.2"]
        assert sorted(r.body["temperature"] for r in fims(emulator)) == [0.0, 0.8, 1.2]
        again = await inline(s, 0, 4, invoked=True)
        assert texts(again) == ["v0.0", "v0.8", "v1.2"]
        assert len(fims(emulator)) == 3


# --- the suggest widget is open: extend the selected entry, or nothing -----------------------


async def test_a_selected_menu_entry_is_extended_over_its_range(tmp_path: Path,
                                                                emulator: Emulator) -> None:
    emulator.add_rule(Rule(reply=Reply(text="('hi')"), prompt_endswith="x = print"))
    emulator.add_rule(Rule(reply=Reply(text="ivate = 1"), prompt_endswith="x = pr"))
    async with lsp_session(tmp_path, emulator.base_url) as s:
        s.open(URI, "x = pr\n")
        before = await inline(s, 0, 6)
        assert texts(before) == ["ivate = 1"]
        # The menu offers `print` for `pr`: the ghost text must not say `private`.
        result = await inline(s, 0, 6, selected=(4, 6, "print"))
        (item,) = result.items
        assert item.insert_text == "print('hi')"
        assert item.range == lsp.Range(lsp.Position(0, 4), lsp.Position(0, 6))
        assert fims(emulator)[-1].body["prompt"] == "x = print"
        assert len(fims(emulator)) == 2


async def test_a_selected_menu_entry_with_nothing_to_add_shows_nothing(
        tmp_path: Path, emulator: Emulator) -> None:
    emulator.add_rule(Rule(reply=Reply(text=""), prompt_endswith="x = print"))
    emulator.add_rule(Rule(reply=Reply(text="ivate = 1"), prompt_endswith="x = pr"))
    async with lsp_session(tmp_path, emulator.base_url) as s:
        s.open(URI, "x = pr\n")
        assert texts(await inline(s, 0, 6)) == ["ivate = 1"]
        result = await inline(s, 0, 6, selected=(4, 6, "print"))
        assert result.items == ()


async def test_selected_menu_entries_are_debounced_like_typing(tmp_path: Path,
                                                              emulator: Emulator) -> None:
    """Moving through the menu (one request per entry) costs one request, for the last."""
    emulator.fim_responder = lambda body: "()"
    async with lsp_session(tmp_path, emulator.base_url,
                           init_options={**THREE, "debounceMs": 300}) as s:
        s.open(URI, "x = pr\n")
        pending = []
        for name in ("print", "private", "property", "process"):
            pending.append(asyncio.ensure_future(
                inline(s, 0, 6, invoked=True, selected=(4, 6, name))))
            await asyncio.sleep(0.05)
        results = await asyncio.gather(*pending)
        assert [texts(r) for r in results] == [[], [], [], ["process()"]]
        assert [r.body["prompt"] for r in fims(emulator)] == ["x = process"]
