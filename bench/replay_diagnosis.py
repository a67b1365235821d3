"""Why was the right suggestion not on screen, and why was each backend request made?

Runs the typing replay's keystrokes (same seeded plan, same timing, same perfect-model emulator)
against the :class:`~deepseek_fim_lsp.completion.engine.Engine` in this process — no LSP, so
that the engine's state can be looked at — and instruments the engine from the outside (wrapped
methods, nothing changed in the server):

* every backend fetch is tagged with its origin: a keystroke's request (with the reason no earlier
  answer could serve it) or a prefetch, and whether it landed or was cancelled;
* at every thinking pause, the latest request is classified (right on screen, still waiting —
  for the debounce, its own fetch or a joined one —, answered empty, answered wrong);
* at every Enter that starts an indented line, the type-through entry is looked at just before
  the key: is there one, does it already hold the next line (lookahead), was a prefetch issued
  for it, has it landed, did it extend the entry.

    .venv/bin/python bench/replay_diagnosis.py [--quick] [--seed N] [--chars N] [--pause-scale X]
"""

from __future__ import annotations

import argparse
import asyncio
import contextvars
import random
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (  # noqa: E402
    BENCH_KEY,
    FIRST_TOKEN_MS,
    PER_CHUNK_MS,
    TypingPlan,
    is_right,
    load_samples,
    machine,
    perfect_responder,
    plan_typing,
)
from deepseek_fim_lsp.completion.cache import Snapshot  # noqa: E402
from deepseek_fim_lsp.completion.engine import Engine  # noqa: E402
from deepseek_fim_lsp.completion.types import CompletionRequest, CompletionResult  # noqa: E402
from deepseek_fim_lsp.config import Settings  # noqa: E402
from deepseek_fim_lsp.context.crossfile import OpenDocument  # noqa: E402
from deepseek_fim_lsp.emulator import Emulator  # noqa: E402

#: Who asked for the fetch being started (copied into the fetch's task with its context).
ORIGIN: contextvars.ContextVar[tuple[str, tuple[int, int]]] = contextvars.ContextVar(
    "origin", default=("unknown", (0, 0)))


@dataclass
class Prefetch:
    issued: float
    landed: float | None = None
    cancelled: bool = False
    answered: bool | None = None  # did the answer hold anything?
    extended: bool = False


@dataclass
class Probe:
    """What the bench saw of the engine. Prefetches are keyed like the engine keys them:
    (serial of the type-through entry, length of the text it held)."""

    truths: dict[str, str]
    fetches: Counter[str] = field(default_factory=Counter)
    fetch_outcomes: Counter[tuple[str, str]] = field(default_factory=Counter)
    prefetches: dict[tuple[int, int], Prefetch] = field(default_factory=dict)
    #: serials of entries that a prefetch's answer extended
    extended: set[int] = field(default_factory=set)

    def install(self, engine: Engine) -> None:
        orig_start, orig_fetch = engine._start_fetch, engine._fetch
        orig_prefetch, orig_extend = engine.prefetch.maybe_prefetch, engine.type_through.extend

        def start_fetch(req: CompletionRequest, *a: Any, **kw: Any) -> Any:
            token = ORIGIN.set((self.why_request(engine, req), (0, 0)))
            try:
                return orig_start(req, *a, **kw)
            finally:
                ORIGIN.reset(token)

        async def fetch(*a: Any, **kw: Any) -> Any:
            origin, key = ORIGIN.get()
            self.fetches[origin] += 1
            try:
                result = await orig_fetch(*a, **kw)
            except asyncio.CancelledError:
                self.fetch_outcomes[(origin, "cancelled")] += 1
                if key in self.prefetches:
                    self.prefetches[key].cancelled = True
                raise
            self.fetch_outcomes[(origin, "landed")] += 1
            if key in self.prefetches:
                p = self.prefetches[key]
                p.landed = time.perf_counter()
                p.answered = bool(result.through)
            return result

        def maybe_prefetch(req: CompletionRequest, defer: bool) -> None:
            rem = engine.type_through.remainder(req.uri, req.text, req.offset)
            key = (rem.serial, rem.held) if rem else (0, 0)
            before = key in engine.prefetch._asked
            token = ORIGIN.set(("prefetch", key))
            try:
                orig_prefetch(req, defer)
            finally:
                ORIGIN.reset(token)
            if rem is not None and not before and key in engine.prefetch._asked:
                self.prefetches[key] = Prefetch(time.perf_counter())

        def extend(uri: str, rem: Any, more: str) -> bool:
            ok = orig_extend(uri, rem, more)
            key = (rem.serial, rem.held)
            if ok and key in self.prefetches:
                self.prefetches[key].extended = True
                self.extended.add(rem.serial)
            return ok

        engine._start_fetch = start_fetch  # type: ignore[method-assign]
        engine._fetch = fetch  # type: ignore[method-assign]
        engine.prefetch.maybe_prefetch = maybe_prefetch  # type: ignore[method-assign]
        engine.type_through.extend = extend  # type: ignore[method-assign]

    def why_request(self, engine: Engine, req: CompletionRequest) -> str:
        """Why no earlier answer served this state (so a backend request is started)."""
        truth = self.truths[req.uri]
        if req.text[:req.offset] != truth[:req.offset]:
            return "typo (text differs from the file)"
        entries = engine.type_through._last.get(req.uri, ())
        if not entries:
            return "no suggestion to type through"
        matches = [(e, t) for e in entries if (t := e.state.typed(req.text, req.offset))
                   is not None]
        if not matches:
            return "left the suggestions' states (Backspace / cursor move)"
        shown, typed = matches[0]
        if not typed:
            return "same state as the suggestion (not cached)"
        first = shown.items[0].text
        if not first.startswith(typed):
            if typed.startswith(first):
                return "suggestion used up (typed past its end)"
            return "typed text differs from the suggestion"
        rest = first[len(typed):]
        if not rest.strip():
            return "suggestion used up (only whitespace left)"
        return "entry covers it, but lookup refused"


@dataclass
class Diagnosis:
    pauses: Counter[tuple[str, str]] = field(default_factory=Counter)
    enters: Counter[tuple[str, str]] = field(default_factory=Counter)
    keystrokes: int = 0


def classify_pause(engine: Engine, probe: Probe, latest: tuple[CompletionRequest,
                   asyncio.Task[CompletionResult]]) -> str:
    req, task = latest
    truth = probe.truths[req.uri]
    if not task.done():
        pending = engine._pending.get(req.uri)
        if pending is not None and not pending.fetch.task.done():
            own = pending.state == Snapshot.of(req.text, req.offset)
            return "waiting: own fetch in flight" if own else "waiting: joined an earlier fetch"
        ahead = engine.prefetch._ahead.get(req.uri)
        if ahead is not None and not ahead.fetch.task.done() \
                and ahead.state.typed(req.text, req.offset) is not None:
            return "waiting: joined a prefetch"
        if any(not f.task.done() for f in engine._inflight.values()):
            return "waiting: a prefetch's fetch in flight"
        return "waiting: debounce"
    result = task.result()
    if result.items:
        if is_right(truth, req.text, req.offset, result.items[0].text):
            return "right"
        return f"wrong ({result.source})"
    return f"nothing shown ({result.source})"


def classify_enter(engine: Engine, probe: Probe, uri: str, text: str, cursor: int) -> str:
    """The type-through entry just before Enter: does it (or will it) hold the next line?"""
    rem = engine.type_through.remainder(uri, text, cursor)
    if rem is None:
        if engine.type_through._last.get(uri) is None:
            return "no type-through entry"
        return "entry does not match the line as typed"
    if rem.rest.startswith(("\n", "\r\n")):
        return "next line held (prefetched)" if rem.serial in probe.extended else \
            "next line held (lookahead)"
    if "\n" in rem.rest:
        return "entry holds more of this line than was typed"
    pf = probe.prefetches.get((rem.serial, rem.held))
    if pf is None:
        return "no prefetch issued (no type-through hit on this line)"
    if pf.cancelled:
        return "prefetch cancelled"
    if pf.landed is None:
        return f"prefetch in flight ({(time.perf_counter() - pf.issued) * 1e3:.0f} ms old)"
    if not pf.answered:
        return "prefetch landed with nothing"
    return "prefetch landed, entry not extended (forgotten meanwhile)"


async def replay(engine: Engine, probe: Probe, plan: TypingPlan, others: list[OpenDocument],
                 diag: Diagnosis, pause_scale: float) -> None:
    text, cursor, uri = plan.initial, plan.cursor, plan.uri
    latest: tuple[CompletionRequest, asyncio.Task[CompletionResult]] | None = None
    enter_note: str | None = None
    target = time.perf_counter()
    typed = 0
    for step in plan.steps:
        target += step.delay * (pause_scale if step.pause else 1.0)
        await asyncio.sleep(max(0.0, target - time.perf_counter()))
        if step.pause and latest is not None:
            kind = step.pause
            outcome = classify_pause(engine, probe, latest)
            diag.pauses[(kind, outcome)] += 1
            if kind == "indent" and enter_note is not None:
                diag.enters[(enter_note, outcome)] += 1
        if step.kind == "insert":
            if step.text.startswith("\n") and step.text[1:].strip(" \t") == "" \
                    and len(step.text) > 1:
                enter_note = "first keystroke of the segment (after the placement)" \
                    if typed == 0 else classify_enter(engine, probe, uri, text, cursor)
            text = text[:cursor] + step.text + text[cursor:]
            cursor += len(step.text)
            diag.keystrokes += 1
            typed += 1
        elif step.kind == "delete":
            text = text[:cursor - 1] + text[cursor:]
            cursor -= 1
            diag.keystrokes += 1
        else:
            cursor = step.offset
        req = CompletionRequest(uri, text, cursor, plan.language_id, False, others)
        latest = (req, asyncio.ensure_future(engine.complete(req)))
    await asyncio.sleep(1.0)


def show(title: str, counts: Counter[Any], total: int | None = None) -> None:
    total = total or sum(counts.values())
    print(f"\n{title} ({total})")
    for key, n in counts.most_common():
        label = " | ".join(key) if isinstance(key, tuple) else str(key)
        print(f"  {n:5d}  {100 * n / total:5.1f}%  {label}")


async def main_async(args: argparse.Namespace) -> None:
    rng = random.Random(args.seed)
    samples = load_samples()[:1] if args.quick else load_samples()
    plans = [plan_typing(s, rng, args.chars) for s in samples]
    print(f"replay diagnosis: {sum(p.keystrokes for p in plans)} keystrokes over {len(plans)} "
          f"files, {args.chars} characters per file, seed {args.seed}, pauses x"
          f"{args.pause_scale:g}; backend {FIRST_TOKEN_MS:g} ms + {PER_CHUNK_MS:g} ms/chunk")
    print(f"machine: {machine()}")
    emu = Emulator(api_keys=(BENCH_KEY,), first_token_ms=FIRST_TOKEN_MS,
                   per_chunk_ms=PER_CHUNK_MS,
                   fim_responder=perfect_responder([p.truth for p in plans])).start()
    probe = Probe({p.uri: p.truth for p in plans})
    diag = Diagnosis()
    engine = Engine(Settings(api_key=BENCH_KEY, base_url=emu.base_url))
    probe.install(engine)
    try:
        for i, plan in enumerate(plans):
            others = [OpenDocument(p.uri, p.language_id, p.initial, float(j))
                      for j, p in enumerate(plans) if j != i]
            await replay(engine, probe, plan, others, diag, args.pause_scale)
        await asyncio.sleep(1.0)
    finally:
        await engine.aclose()
        emu.stop()
    posts = len(emu.requests("/beta/completions"))
    chars = max(1, diag.keystrokes)
    print(f"\nbackend requests: {posts} ({100 * posts / chars:.1f} per 100 keystrokes)")
    show("fetches by origin", probe.fetches)
    show("fetch outcomes", probe.fetch_outcomes)
    show("prefetches: what became of them", Counter(
        "extended the suggestion" if p.extended else "cancelled" if p.cancelled
        else "answered nothing new (the entry is closed)" if p.answered is False
        else "still in flight at the end" if p.landed is None
        else "answered, but the suggestion was gone" for p in probe.prefetches.values()))
    for kind in sorted({k for k, _ in diag.pauses}):
        show(f"pauses '{kind}': what was on screen when the pause ended",
             Counter({o: n for (k, o), n in diag.pauses.items() if k == kind}))
    show("indented new lines: entry just before Enter | screen when the pause ended",
         diag.enters)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="one file, for the smoke test")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--chars", type=int, default=None,
                   help="characters retyped per file (default 300, about ten lines; quick 60)")
    p.add_argument("--pause-scale", type=float, default=1.0)
    args = p.parse_args()
    if args.chars is None:
        args.chars = 60 if args.quick else 300
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
