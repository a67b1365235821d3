"""What each kind of completion request may cost: the doors a request comes in by.

Ghost text is the product, and one suggestion must not be paid for twice through two doors. The
LSP layer says how a request came in (trigger kind, whether the client has inline completion,
the suggest widget's selected entry) as a :data:`Door` on the request; this module says what it
may cost and how long it waits first:

* ``typing`` — an automatic inline request, a classic completion from a client without inline
  completion, an inline request while the suggest widget is open: debounced (a newer request
  for the document supersedes it), one sample; cache and type-through apply.
* ``explicit`` — an inline request the user made (``Invoked``, no menu entry selected): at once,
  ``invokedSuggestions`` samples (a sample already received for the state counts).
* ``known`` — a classic completion from a client that shows inline completions, or
  ``TriggerForIncompleteCompletions``: the exact cache and type-through only, never a backend
  request, and it supersedes nothing (the ghost text's request goes on).

A request with a selected menu entry is answered for the document with that entry applied
(:func:`apply_selection`), and its items extend the entry over the entry's range
(:func:`over_selection`): the ghost text never contradicts the menu.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Literal

from ..config import Settings
from .types import CompletionItem, CompletionRequest, CompletionResult

Door = Literal["typing", "explicit", "known"]

#: A keystroke that leaves the suggestion by its last character is usually a typo fixed a
#: moment later (then type-through answers again), and a cursor moved without typing is
#: usually passing through: wait this many debounces before asking.
SLOW_DEBOUNCE_FACTOR = 3
#: A cursor moved away from a suggestion being typed is a glance at other code, usually
#: followed by a move back: ask there only once the cursor has rested this many debounces
#: (0.9 s by default).
GLANCE_FACTOR = 6


def inline_door(invoked: bool, menu_open: bool) -> Door:
    """An inline request: the user's own (``Invoked``) unless the suggest widget is open (then
    every move through the menu asks, like typing)."""
    return "explicit" if invoked and not menu_open else "typing"


def classic_door(client_has_inline: bool, re_trigger: bool) -> Door:
    """A classic ``textDocument/completion``: only what is known when the client shows inline
    completions (the ghost text's request pays) or when it only re-filters an incomplete list
    (``TriggerForIncompleteCompletions``); otherwise like typing, whatever its trigger kind
    (nvim-cmp asks with ``Invoked`` on every keyword character)."""
    return "known" if client_has_inline or re_trigger else "typing"


def door_of(req: CompletionRequest) -> Door:
    """The request's door; without one (the CLI, the API): ``invoked`` decides."""
    if req.door in ("typing", "explicit", "known"):
        return req.door  # type: ignore[return-value]
    return "explicit" if req.invoked else "typing"


@dataclass(frozen=True)
class Cost:
    #: May start a backend request.
    fetch: bool
    #: Waits the debounce (and the automatic pauses: budget, back-off, blocked key).
    debounce: bool
    #: Samples wanted for the state.
    samples: int


def cost(door: Door, settings: Settings) -> Cost:
    if door == "known":
        return Cost(False, False, 1)
    if door == "explicit":
        return Cost(True, False, settings.invoked_suggestions)
    return Cost(True, True, 1)


def debounce_s(settings: Settings, *, moved: bool, typo: bool, glance: bool) -> float:
    """How long a ``typing`` request waits before it asks."""
    delay = settings.debounce_ms / 1000
    if glance:
        return delay * GLANCE_FACTOR
    return delay * SLOW_DEBOUNCE_FACTOR if moved or typo else delay


def apply_selection(req: CompletionRequest) -> CompletionRequest | None:
    """The request for the document with the selected menu entry applied over its range (the
    cursor after it), or None when the entry does not surround the cursor."""
    sel = req.selected
    if sel is None:
        return req
    if not (0 <= sel.start <= req.offset <= sel.end <= len(req.text)):
        return None
    text = req.text[:sel.start] + sel.text + req.text[sel.end:]
    return dataclasses.replace(req, text=text, offset=sel.start + len(sel.text), selected=None)


def over_selection(req: CompletionRequest, result: CompletionResult) -> CompletionResult:
    """Items asked for :func:`apply_selection`'s document, as items of ``req``'s document: the
    entry's text followed by the suggestion, over the entry's range (LSP 3.18)."""
    sel = req.selected
    if sel is None:
        return result
    items = tuple(CompletionItem(item.id, sel.text + item.text,
                                 sel.end - req.offset + item.replace, req.offset - sel.start)
                  for item in result.items)
    return dataclasses.replace(result, items=items)
