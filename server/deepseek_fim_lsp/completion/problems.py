"""What the user is told, and when automatic requests pause: one message per problem kind
until it clears, and a jittered exponential back-off after retryable failures."""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field

from ..errors import DeepSeekError
from .types import EngineListener


@dataclass
class Backoff:
    delay_s: float = 0.0
    until: float = 0.0

    def hit(self) -> None:
        self.delay_s = min(30.0, max(1.0, self.delay_s * 2))
        self.until = time.monotonic() + self.delay_s * random.uniform(0.8, 1.2)

    def clear(self) -> None:
        self.delay_s, self.until = 0.0, 0.0

    @property
    def active(self) -> bool:
        return time.monotonic() < self.until


@dataclass
class Problems:
    """Which problem kinds the user has been told about, so each is told once until it clears."""

    shown: set[str] = field(default_factory=set)
    last: DeepSeekError | None = None

    def report(self, err: DeepSeekError, listener: EngineListener) -> None:
        self.last = err
        if err.kind not in self.shown:
            self.shown.add(err.kind)
            listener.problem(err)

    def clear(self) -> None:
        self.shown.clear()
