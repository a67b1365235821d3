"""Shared pieces of the benchmarks: sample sources, a real LSP session over stdio, a seeded
typing model, a "perfect model" emulator responder, /proc readings and figure tables.

The benchmarks drive the installed server exactly as an editor would (pytest-lsp's client over
stdio) against the local emulator on 127.0.0.1, so their figures include JSON-RPC, pygls, the
engine and real HTTP — the same path a user's keystroke takes.
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from lsprotocol import types as lsp
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

from deepseek_fim_lsp.backends.base import FimRequest
from deepseek_fim_lsp.backends.deepseek import DeepSeekBackend
from deepseek_fim_lsp.config import Prices, Settings
from deepseek_fim_lsp.context.crossfile import OpenDocument
from deepseek_fim_lsp.context.window import build_window
from deepseek_fim_lsp.emulator.model import PrefixCache, count_tokens

BENCH_DIR = Path(__file__).resolve().parent
SAMPLES_DIR = BENCH_DIR / "samples"
#: A test-style key: the emulator accepts it, the real API never sees it.
BENCH_KEY = "sk-test-bench-7d41c0"
#: Backend latency used by the timing benchmarks (the brief's fixed figures).
FIRST_TOKEN_MS = 300.0
PER_CHUNK_MS = 20.0

SAMPLES: dict[str, tuple[str, str]] = {
    # language id → (file, uri suffix)
    "python": ("inventory.py", "inventory.py"),
    "typescript": ("router.ts", "router.ts"),
    "go": ("cache.go", "cache.go"),
    "rust": ("tokenizer.rs", "tokenizer.rs"),
    "c": ("ringbuf.c", "ringbuf.c"),
    "java": ("LedgerService.java", "LedgerService.java"),
}


@dataclass(frozen=True)
class Sample:
    language_id: str
    uri: str
    text: str


def load_samples() -> list[Sample]:
    out = []
    for lang, (name, _) in SAMPLES.items():
        text = (SAMPLES_DIR / name).read_text("utf-8")
        out.append(Sample(lang, f"file:///bench/{name}", text))
    return out


def synthetic_source(lines: int) -> str:
    """A realistic Python file of exactly ``lines`` lines: the Python sample repeated, with
    identifiers renamed per copy so that no two copies are textually identical."""
    base = (SAMPLES_DIR / "inventory.py").read_text("utf-8").splitlines()
    out: list[str] = []
    copy = 0
    while len(out) < lines:
        suffix = f"_{copy}" if copy else ""
        for line in base:
            out.append(line.replace("Inventory", f"Inventory{suffix}")
                       .replace("Item", f"Item{suffix}")
                       .replace("reserve", f"reserve{suffix}"))
            if len(out) >= lines:
                break
        copy += 1
    return "\n".join(out) + "\n"


# --- statistics and output ---------------------------------------------------------------------


def pct(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) by linear interpolation; NaN when there are no values."""
    if not values:
        return float("nan")
    s = sorted(values)
    k = (len(s) - 1) * q / 100
    lo, hi = int(k), min(int(k) + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def fmt(v: object, digits: int = 2) -> str:
    if isinstance(v, float):
        if v != v:
            return "n/a"
        if v != 0 and abs(v) < 0.1:
            return f"{v:.3g}"
        return f"{v:.{digits}f}"
    return str(v)


def table(rows: Iterable[Sequence[object]], header: Sequence[str]) -> str:
    """A plain aligned table; the first column is an identifier the smoke test looks for."""
    cells = [list(header)] + [[fmt(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
             for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def machine() -> str:
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (f"{os.cpu_count()} cores, {model}, Python {platform.python_version()}, "
            f"{platform.system()} {platform.release()}")


def cost_usd(hit: int, miss: int, out: int, prices: Prices | None = None) -> float:
    """Off-peak USD for token counts, with the documented default prices."""
    p = prices or Prices()
    return (hit * p.cache_hit + miss * p.cache_miss + out * p.output) / 1e6


def emulator_usage(entries: Iterable[Any]) -> tuple[int, int, int, int]:
    """(requests, hit, miss, completion) over emulator log entries that reported usage."""
    n = hit = miss = out = 0
    for e in entries:
        u = e.usage
        if not u:
            continue
        n += 1
        hit += int(u.get("prompt_cache_hit_tokens", 0))
        miss += int(u.get("prompt_cache_miss_tokens", 0))
        out += int(u.get("completion_tokens", 0))
    return n, hit, miss, out


def billed_usage(entries: Iterable[Any], unit_tokens: int = 64) -> tuple[int, int, int, int, int]:
    """(requests, requests with logged usage, hit, miss, completion) over emulator FIM log
    entries, counting every request the emulator received — answered, superseded, cancelled.

    The real API bills a request's prompt once it has arrived, whether or not the client stays
    for the answer; the emulator logs usage only for requests that lived to their first token.
    So the prompt side is recomputed for all of them: the emulator's own prefix-cache model is
    replayed over the requests in arrival order (it looked every one of them up), which gives the
    hit/miss split it would have reported. Completion tokens count where the emulator logged
    them (a request dropped before its first token produced none)."""
    cache = PrefixCache(unit_tokens)
    n = logged = hit = miss = out = 0
    for e in entries:
        body = e.body if isinstance(e.body, dict) else {}
        if "prompt" not in body:
            continue
        text = str(body["prompt"]) + str(body.get("suffix") or "")
        h = cache.lookup_and_store(str(body.get("model", "")), text)
        n += 1
        hit += h
        miss += count_tokens(text) - h
        if e.usage:
            logged += 1
            out += int(e.usage.get("completion_tokens", 0))
    return n, logged, hit, miss, out


# --- the server process --------------------------------------------------------------------------


def proc_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a live process (from /proc/<pid>/stat)."""
    raw = Path(f"/proc/{pid}/stat").read_text()
    fields = raw[raw.rindex(")") + 2:].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def proc_mem_mib(pid: int) -> tuple[float, float]:
    """(current RSS, peak RSS) in MiB (VmRSS, VmHWM from /proc/<pid>/status)."""
    rss = hwm = 0.0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            rss = int(line.split()[1]) / 1024
        elif line.startswith("VmHWM:"):
            hwm = int(line.split()[1]) / 1024
    return rss, hwm


def utf16_position(text: str, offset: int) -> lsp.Position:
    """LSP position (UTF-16 columns) of a string offset."""
    line = text.count("\n", 0, offset)
    start = text.rfind("\n", 0, offset) + 1
    col = sum(2 if ord(c) > 0xFFFF else 1 for c in text[start:offset])
    return lsp.Position(line, col)


class Server:
    """One server process driven over stdio, with the local text of each open document."""

    def __init__(self, client: LanguageClient, pid: int, stderr_path: Path) -> None:
        self.client = client
        self.pid = pid
        self.stderr_path = stderr_path
        self.texts: dict[str, str] = {}
        self.versions: dict[str, int] = {}

    def open(self, uri: str, text: str, language_id: str) -> None:
        self.texts[uri] = text
        self.versions[uri] = 1
        self.client.text_document_did_open(lsp.DidOpenTextDocumentParams(
            lsp.TextDocumentItem(uri=uri, language_id=language_id, version=1, text=text)))

    def edit(self, uri: str, start: int, end: int, new: str) -> None:
        """Replace text[start:end] with ``new`` (one incremental didChange)."""
        text = self.texts[uri]
        rng = lsp.Range(utf16_position(text, start), utf16_position(text, end))
        self.texts[uri] = text[:start] + new + text[end:]
        self.versions[uri] += 1
        self.client.text_document_did_change(lsp.DidChangeTextDocumentParams(
            lsp.VersionedTextDocumentIdentifier(uri=uri, version=self.versions[uri]),
            [lsp.TextDocumentContentChangePartial(range=rng, text=new)]))

    def inline(self, uri: str, offset: int, *, invoked: bool = False) -> asyncio.Future[Any]:
        """Fire an inlineCompletion request at ``offset``; the caller decides whether to wait."""
        kind = (lsp.InlineCompletionTriggerKind.Invoked if invoked
                else lsp.InlineCompletionTriggerKind.Automatic)
        params = lsp.InlineCompletionParams(
            context=lsp.InlineCompletionContext(trigger_kind=kind),
            text_document=lsp.TextDocumentIdentifier(uri=uri),
            position=utf16_position(self.texts[uri], offset))
        return asyncio.ensure_future(self.client.text_document_inline_completion_async(params))

    async def stats(self) -> dict[str, Any]:
        result = await asyncio.wait_for(
            self.client.protocol.send_request_async(  # type: ignore[no-untyped-call]
                "deepseekFim/stats", None), 30)
        plain = to_plain(result)
        return plain if isinstance(plain, dict) else {}

    def cpu_seconds(self) -> float:
        return proc_cpu_seconds(self.pid)

    def mem_mib(self) -> tuple[float, float]:
        return proc_mem_mib(self.pid)

    def told(self) -> list[str]:
        """What the server told the user or logged (e.g. unknown settings)."""
        try:
            logged = self.stderr_path.read_text("utf-8", "replace").splitlines()
        except OSError:
            logged = []
        return [m.message for m in self.client.messages] + logged


def to_plain(obj: Any) -> Any:
    """pygls hands back custom results as attribute objects; turn them into dicts/lists."""
    if isinstance(obj, dict):
        return {k: to_plain(v) for k, v in obj.items()}
    if hasattr(obj, "_asdict"):  # a namedtuple: check before tuple
        return {k: to_plain(v) for k, v in obj._asdict().items()}
    if isinstance(obj, list | tuple):
        return [to_plain(v) for v in obj]
    if hasattr(obj, "__dict__") and not isinstance(obj, type):
        return {k: to_plain(v) for k, v in vars(obj).items()}
    return obj


@asynccontextmanager
async def lsp_server(base_url: str, init_options: dict[str, Any], *,
                     key: str = BENCH_KEY) -> AsyncIterator[Server]:
    """Start the installed server over stdio, initialize it, yield a :class:`Server`, shut down.

    The server's stderr goes to a temporary file (a pipe nobody reads would fill up and block
    it); the environment carries only the emulator URL and the test key."""
    tmp = Path(tempfile.mkdtemp(prefix="fim-bench-"))
    stderr_path = tmp / "server-stderr.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DEEPSEEK_", "PYTEST_"))}
    env.update(DEEPSEEK_BASE_URL=base_url, DEEPSEEK_API_KEY=key,
               DEEPSEEK_FIM_STATE_DIR=str(tmp / "state"), FIM_BENCH_STDERR=str(stderr_path))
    command = [sys.executable, "-c",
               "import sys, os; f = open(os.environ['FIM_BENCH_STDERR'], 'w', buffering=1); "
               "os.dup2(f.fileno(), 2); sys.argv = ['deepseek-fim-lsp', '--log-level', 'warning']; "
               "from deepseek_fim_lsp.cli import main; sys.exit(main())"]
    client = await ClientServerConfig(server_command=command, server_env=env).start(None)
    assert isinstance(client, LanguageClient)

    @client.feature("deepseekFim/status")  # type: ignore[untyped-decorator]
    def _status(params: Any) -> None:  # the server notifies; nothing to do
        pass

    process = client._server
    assert process is not None
    pid = process.pid
    await asyncio.wait_for(client.initialize_session(lsp.InitializeParams(
        capabilities=client_capabilities("visual-studio-code"),
        initialization_options={"logLevel": "warning", **init_options},
        root_uri=tmp.as_uri())), 30)
    server = Server(client, pid, stderr_path)
    try:
        yield server
    finally:
        try:
            await asyncio.wait_for(client.shutdown_session(), 10)
        finally:
            await client.stop()  # type: ignore[no-untyped-call]
            shutil.rmtree(tmp, ignore_errors=True)


@asynccontextmanager
async def emulator_process(first_token_ms: float = 0, chunk_ms: float = 0,
                           key: str = BENCH_KEY,
                           fim_text: str | None = None) -> AsyncIterator[str]:
    """The emulator in its own process (``deepseek-fim-lsp emulate``), so that timing figures
    are not disturbed by the benchmark's own event loop; yields its base URL. ``fim_text``
    makes every FIM answer that text (a persistent rule)."""
    tmp = Path(tempfile.mkdtemp(prefix="fim-emu-"))
    port_file = tmp / "port"
    extra: list[str] = []
    if fim_text is not None:
        script = tmp / "script.json"
        script.write_text(json.dumps(
            {"rules": [{"endpoint": "fim", "reply": {"text": fim_text}}]}), "utf-8")
        extra = ["--script", str(script)]
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "deepseek_fim_lsp", "emulate", "--port-file", str(port_file),
        "--key", key, "--first-token-ms", str(first_token_ms), "--chunk-ms", str(chunk_ms),
        *extra, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
    try:
        deadline = time.perf_counter() + 20
        while not (port_file.exists() and port_file.read_text().strip()):
            if proc.returncode is not None or time.perf_counter() > deadline:
                raise RuntimeError("the emulator did not start")
            await asyncio.sleep(0.05)
        yield f"http://127.0.0.1:{int(port_file.read_text())}"
    finally:
        if proc.returncode is None:
            proc.terminate()
            try:
                await asyncio.wait_for(proc.wait(), 10)
            except TimeoutError:
                proc.kill()
                await proc.wait()
        shutil.rmtree(tmp, ignore_errors=True)


class MemorySampler:
    """Samples a process's RSS every ``every`` seconds in the background."""

    def __init__(self, pid: int, every: float = 0.5) -> None:
        self.pid, self.every = pid, every
        self.samples: list[tuple[float, float]] = []  # (seconds since start, RSS MiB)
        self._task: asyncio.Task[None] | None = None
        self._t0 = time.perf_counter()

    async def _run(self) -> None:
        while True:
            self.samples.append((time.perf_counter() - self._t0, proc_mem_mib(self.pid)[0]))
            await asyncio.sleep(self.every)

    def __enter__(self) -> MemorySampler:
        self._task = asyncio.ensure_future(self._run())
        return self

    def __exit__(self, *exc: object) -> None:
        if self._task:
            self._task.cancel()
        self.samples.append((time.perf_counter() - self._t0, proc_mem_mib(self.pid)[0]))


# --- typing model ----------------------------------------------------------------------------

KEYWORDS = frozenset(
    "return if elif else for while def class import from with await async let const var fn "
    "func pub impl match struct enum new throw throws public private static final void int "
    "case switch type interface export function yield raise try except catch defer go".split())


@dataclass(frozen=True)
class Step:
    """One user action, ``delay`` seconds after the previous one.

    ``insert``/``delete`` act at the cursor (delete removes the character before it); ``move``
    puts the cursor at ``offset``. ``pause`` names a thinking pause that ends with this step
    (``line_end``, ``keyword``, ``indent`` — after a new, indented line — or ``newline``)."""

    delay: float
    kind: str
    text: str = ""
    offset: int = 0
    pause: str | None = None


@dataclass
class TypingPlan:
    uri: str
    language_id: str
    truth: str
    initial: str
    cursor: int
    steps: list[Step] = field(default_factory=list)

    @property
    def keystrokes(self) -> int:
        return sum(1 for s in self.steps if s.kind != "move")


def _burst_delay(rng: random.Random) -> float:
    return max(0.04, rng.uniform(0.060, 0.120) + rng.gauss(0, 0.008))


def _pause(rng: random.Random) -> float:
    return rng.uniform(0.150, 0.450)


def plan_typing(sample: Sample, rng: random.Random, chars: int) -> TypingPlan:
    """Retype about ``chars`` characters of whole lines of ``sample`` from the middle of the
    file, as a person would: the lines are removed, the cursor sits at the end of the line
    before them, and Enter (with the editor's auto-indent) starts each retyped line.

    Human timing: keystrokes 60–120 ms apart with jitter; 150–450 ms thinking pauses at most
    line ends, after every new line and after keywords; ~3% typos fixed with a backspace;
    ~7% of line ends look somewhere else first (cursor jump up and back).

    The plan starts by putting the cursor there (a ``move``: the user clicked, and an editor
    asks for a completion at a new cursor position) and typing 0.6–1.2 s later."""
    truth = sample.text
    starts = [0] + [i + 1 for i, c in enumerate(truth) if c == "\n"][:-1]
    n_lines = len(starts)
    first = rng.randrange(n_lines // 4, n_lines // 2)
    last = first
    while last + 1 < n_lines - 2 and starts[last + 1] - starts[first] < chars:
        last += 1
    start = starts[first] - 1  # the "\n" ending the line before the region
    end = starts[last] - 1  # the "\n" ending the region's last line
    typed = truth[start:end]
    doc = truth[:start] + truth[end:]
    plan = TypingPlan(sample.uri, sample.language_id, truth, doc, start)
    cursor = start
    steps = plan.steps
    pending_pause: tuple[str, float] | None = None

    def add(kind: str, text: str = "", offset: int = 0, delay: float | None = None) -> None:
        nonlocal pending_pause, doc, cursor
        pause = None
        d = _burst_delay(rng) if delay is None else delay
        if pending_pause is not None:
            pause, d = pending_pause
            pending_pause = None
        steps.append(Step(d, kind, text, offset, pause))
        if kind == "insert":
            doc = doc[:cursor] + text + doc[cursor:]
            cursor += len(text)
        elif kind == "delete":
            doc = doc[:cursor - 1] + doc[cursor:]
            cursor -= 1
        else:
            cursor = offset

    add("move", offset=start, delay=0.0)
    i = 0
    while i < len(typed):
        c = typed[i]
        if c == "\n":
            if i > 0 and rng.random() < 0.6:
                pending_pause = ("line_end", _pause(rng))
            if i > 0 and rng.random() < 0.07:  # look at an earlier line, then come back
                back = cursor
                line_no = doc.count("\n", 0, cursor)
                target_line = max(0, line_no - rng.randint(2, 12))
                nl = -1
                for _ in range(target_line + 1):
                    nl = doc.find("\n", nl + 1)
                add("move", offset=nl)
                add("move", offset=back, delay=rng.uniform(0.3, 0.8))
            j = i + 1
            while j < len(typed) and typed[j] in " \t":
                j += 1
            indent = typed[i + 1:j]
            add("insert", "\n" + indent)
            blank_next = j >= len(typed) or typed[j] == "\n"
            if not blank_next and rng.random() < 0.85:
                pending_pause = ("indent" if indent else "newline", _pause(rng))
            i = j
            continue
        if c.isalnum() and rng.random() < 0.03:
            add("insert", rng.choice("qwertyuiopasdfghjklzxcvbnm"))
            add("delete", delay=rng.uniform(0.15, 0.35))
        add("insert", c)
        if c == " ":
            word_start = cursor - 1
            while word_start > 0 and (doc[word_start - 1].isalnum() or doc[word_start - 1] == "_"):
                word_start -= 1
            if doc[word_start:cursor - 1] in KEYWORDS and rng.random() < 0.5:
                pending_pause = ("keyword", _pause(rng))
        i += 1
    assert doc == truth, "the typing plan must rebuild the file"
    # Its own generator: the keystrokes of this and the next plans stay as they were.
    steps[1] = replace(steps[1], delay=0.6 + 0.6 * random.Random(len(typed)).random())
    return plan


# --- the perfect model -------------------------------------------------------------------------


def locate(truths: Sequence[str], prompt: str) -> tuple[str, int] | None:
    """Where the prompt's tail sits in one of the true files: (text, cursor offset)."""
    for size in (200, 800, 3000, len(prompt)):
        tail = prompt[-size:]
        found = [(t, t.find(tail)) for t in truths if tail in t]
        hits = [(t, i + len(tail)) for t, i in found
                if t.find(tail, i + 1) < 0]
        if len(found) == 1 and hits:
            return hits[0]
        if not found:
            return None
        if size >= len(prompt):
            break
    return None


def perfect_responder(truths: Sequence[str]) -> Callable[[dict[str, Any]], str]:
    """An emulator ``fim_responder`` that answers like a perfect model: the true rest of the
    cursor line and the next line. Unknown states (a typo) get an empty answer."""
    def respond(body: dict[str, Any]) -> str:
        where = locate(truths, str(body.get("prompt", "")))
        if where is None:
            return ""
        text, pos = where
        e1 = text.find("\n", pos)
        if e1 < 0:
            return text[pos:]
        e2 = text.find("\n", e1 + 1)
        return text[pos:] if e2 < 0 else text[pos:e2]
    return respond


def is_right(truth: str, doc: str, cursor: int, item: Any) -> bool:
    """Is this inline item what the true file continues with at ``cursor``?"""
    if doc[:cursor] != truth[:cursor]:
        return False
    text = str(item.insert_text if hasattr(item, "insert_text") else item).rstrip()
    return bool(text.strip()) and truth.startswith(text, cursor)


# --- prompt-cache replay (shared with the cache-hit test) --------------------------------------


@dataclass(frozen=True)
class CacheReplay:
    requests: int
    hit_tokens: int
    prompt_tokens: int

    @property
    def hit_share(self) -> float:
        return self.hit_tokens / self.prompt_tokens if self.prompt_tokens else 0.0


#: Window variants of :func:`prompt_cache_replay`.
WINDOWS = ("aligned", "sliding", "char_sliding")


async def prompt_cache_replay(base_url: str, *, window: str = "aligned", cross_file: bool = False,
                              lines: int = 2000, keystrokes: int = 300, key: str = BENCH_KEY,
                              seed: int = 7) -> CacheReplay:
    """Type ``keystrokes`` keystrokes into the middle of a ``lines``-line file, one FIM request
    per keystroke, and add up the emulator's prompt-cache accounting.

    ``window``: ``aligned`` is the window the server builds (start on a line chunk boundary);
    ``sliding`` is ``build_window(sliding=True)`` (as many whole lines as fit: the start moves a
    line at a time); ``char_sliding`` is the naive "last N characters" window whose start moves
    with every keystroke. ``cross_file`` adds the shipped samples as other open documents (the
    server's default cross-file snippets in front of the prefix)."""
    if window not in WINDOWS:
        raise ValueError(f"window must be one of {WINDOWS}")
    text = synthetic_source(lines)
    sample = Sample("python", "file:///bench/big.py", text)
    plan = plan_typing(sample, random.Random(seed), chars=2 * keystrokes + 200)
    s = Settings()
    others = [OpenDocument(o.uri, o.language_id, o.text, float(i))
              for i, o in enumerate(load_samples())] if cross_file else []
    backend = DeepSeekBackend(base_url, key, timeout_s=30)
    doc, cursor = plan.initial, plan.cursor
    n = hit = prompt = 0
    try:
        for step in plan.steps[:keystrokes]:
            if step.kind == "insert":
                doc, cursor = doc[:cursor] + step.text + doc[cursor:], cursor + len(step.text)
            elif step.kind == "delete":
                doc, cursor = doc[:cursor - 1] + doc[cursor:], cursor - 1
            else:
                cursor = step.offset
            w = build_window(doc, cursor, uri=sample.uri, language_id="python",
                             prefix_tokens=s.prefix_tokens, suffix_tokens=s.suffix_tokens,
                             others=others,
                             cross_file_tokens=s.cross_file_tokens if cross_file else 0,
                             sliding=window == "sliding")
            prompt_text = w.prompt
            if window == "char_sliding":  # same budget in characters (0.3 token per char)
                chars = int(s.prefix_tokens / 0.3)
                prompt_text = w.prompt[:len(w.prompt) - len(w.prefix)] + \
                    doc[max(0, cursor - chars):cursor]
            result = await backend.fim(FimRequest(s.model, prompt_text, w.suffix, 16, 0.0))
            if result.usage is not None:
                n += 1
                hit += result.usage.cache_hit_tokens
                prompt += result.usage.cache_hit_tokens + result.usage.cache_miss_tokens
    finally:
        await backend.aclose()
    return CacheReplay(n, hit, prompt)
