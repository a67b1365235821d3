"""Settings for ``complete`` and ``check``: the TOML config file, the environment and the flags.

Lowest first: defaults (:data:`~.api.SCRIPT_DEFAULTS`), the config file, the environment, flags.
Unlike the language server, a script stops on a bad value: :class:`~.api.SettingsError` lists
every problem, naming the key and where it came from.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..config import SECTION, Settings, from_env, parse
from ..log import register_secret
from .api import SCRIPT_DEFAULTS, SettingsError, camel, clean_problem


def add_settings_flags(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("settings (override the config file and the environment)")
    g.add_argument("--config", metavar="FILE", help="TOML config file (default: "
                   "$XDG_CONFIG_HOME/deepseek-fim-lsp/config.toml)")
    g.add_argument("--model", help="FIM model id")
    g.add_argument("--max-tokens", type=int, metavar="N", help="completion length cap (1..4096)")
    g.add_argument("--temperature", type=float, metavar="T", help="sampling temperature (0..2)")
    g.add_argument("--base-url", metavar="URL", help="API root (env DEEPSEEK_BASE_URL)")
    g.add_argument("--timeout-ms", type=int, metavar="MS", help="overall request timeout")
    g.add_argument("--multiline", choices=["auto", "always", "never"],
                   help="when to suggest more than one line")
    g.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="any setting by its camelCase key; VALUE is JSON (plain text is taken "
                        "as a string), e.g. --set prefixTokens=2000 --set 'exclude=[\"*.lock\"]'")
    p.add_argument("--log-level", choices=["error", "warning", "info", "debug"], default="error",
                   help="stderr log level (default: error)")


def config_path(explicit: str | None, env: Mapping[str, str]) -> tuple[Path, bool]:
    """The config file to read, and whether it was asked for (then it must exist)."""
    if explicit:
        return Path(explicit).expanduser(), True
    base = env.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "deepseek-fim-lsp" / "config.toml", False


def read_config(path: Path, required: bool) -> dict[str, Any]:
    """The settings in a TOML file: camelCase keys at top level and/or under ``[deepseekFim]``."""
    try:
        with path.open("rb") as f:
            data = tomllib.load(f)
    except FileNotFoundError:
        if required:
            raise SettingsError([f"config file {path} does not exist"]) from None
        return {}
    except OSError as exc:
        raise SettingsError([f"cannot read config file {path}: {exc.strerror}"]) from None
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError([f"config file {path} is not valid TOML: {exc}"]) from None
    raw = {k: v for k, v in data.items() if k != SECTION}
    section = data.get(SECTION)
    if section is not None and not isinstance(section, dict):
        raise SettingsError([f"{path}: [{SECTION}] must be a table"])
    raw.update(section or {})
    return raw


def flag_settings(ns: argparse.Namespace) -> dict[str, Any]:
    raw: dict[str, Any] = {}
    for flag, key in (("model", "model"), ("max_tokens", "maxTokens"),
                      ("temperature", "temperature"), ("base_url", "baseUrl"),
                      ("timeout_ms", "requestTimeoutMs"), ("multiline", "multiline")):
        value = getattr(ns, flag, None)
        if value is not None:
            raw[key] = value
    for item in ns.set:
        key, eq, text = item.partition("=")
        if not eq or not key.strip():
            raise SettingsError([f"--set {item!r}: expected KEY=VALUE"])
        try:
            value = json.loads(text)
        except ValueError:
            value = text
        raw[camel(key.strip())] = value
    return raw


def load_settings(ns: argparse.Namespace, env: Mapping[str, str] | None = None) -> Settings:
    """Defaults < config file < environment < flags; SettingsError lists every problem."""
    env = os.environ if env is None else env
    problems: list[str] = []
    path, required = config_path(ns.config, env)
    settings, found = parse({camel(k): v for k, v in read_config(path, required).items()},
                            SCRIPT_DEFAULTS)
    problems += [f"{path}: {clean_problem(p)}" for p in found]
    settings, found = from_env(env, settings)
    problems += [clean_problem(p) for p in found]
    settings, found = parse(flag_settings(ns), settings)
    problems += [re.sub(r"^(\w+):", r"\1 (command line):", clean_problem(p))
                 for p in found]
    if problems:
        raise SettingsError(problems)
    register_secret(settings.api_key)
    return settings

