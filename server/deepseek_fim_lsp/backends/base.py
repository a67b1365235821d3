"""Request/response types shared by backends, and the protocol the engine codes against."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from ..usage import Usage


@dataclass(frozen=True)
class FimRequest:
    model: str
    prompt: str
    suffix: str
    max_tokens: int
    temperature: float
    stop: tuple[str, ...] = ()


@dataclass(frozen=True)
class FimResult:
    text: str
    finish_reason: str | None
    usage: Usage | None
    #: True when we closed the stream ourselves because the suggestion was complete.
    stopped_early: bool = False


@dataclass(frozen=True)
class ChatMessage:
    role: str
    content: str
    prefix: bool = False


@dataclass(frozen=True)
class ChatRequest:
    model: str
    messages: Sequence[ChatMessage]
    max_tokens: int
    temperature: float = 0.0
    thinking: bool = False
    stop: tuple[str, ...] = ()


@dataclass(frozen=True)
class ChatResult:
    text: str
    finish_reason: str | None
    usage: Usage | None
    reasoning: str = ""


@dataclass(frozen=True)
class Balance:
    available: bool
    infos: tuple[tuple[str, str], ...] = field(default_factory=tuple)  # (currency, total)


#: Called with the text accumulated so far; returns an index to stop at, or None to keep reading.
StopCheck = Callable[[str], int | None]


class Backend(Protocol):
    async def fim(self, request: FimRequest, *, stop_check: StopCheck | None = None,
                  partial: list[str] | None = None) -> FimResult:
        """Stream one FIM completion. ``partial`` receives the text so far (for timeouts)."""
        ...

    async def chat(self, request: ChatRequest) -> ChatResult: ...

    async def models(self) -> list[str]: ...

    async def balance(self) -> Balance: ...

    async def aclose(self) -> None: ...


class WrappedBackend:
    """A backend that hands every call to ``inner``; subclasses override what they watch."""

    def __init__(self, inner: Backend) -> None:
        self.inner = inner

    async def fim(self, request: FimRequest, *, stop_check: StopCheck | None = None,
                  partial: list[str] | None = None) -> FimResult:
        return await self.inner.fim(request, stop_check=stop_check, partial=partial)

    async def chat(self, request: ChatRequest) -> ChatResult:
        return await self.inner.chat(request)

    async def models(self) -> list[str]:
        return await self.inner.models()

    async def balance(self) -> Balance:
        return await self.inner.balance()

    async def aclose(self) -> None:
        await self.inner.aclose()
