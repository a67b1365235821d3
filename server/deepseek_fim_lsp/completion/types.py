"""What goes into and comes out of the completion engine (shared by the LSP layer, the CLI
and the API), and how the engine talks back to its host."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from ..context.crossfile import OpenDocument
from ..errors import DeepSeekError
from ..postprocess import Suggestion
from ..usage import Usage

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Fetched:
    """What one fetch yields: the suggestions to show, the same with lookahead for
    type-through, whether they are one-line suggestions, the usage and its cost."""

    items: tuple[Suggestion, ...]
    through: tuple[Suggestion, ...]
    single: bool
    usage: Usage | None
    cost: float
    #: The first suggestion's lookahead line, still streaming when the line was answered
    #: (resolves to the text to append; ``""``: nothing follows it; None: unknown).
    later: asyncio.Future[str | None] | None = None
    #: The model continues the first suggestion with the code below it: nothing follows it.
    ends: bool = False
    #: How many samples were asked for the state (their answers are ``items``).
    samples: int = 1
    #: Every sample was answered in full (no timeout): an empty answer is an answer too.
    answered: bool = True


@dataclass(frozen=True)
class Selected:
    """The suggest widget's selected entry: its text and the range it replaces (offsets)."""

    start: int
    end: int
    text: str


@dataclass(frozen=True)
class CompletionRequest:
    uri: str
    text: str
    offset: int
    language_id: str = "plaintext"
    #: True when the user asked (a keypress): it passes ``manualOnly`` and ``enabled: false``.
    #: Without a ``door``, also what it may cost: explicit (True) or typing (False).
    invoked: bool = False
    others: Sequence[OpenDocument] = ()
    #: What the request may cost: ``typing`` | ``explicit`` | ``known`` (see policy.py);
    #: None: decided by ``invoked``.
    door: str | None = None
    #: The suggest widget's selected entry: items must extend it (see policy.py).
    selected: Selected | None = None


@dataclass(frozen=True)
class CompletionItem:
    id: str
    text: str
    #: Characters after the cursor (same line) that the item replaces.
    replace: int = 0
    #: Characters before the cursor that the item replaces (a selected menu entry's start).
    back: int = 0


@dataclass(frozen=True)
class CompletionResult:
    items: tuple[CompletionItem, ...]
    #: backend | cache | type_through | empty | superseded | excluded | disabled | paused |
    #: backoff | binary | error
    source: str
    usage: Usage | None = None
    cost_usd: float = 0.0
    latency_ms: float = 0.0
    error: DeepSeekError | None = None
    model: str = ""


class EngineListener(Protocol):
    def status(self, state: str, message: str, uri: str | None) -> None: ...

    def problem(self, error: DeepSeekError) -> None:
        """A new kind of problem (called once per kind until it clears)."""
        ...

    def info(self, message: str) -> None:
        """A one-off notice for the user (budget paused, model check result)."""
        ...


class NullListener:
    def status(self, state: str, message: str, uri: str | None) -> None:
        pass

    def problem(self, error: DeepSeekError) -> None:
        log.warning("%s", error.user_message)

    def info(self, message: str) -> None:
        log.info("%s", message)
