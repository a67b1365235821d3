"""The one typed settings object, and how raw user configuration becomes it.

Sources, lowest first: defaults, environment, ``initializationOptions``, then
``workspace/didChangeConfiguration`` (section ``deepseekFim``). :func:`parse` never raises: an
invalid value keeps the previous value (ultimately the default) and yields a problem string that
names the key and the reason, for the user to be told once.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.deepseek.com"
DEFAULT_MODEL = "deepseek-v4-flash"
SECTION = "deepseekFim"
FIM_MAX_TOKENS = 4096


@dataclass(frozen=True)
class Prices:
    """USD per million tokens (off-peak); peak hours multiply by ``peak_multiplier``."""

    cache_hit: float = 0.003
    cache_miss: float = 0.15
    output: float = 0.60
    peak_multiplier: float = 2.0


@dataclass(frozen=True)
class Settings:
    """Every knob of the server, with its default (fields are the camelCase keys, snake-cased)."""

    api_key: str | None = None
    """DeepSeek API key (env ``DEEPSEEK_API_KEY``). Never logged."""
    base_url: str = DEFAULT_BASE_URL
    """API root (env ``DEEPSEEK_BASE_URL``); FIM goes to ``{base_url}/beta/completions``."""
    model: str = DEFAULT_MODEL
    """FIM model id; checked once against ``GET /models``."""
    enabled: bool = True
    """Master switch for completions."""
    manual_only: bool = False
    """Complete only on invoked triggers (an explicit keypress), never while typing."""
    debounce_ms: int = 150
    """Quiet time after the latest change before an automatic request is sent."""
    max_tokens: int = 128
    """Completion length cap (FIM allows at most 4096)."""
    temperature: float = 0.0
    """Sampling temperature; 0.0 is DeepSeek's advice for code."""
    prefix_tokens: int = 3000
    """Token budget of the text before the cursor."""
    suffix_tokens: int = 600
    """Token budget of the text after the cursor (about 50 lines). Typing in front of the
    suffix makes it a cache miss on every request, so it is kept to a sixth of the window
    (Copilot keeps 15%, Continue 20%): the prompt-cache hit share stays above 80%."""
    request_timeout_ms: int = 8000
    """Overall time a completion may take; what arrived by then is used."""
    sliding_window: bool = False
    """Slide the prompt window with every keystroke like most clients do (for comparisons:
    it defeats DeepSeek's prefix cache, so it costs more)."""
    type_through: bool = True
    """Answer from the last suggestion while the user types it (no request)."""
    cache_size: int = 256
    """Number of answers kept in the completion cache (0 disables it)."""
    multiline: str = "auto"
    """``auto``, ``always`` or ``never``: when to suggest more than one line."""
    invoked_suggestions: int = 3
    """How many distinct suggestions an invoked trigger may return (1..3)."""
    cross_file: bool = True
    """Add snippets of other open documents to the prompt."""
    cross_file_tokens: int = 600
    """Token budget of those snippets."""
    repo_context: bool = True
    """Add the definitions the cursor uses from the files the current one imports (open or
    not, read from the workspace) and recent edits in other documents."""
    repo_context_tokens: int = 800
    """Token budget of the repository context (its own, not taken from ``prefix_tokens``)."""
    exclude: tuple[str, ...] = ()
    """Extra globs of files never sent; ``!pattern`` removes a built-in one."""
    chat_model: str = DEFAULT_MODEL
    """Model for code actions (chat endpoint)."""
    chat_thinking: bool = False
    """Let the chat model think before answering (slower, sometimes better)."""
    chat_max_tokens: int = 4096
    """Length cap of code action answers."""
    daily_token_budget: int = 0
    """Tokens per UTC day after which automatic completion pauses (0 = no cap)."""
    daily_cost_budget: float = 0.0
    """USD per UTC day after which automatic completion pauses (0 = no cap)."""
    prices: Prices = field(default_factory=Prices)
    """Price table used for cost figures."""
    log_level: str = "info"
    """``error``, ``warning``, ``info`` or ``debug``."""

    @property
    def fim_url(self) -> str:
        return self.base_url.rstrip("/") + "/beta/completions"

    def redacted(self) -> dict[str, Any]:
        """The settings as a dict safe to log."""
        data = dataclasses.asdict(self)
        data["api_key"] = "****" if self.api_key else None
        return data


# --- validation --------------------------------------------------------------------------------

Check = Callable[[Any], tuple[Any, str | None]]


def _int(lo: int, hi: int | None = None) -> Check:
    def check(v: Any) -> tuple[Any, str | None]:
        if isinstance(v, bool) or not isinstance(v, int | float) or (
            isinstance(v, float) and not v.is_integer()
        ):
            return None, f"expected a whole number, got {v!r}"
        v = int(v)
        if v < lo or (hi is not None and v > hi):
            return None, f"must be between {lo} and {hi}" if hi is not None else f"must be ≥ {lo}"
        return v, None

    return check


def _float(lo: float, hi: float | None = None) -> Check:
    def check(v: Any) -> tuple[Any, str | None]:
        if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
            return None, f"expected a number, got {v!r}"
        if v < lo or (hi is not None and v > hi):
            return None, f"must be between {lo} and {hi}" if hi is not None else f"must be ≥ {lo}"
        return float(v), None

    return check


def _bool(v: Any) -> tuple[Any, str | None]:
    if isinstance(v, bool):
        return v, None
    return None, f"expected true or false, got {v!r}"


def _str(nonempty: bool = True) -> Check:
    def check(v: Any) -> tuple[Any, str | None]:
        if not isinstance(v, str) or (nonempty and not v.strip()):
            return None, f"expected a non-empty string, got {type(v).__name__}"
        return v.strip(), None

    return check


def _key(v: Any) -> tuple[Any, str | None]:
    if v is None or v == "":
        return None, None
    if not isinstance(v, str):
        return None, "expected a string"
    if any(c.isspace() for c in v.strip()) or not v.strip().isprintable():
        return None, "contains spaces or control characters"
    return v.strip(), None


#: Path endings of the base URLs DeepSeek's docs show: ``/beta`` (the FIM guide) and ``/v1``
#: (the OpenAI-compatible form). The server adds ``/beta`` per endpoint itself, so either would
#: double a path segment (``/beta/beta/completions``, ``/v1/user/balance``) and 404.
_API_SUFFIXES = ("/beta", "/v1")
_told_roots: set[str] = set()


def api_root(url: str) -> str:
    """The API root of a base URL written as the docs write it: no trailing slash, no
    ``/beta`` or ``/v1`` ending (``https://api.deepseek.com/beta/`` → the bare host)."""
    root = url.strip().rstrip("/")
    for suffix in _API_SUFFIXES:
        if root.lower().endswith(suffix):
            root = root[: -len(suffix)].rstrip("/")
            break
    return root


def _url(v: Any) -> tuple[Any, str | None]:
    if not isinstance(v, str) or not v.strip().lower().startswith(("http://", "https://")) \
            or not urlsplit(v.strip()).hostname:
        return None, "expected an http:// or https:// URL"
    root = api_root(v)
    if root != v.strip().rstrip("/") and v not in _told_roots:
        _told_roots.add(v)  # said once per value: settings are parsed again on every change
        log.info("baseUrl %s: using the API root %s (the /beta and /v1 paths are added per "
                 "endpoint)", v.strip(), root)
    return root, None


def _choice(*options: str) -> Check:
    def check(v: Any) -> tuple[Any, str | None]:
        if v not in options:
            return None, f"expected one of {', '.join(options)}, got {v!r}"
        return v, None

    return check


def _globs(v: Any) -> tuple[Any, str | None]:
    if not isinstance(v, list | tuple) or not all(isinstance(p, str) and p for p in v):
        return None, "expected a list of glob strings"
    return tuple(v), None


_PRICE_KEYS = {"cacheHit": "cache_hit", "cacheMiss": "cache_miss", "output": "output",
               "peakMultiplier": "peak_multiplier"}


def _prices(v: Any) -> tuple[Any, str | None]:
    if not isinstance(v, Mapping):
        return None, "expected an object with cacheHit, cacheMiss, output, peakMultiplier"
    values: dict[str, float] = {}
    for key, val in v.items():
        if key not in _PRICE_KEYS:
            return None, f"unknown price {key!r}"
        if isinstance(val, bool) or not isinstance(val, int | float) or val < 0:
            return None, f"price {key!r} must be a number ≥ 0"
        values[_PRICE_KEYS[key]] = float(val)
    return Prices(**values), None


_FIELDS: dict[str, tuple[str, Check]] = {
    "apiKey": ("api_key", _key),
    "baseUrl": ("base_url", _url),
    "model": ("model", _str()),
    "enabled": ("enabled", _bool),
    "manualOnly": ("manual_only", _bool),
    "debounceMs": ("debounce_ms", _int(0, 5000)),
    "maxTokens": ("max_tokens", _int(1, FIM_MAX_TOKENS)),
    "temperature": ("temperature", _float(0.0, 2.0)),
    "prefixTokens": ("prefix_tokens", _int(16, 100_000)),
    "suffixTokens": ("suffix_tokens", _int(0, 100_000)),
    "requestTimeoutMs": ("request_timeout_ms", _int(100, 120_000)),
    "slidingWindow": ("sliding_window", _bool),
    "typeThrough": ("type_through", _bool),
    "cacheSize": ("cache_size", _int(0, 100_000)),
    "multiline": ("multiline", _choice("auto", "always", "never")),
    "invokedSuggestions": ("invoked_suggestions", _int(1, 3)),
    "crossFile": ("cross_file", _bool),
    "crossFileTokens": ("cross_file_tokens", _int(0, 20_000)),
    "repoContext": ("repo_context", _bool),
    "repoContextTokens": ("repo_context_tokens", _int(0, 20_000)),
    "exclude": ("exclude", _globs),
    "chatModel": ("chat_model", _str()),
    "chatThinking": ("chat_thinking", _bool),
    "chatMaxTokens": ("chat_max_tokens", _int(1, 384_000)),
    "dailyTokenBudget": ("daily_token_budget", _int(0)),
    "dailyCostBudget": ("daily_cost_budget", _float(0.0)),
    "prices": ("prices", _prices),
    "logLevel": ("log_level", _choice("error", "warning", "info", "debug")),
}
KEYS = tuple(_FIELDS)
_BY_ATTR = {attr: key for key, (attr, _) in _FIELDS.items()}


def unwrap(raw: Any) -> Any:
    """Accept both ``{...settings}`` and ``{"deepseekFim": {...settings}}``."""
    if isinstance(raw, Mapping) and isinstance(raw.get(SECTION), Mapping):
        return raw[SECTION]
    return raw


def parse(raw: Any, base: Settings | None = None) -> tuple[Settings, list[str]]:
    """Overlay ``raw`` (camelCase keys) on ``base``; return new settings and the problems found.

    ``None`` values mean "not set here" and keep the base value. Unknown keys are reported.
    """
    base = base or Settings()
    raw = unwrap(raw)
    if raw is None:
        return base, []
    if not isinstance(raw, Mapping):
        return base, [f"settings: expected an object, got {type(raw).__name__}; ignored"]
    changes: dict[str, Any] = {}
    problems: list[str] = []
    for key, value in raw.items():
        if key not in _FIELDS:
            if key != SECTION:
                problems.append(f"{SECTION}.{key}: unknown setting, ignored")
            continue
        if value is None:
            continue
        attr, check = _FIELDS[key]
        parsed, problem = check(value)
        if problem:
            default = getattr(Settings(), attr)
            shown = "(hidden)" if attr == "api_key" else repr(getattr(base, attr, default))
            problems.append(f"{SECTION}.{key}: {problem}; using {shown}")
            continue
        changes[attr] = parsed
    return dataclasses.replace(base, **changes), problems


def from_env(env: Mapping[str, str], base: Settings | None = None) -> tuple[Settings, list[str]]:
    """Read ``DEEPSEEK_API_KEY`` and ``DEEPSEEK_BASE_URL``."""
    raw: dict[str, Any] = {}
    if env.get("DEEPSEEK_API_KEY"):
        raw["apiKey"] = env["DEEPSEEK_API_KEY"]
    if env.get("DEEPSEEK_BASE_URL"):
        raw["baseUrl"] = env["DEEPSEEK_BASE_URL"]
    settings, problems = parse(raw, base)
    return settings, [p.replace(f"{SECTION}.apiKey", "DEEPSEEK_API_KEY")
                      .replace(f"{SECTION}.baseUrl", "DEEPSEEK_BASE_URL") for p in problems]


def to_raw(settings: Settings) -> dict[str, Any]:
    """The camelCase form of ``settings`` (for clients and docs); the key is left out."""
    out: dict[str, Any] = {}
    for attr, key in _BY_ATTR.items():
        if attr == "api_key":
            continue
        value = getattr(settings, attr)
        if isinstance(value, Prices):
            value = {k: getattr(value, a) for k, a in _PRICE_KEYS.items()}
        elif isinstance(value, tuple):
            value = list(value)
        out[key] = value
    return out
