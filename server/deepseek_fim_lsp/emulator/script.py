"""Scripting the DeepSeek API emulator: scripted answers with their faults, and rules.

A :class:`Reply` is one answer and the faults to inject into it (status and error body, latency,
keep-alives, a hang, an abrupt cut, garbage before the stream); a :class:`Rule` answers every
matching request the queue has nothing for. Out-of-process clients send the same things as JSON
to the ``/_emulator/*`` control endpoints (:func:`control_answer`) or in a ``--script`` file
(:func:`load_script`).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from .http import HttpRequest
from .payloads import error_envelope


class _Logged(Protocol):
    def to_json(self) -> dict[str, Any]: ...


class Scriptable(Protocol):
    """What scripting needs of the emulator (handed in, so that this module does not import the
    emulator back)."""

    @property
    def queued(self) -> int: ...

    def requests(self) -> Sequence[_Logged]: ...

    def script(self, *replies: Reply) -> None: ...

    def add_rule(self, rule: Rule) -> None: ...

    def reset(self) -> None: ...

    def configure(self, data: dict[str, Any]) -> None: ...


@dataclass
class Reply:
    """One scripted answer (precedence: see the ``emulator`` module docstring).

    Latency: keep-alives (spaced by ``keepalive_interval_ms``) go out first, then
    ``first_token_ms``, then stream chunks ``per_chunk_ms`` apart; a non-streamed answer
    waits ``first_token_ms + per_chunk_ms * (chunks - 1)``. ``garbage_lines`` are written
    as-is (each plus ``\n``, then one blank line) before the first ``data:`` chunk.
    """

    text: str | None = None
    status: int = 200
    error_message: str | None = None
    plain_text_error: bool = False
    finish_reason: str = "stop"
    chunks: list[str] | None = None
    first_token_ms: float | None = None
    per_chunk_ms: float | None = None
    keepalive: int = 0
    keepalive_interval_ms: float = 0
    hang: bool = False
    cut_after_chunks: int | None = None
    garbage_lines: list[str] = field(default_factory=list)
    usage_placement: str = "separate"
    reasoning: str | None = None
    tool_calls: list[dict[str, Any]] | None = None
    endpoint: str = "any"

    @classmethod
    def from_json(cls, data: Any) -> Reply:
        """Build from the control-endpoint JSON (snake_case field names, unknown → error)."""
        if not isinstance(data, dict):
            raise ValueError("a reply must be a JSON object")
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - names
        if unknown:
            raise ValueError(f"unknown reply fields: {sorted(unknown)}")
        return cls(**data)


@dataclass
class Rule:
    """A persistent scripted answer, used when the queue has nothing for the request.

    For FIM the ``prompt_*`` tests look at ``prompt`` and ``suffix_startswith`` at
    ``suffix``; for chat they look at the message contents joined by newlines (so
    ``prompt_endswith`` sees the end of the last message) and there is no suffix.
    """

    reply: Reply
    prompt_endswith: str | None = None
    prompt_contains: str | None = None
    suffix_startswith: str | None = None
    endpoint: str = "any"

    @classmethod
    def from_json(cls, data: Any) -> Rule:
        if not isinstance(data, dict) or "reply" not in data:
            raise ValueError("a rule must be a JSON object with a `reply`")
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - names
        if unknown:
            raise ValueError(f"unknown rule fields: {sorted(unknown)}")
        return cls(**{**data, "reply": Reply.from_json(data["reply"])})

    def matches(self, kind: str, prompt: str, suffix: str) -> bool:
        if self.endpoint not in ("any", kind) or self.reply.endpoint not in ("any", kind):
            return False
        if self.prompt_endswith is not None and not prompt.endswith(self.prompt_endswith):
            return False
        if self.prompt_contains is not None and self.prompt_contains not in prompt:
            return False
        return self.suffix_startswith is None or suffix.startswith(self.suffix_startswith)


def control_answer(emu: Scriptable, req: HttpRequest) -> tuple[int, Any]:
    """Status and JSON body for a ``/_emulator/*`` request (ValueError/TypeError: bad input)."""
    name = req.path[len("/_emulator/"):]
    if req.method == "GET" and name == "log":
        return 200, [r.to_json() for r in emu.requests()]
    if req.method == "GET" and name == "health":
        return 200, {"ok": True, "queued": emu.queued}
    if req.method != "POST":
        return 404, error_envelope(404)
    data: Any = json.loads(req.body) if req.body.strip() else {}
    if not isinstance(data, dict):
        raise ValueError("body must be a JSON object")
    if name == "script":
        emu.script(*[Reply.from_json(r) for r in data.get("replies", [])])
    elif name == "rules":
        for r in [Rule.from_json(r) for r in data.get("rules", [])]:
            emu.add_rule(r)
    elif name == "reset":
        emu.reset()
    elif name == "config":
        emu.configure(data)
    else:
        return 404, error_envelope(404)
    return 200, {"ok": True}


def load_script(emu: Scriptable, data: Any) -> None:
    """Apply a script file / control JSON: ``{"replies": [...], "rules": [...], "config": {}}``."""
    if not isinstance(data, dict):
        raise ValueError("script must be a JSON object")
    emu.script(*[Reply.from_json(r) for r in data.get("replies", [])])
    for r in data.get("rules", []):
        emu.add_rule(Rule.from_json(r))
    if data.get("config"):
        emu.configure(data["config"])
