"""``deepseek-fim-lsp check``: the key, the balance, the model and one small completion."""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Sequence

from ..backends.base import FimRequest
from ..backends.deepseek import DeepSeekBackend
from ..config import Settings
from ..errors import AuthError, BalanceError, DeepSeekError, UnreachableError
from ..log import setup_logging
from .api import SettingsError
from .exit_codes import (
    EXIT_BACKEND,
    EXIT_INTERRUPTED,
    EXIT_KEY,
    EXIT_OK,
    EXIT_USAGE,
    PROG,
    exit_code,
    plain,
    say,
)
from .settings import add_settings_flags, load_settings


def mask(key: str) -> str:
    return "****" + key[-4:] if len(key) >= 8 else "****"

def check_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=f"{PROG} check",
        description="Check the API key, the balance, the model and one small completion.",
        epilog="exit status: 0 all good, 2 bad settings, 3 key or balance problem, "
               "4 backend unreachable or failing (or the model is not offered)")
    add_settings_flags(p)
    return p


async def _check(settings: Settings, lines: list[str]) -> int:
    ok, bad = "✓", "✗"
    key = settings.api_key
    lines.append(f"  API: {settings.base_url}  model: {settings.model}")
    if not key:
        lines.append(f"{bad} no API key: set DEEPSEEK_API_KEY (or apiKey in the config file); "
                     "create one at https://platform.deepseek.com/api_keys")
        return EXIT_KEY
    lines.append(f"{ok} API key set ({mask(key)})")
    backend = DeepSeekBackend(settings.base_url, key,
                              timeout_s=settings.request_timeout_ms / 1000)
    status = EXIT_OK
    try:
        try:
            balance = await backend.balance()
        except DeepSeekError as err:
            if isinstance(err, AuthError):
                lines.append(f"{bad} key rejected (HTTP 401): check DEEPSEEK_API_KEY")
                return EXIT_KEY
            if isinstance(err, BalanceError):
                lines.append(f"{bad} balance exhausted (HTTP 402): top up at "
                             "https://platform.deepseek.com/top_up")
                return EXIT_KEY
            lines.append(f"{bad} balance check failed: {plain(err)}")
            return exit_code(err)
        shown = ", ".join(f"{total} {cur}" for cur, total in balance.infos) or "unknown"
        if balance.available:
            lines.append(f"{ok} key accepted; balance: {shown}")
        else:
            lines.append(f"{bad} key accepted, but the balance is not available ({shown}): top "
                         "up at https://platform.deepseek.com/top_up")
            status = EXIT_KEY
        try:
            offered = await backend.models()
        except DeepSeekError as err:
            lines.append(f"{bad} model list failed: {plain(err)}")
            return status or exit_code(err)
        if settings.model in offered:
            lines.append(f"{ok} model {settings.model} is offered")
        else:
            lines.append(f"{bad} model {settings.model} is not offered; offered: "
                         f"{', '.join(offered) or 'none'} (set `model`)")
            return status or EXIT_BACKEND
        started = time.perf_counter()
        try:
            async with asyncio.timeout(settings.request_timeout_ms / 1000):
                await backend.fim(FimRequest(settings.model, "def add(a, b):\n    return ",
                                             "\n", 8, 0.0))
        except TimeoutError:
            err2: DeepSeekError = UnreachableError(
                settings.base_url, f"no answer within {settings.request_timeout_ms} ms")
            lines.append(f"{bad} completion failed: {plain(err2)}")
            return status or EXIT_BACKEND
        except DeepSeekError as err:
            lines.append(f"{bad} completion failed: {plain(err)}")
            return status or exit_code(err)
        ms = (time.perf_counter() - started) * 1000
        lines.append(f"{ok} FIM completion answered in {ms:.0f} ms")
        return status
    finally:
        await backend.aclose()


def check_main(argv: Sequence[str]) -> int:
    ns = check_parser().parse_args(argv)
    setup_logging(ns.log_level)
    try:
        settings = load_settings(ns)
    except SettingsError as err:
        say(f"{PROG}: {plain(err)}")
        return EXIT_USAGE
    lines: list[str] = [f"{PROG} check"]
    try:
        status = asyncio.run(_check(settings, lines))
    except KeyboardInterrupt:
        status = EXIT_INTERRUPTED
        lines.append("interrupted")
    if status == EXIT_OK:
        lines.append("all good")
    print("\n".join(lines), flush=True)
    return status

