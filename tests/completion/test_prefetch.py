"""The prefetch of the next line and the requests that meet it, with the event loop's order made
explicit: a request handled in the very iteration the prefetch finishes in must see its answer."""

from __future__ import annotations

import asyncio

from deepseek_fim_lsp.backends.base import FimRequest, FimResult, StopCheck
from deepseek_fim_lsp.completion.engine import Engine
from deepseek_fim_lsp.completion.scheduler import SharedFetch
from deepseek_fim_lsp.completion.types import CompletionRequest, Fetched
from deepseek_fim_lsp.config import Settings
from fake_backends import ScriptedBackend

URI = "file:///p.py"


class GatedBackend(ScriptedBackend):
    """Answers by the prompt's end; a prompt ending in ``gated_end`` waits for ``gate``."""

    def __init__(self, answers: dict[str, str], gated_end: str) -> None:
        super().__init__("pass")
        self.answers = answers
        self.gated_end = gated_end
        self.gate = asyncio.Event()
        self.prompts: list[str] = []

    async def fim(self, request: FimRequest, *, stop_check: StopCheck | None = None,
                  partial: list[str] | None = None) -> FimResult:
        self.prompts.append(request.prompt)
        if request.prompt.endswith(self.gated_end):
            await self.gate.wait()
        text = next((a for end, a in self.answers.items() if request.prompt.endswith(end)),
                    self.text)
        return FimResult(text, "stop", None)


async def _until_requests(prompts: list[str], n: int) -> None:
    for _ in range(200):
        if len(prompts) >= n:
            return
        await asyncio.sleep(0)
    raise AssertionError(f"expected {n} requests, saw {prompts}")


async def _until_finished(fetch: SharedFetch[Fetched]) -> None:
    """Step the loop one iteration at a time until ``fetch``'s task has just finished: the
    callbacks of its end have not run yet when this returns."""
    while not fetch.task.done():
        await asyncio.sleep(0)


def _race(answer_ahead: str) -> tuple[list[str], list[str]]:
    """Type "42" as suggested; the prefetch for the next line lands in the same loop iteration
    in which the request at the line's end starts. Returns (what that request showed, prompts)."""
    backend = GatedBackend({"= ": "42", "= 42\n": answer_ahead}, gated_end="= 42\n")
    engine = Engine(Settings(api_key="sk-test-prefetch", debounce_ms=0),
                    backend_factory=lambda s: backend)

    async def run() -> list[str]:
        text = "x = \nprint(x)\n"
        first = await engine.complete(CompletionRequest(URI, text, 4, "python"))
        assert [i.text for i in first.items] == ["42"]
        typing = await engine.complete(CompletionRequest(URI, "x = 4\nprint(x)\n", 5, "python"))
        assert [i.text for i in typing.items] == ["2"]
        await _until_requests(backend.prompts, 2)  # the prefetch is waiting at the gate
        backend.gate.set()
        await _until_finished(engine.prefetch._ahead[URI].fetch)
        at_end = await engine.complete(CompletionRequest(URI, "x = 42\nprint(x)\n", 6, "python"))
        return [i.text for i in at_end.items]

    shown = asyncio.run(run())
    return shown, backend.prompts


def test_a_prefetch_that_just_found_nothing_is_not_asked_again() -> None:
    shown, prompts = _race("")
    assert shown == []
    assert prompts == ["x = ", "x = 42\n"]


def test_a_prefetch_that_just_landed_serves_the_line_end() -> None:
    shown, prompts = _race("print(x + 1)")
    assert shown == ["\nprint(x + 1)"]
    assert prompts == ["x = ", "x = 42\n"]


def test_a_keystroke_in_the_iteration_its_answer_lands_is_typed_through() -> None:
    """The same for the request's own fetch: a character typed as its answer lands is served
    from that answer, not asked again."""
    backend = GatedBackend({"= ": "42"}, gated_end="= ")
    engine = Engine(Settings(api_key="sk-test-prefetch", debounce_ms=0),
                    backend_factory=lambda s: backend)

    async def run() -> tuple[list[str], list[str]]:
        first = asyncio.ensure_future(
            engine.complete(CompletionRequest(URI, "x = \nprint(x)\n", 4, "python")))
        await _until_requests(backend.prompts, 1)
        backend.gate.set()
        await _until_finished(engine._pending[URI].fetch)
        typing = await engine.complete(CompletionRequest(URI, "x = 4\nprint(x)\n", 5, "python"))
        return [i.text for i in (await first).items], [i.text for i in typing.items]

    shown, typed = asyncio.run(run())
    assert (shown, typed) == (["42"], ["2"])
    assert not [p for p in backend.prompts if p.endswith("x = 4")]  # no request of its own
