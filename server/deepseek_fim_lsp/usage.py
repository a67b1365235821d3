"""Token accounting, cost, daily budgets and the figures behind ``deepseekFim/stats``.

Totals are kept for the session and for the current UTC day; the day's totals persist in a small
JSON file in the state directory so that a daily budget survives editor restarts.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .config import Prices, Settings

log = logging.getLogger(__name__)
_SAVE_EVERY_S = 2.0


@dataclass(frozen=True)
class Usage:
    """Token counts of one response. ``estimated`` when the stream was closed before its usage."""

    cache_hit_tokens: int = 0
    cache_miss_tokens: int = 0
    completion_tokens: int = 0
    estimated: bool = False

    @property
    def prompt_tokens(self) -> int:
        return self.cache_hit_tokens + self.cache_miss_tokens


def state_dir() -> Path:
    """Where per-day usage is kept: ``$DEEPSEEK_FIM_STATE_DIR`` or the XDG state directory."""
    if os.environ.get("DEEPSEEK_FIM_STATE_DIR"):
        return Path(os.environ["DEEPSEEK_FIM_STATE_DIR"])
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local",
                                                            "state")
    return Path(base) / "deepseek-fim-lsp"


def is_peak(now: datetime) -> bool:
    """DeepSeek's peak hours: weekdays 01:00–04:00 and 06:00–10:00 UTC."""
    now = now.astimezone(UTC)
    return now.weekday() < 5 and (1 <= now.hour < 4 or 6 <= now.hour < 10)


def cost_usd(usage: Usage, prices: Prices, now: datetime | None = None) -> float:
    factor = prices.peak_multiplier if is_peak(now or datetime.now(UTC)) else 1.0
    return factor * (
        usage.cache_hit_tokens * prices.cache_hit
        + usage.cache_miss_tokens * prices.cache_miss
        + usage.completion_tokens * prices.output
    ) / 1_000_000


@dataclass
class Totals:
    requests: int = 0
    suggestionsShown: int = 0  # noqa: N815 - wire names
    accepted: int = 0
    cacheHitTokens: int = 0  # noqa: N815
    cacheMissTokens: int = 0  # noqa: N815
    completionTokens: int = 0  # noqa: N815
    costUsd: float = 0.0  # noqa: N815
    typeThroughHits: int = 0  # noqa: N815
    cacheHits: int = 0  # noqa: N815
    chatRequests: int = 0  # noqa: N815

    def add_usage(self, usage: Usage, cost: float) -> None:
        self.cacheHitTokens += usage.cache_hit_tokens
        self.cacheMissTokens += usage.cache_miss_tokens
        self.completionTokens += usage.completion_tokens
        self.costUsd += cost

    @property
    def tokens(self) -> int:
        return self.cacheHitTokens + self.cacheMissTokens + self.completionTokens

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = asdict(self)
        prompt = self.cacheHitTokens + self.cacheMissTokens
        data["cacheHitRatio"] = round(self.cacheHitTokens / prompt, 4) if prompt else 0.0
        data["acceptanceRate"] = (
            round(self.accepted / self.suggestionsShown, 4) if self.suggestionsShown else 0.0
        )
        data["costUsd"] = round(self.costUsd, 6)
        return data

    @classmethod
    def from_dict(cls, data: Any) -> Totals:
        t = cls()
        if isinstance(data, dict):
            for f in fields(cls):
                v = data.get(f.name)
                if isinstance(v, int | float) and not isinstance(v, bool):
                    setattr(t, f.name, type(getattr(t, f.name))(v))
        return t


class UsageLedger:
    def __init__(self, *, persist: bool = True) -> None:
        self.session = Totals()
        self._persist = persist
        self._lock = threading.Lock()
        self._day = self._today()
        self.today = self._load(self._day)
        self._saved_at = 0.0
        self._dirty = False

    @staticmethod
    def _today() -> str:
        return datetime.now(UTC).strftime("%Y-%m-%d")

    def _path(self, day: str) -> Path:
        return state_dir() / f"usage-{day}.json"

    def _load(self, day: str) -> Totals:
        if not self._persist:
            return Totals()
        try:
            return Totals.from_dict(json.loads(self._path(day).read_text("utf-8")))
        except (OSError, ValueError):
            return Totals()

    def _save(self, force: bool = False) -> None:
        """Write today's totals, at most every couple of seconds (a file write per completion
        would sit on the hot path); :meth:`flush` writes whatever is pending."""
        if not self._persist:
            return
        now = time.monotonic()
        if not force and now - self._saved_at < _SAVE_EVERY_S:
            self._dirty = True
            return
        self._saved_at, self._dirty = now, False
        try:
            path = self._path(self._day)
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            tmp.write_text(json.dumps(asdict(self.today)), "utf-8")
            tmp.replace(path)
        except OSError as exc:
            log.debug("could not save usage: %s", exc)

    def flush(self) -> None:
        with self._lock:
            if self._dirty:
                self._save(force=True)

    def _roll(self) -> None:
        day = self._today()
        if day != self._day:
            if self._dirty:
                self._save(force=True)
            self._day = day
            self.today = self._load(day)

    def _both(self) -> tuple[Totals, Totals]:
        self._roll()
        return self.session, self.today

    def record(self, usage: Usage | None, prices: Prices, *, chat: bool = False) -> float:
        """Count one backend response; return its cost in USD."""
        cost = cost_usd(usage, prices) if usage else 0.0
        with self._lock:
            for t in self._both():
                if chat:
                    t.chatRequests += 1
                else:
                    t.requests += 1
                if usage:
                    t.add_usage(usage, cost)
            self._save()
        return cost

    def count(self, name: str, n: int = 1) -> None:
        """Bump a counter such as ``suggestionsShown``, ``accepted`` or ``cacheHits``."""
        with self._lock:
            for t in self._both():
                setattr(t, name, getattr(t, name) + n)
            if name == "accepted":
                self._save(force=True)

    def over_budget(self, settings: Settings) -> str | None:
        """A plain-words reason when today's spend passed a configured cap, else None."""
        with self._lock:
            self._roll()
            today = self.today
        if settings.daily_token_budget and today.tokens >= settings.daily_token_budget:
            return (f"today's token budget ({settings.daily_token_budget:,} tokens) is used up; "
                    "automatic completion is paused until tomorrow (UTC). Invoked completion "
                    "still works; raise `deepseekFim.dailyTokenBudget` to continue.")
        if settings.daily_cost_budget and today.costUsd >= settings.daily_cost_budget:
            return (f"today's cost budget (${settings.daily_cost_budget:.2f}) is used up; "
                    "automatic completion is paused until tomorrow (UTC). Invoked completion "
                    "still works; raise `deepseekFim.dailyCostBudget` to continue.")
        return None
