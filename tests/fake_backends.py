"""An in-process stand-in for the DeepSeek backend, for unit tests of the engine (the
end-to-end tests use the emulator over HTTP)."""

from __future__ import annotations

from deepseek_fim_lsp.backends.base import (
    Balance,
    ChatRequest,
    ChatResult,
    FimRequest,
    FimResult,
    StopCheck,
)


class ScriptedBackend:
    """Answers every FIM call with the same text and counts the calls."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.calls = 0

    async def fim(self, request: FimRequest, *, stop_check: StopCheck | None = None,
                  partial: list[str] | None = None) -> FimResult:
        self.calls += 1
        return FimResult(self.text, "stop", None)

    async def chat(self, request: ChatRequest) -> ChatResult:
        raise NotImplementedError

    async def models(self) -> list[str]:
        return []

    async def balance(self) -> Balance:
        raise NotImplementedError

    async def aclose(self) -> None:
        pass
