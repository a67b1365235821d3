"""The debug line of one completion request, as the LSP and CLI tests read it: its pattern, and
the check that it carries no code text, path or key."""

from __future__ import annotations

import re

from conftest import TEST_KEY

CODE = "TOKEN_SENTINEL_VALUE = compute_something_private(\n"
LINE = re.compile(
    r"completion doc=(?P<doc>\S+) trigger=(?P<trigger>\w+) decision=(?P<decision>\w+) "
    r"prompt_tokens=(?P<prompt>\d+|-) suffix_tokens=(?P<suffix>\d+|-) "
    r"cache_hit_tokens=(?P<hit>\d+|-) items=(?P<items>\d+) latency_ms=(?P<ms>\d+)")


def lines_in(text: str) -> list[re.Match[str]]:
    return [m for m in map(LINE.search, text.splitlines()) if m]


def assert_clean(text: str) -> None:
    for secret in ("TOKEN_SENTINEL", "compute_something", "private", "/work/some/dir",
                   "secret_module.py:", TEST_KEY, "a_b_c_d"):
        assert secret not in text.replace("doc=secret_module.py", ""), secret
