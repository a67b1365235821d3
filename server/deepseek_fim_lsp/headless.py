"""``deepseek-fim-lsp complete`` and ``check``: completion and a doctor for scripts and terminals.

Settings come from, lowest first: defaults, the config file (TOML), the environment, flags. The
exit status says what happened (see :data:`EXIT_CODES`); messages go to stderr, results to stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import codecs
import json
import os
import re
import sys
import tempfile
import time
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .api import (
    SCRIPT_DEFAULTS,
    CompletionOutcome,
    InputError,
    SettingsError,
    camel,
    clean_problem,
    guess_language,
    make_engine,
    offset_of,
    outcome_of,
    position_of,
    run_once,
    uri_for,
    with_retries,
)
from .backends.base import FimRequest
from .backends.deepseek import DeepSeekBackend
from .config import SECTION, Settings, from_env, parse
from .engine import CompletionRequest
from .errors import (
    AuthError,
    BalanceError,
    DeepSeekError,
    MissingKeyError,
    UnreachableError,
)
from .log import register_secret, setup_logging

EXIT_OK, EXIT_EMPTY, EXIT_USAGE, EXIT_KEY, EXIT_BACKEND = 0, 1, 2, 3, 4
EXIT_INTERRUPTED = 130
EXIT_CODES = {
    EXIT_OK: "done",
    EXIT_EMPTY: "nothing to suggest",
    EXIT_USAGE: "usage error: bad arguments or settings, missing or unreadable file, position "
                "out of range, binary or excluded file",
    EXIT_KEY: "API key or balance problem: no key (DEEPSEEK_API_KEY), key rejected (401), "
              "balance exhausted (402)",
    EXIT_BACKEND: "backend unreachable or failing: timeout, refused connection, 5xx, 429 after "
                  "retries, model not offered",
    EXIT_INTERRUPTED: "interrupted (Ctrl-C)",
    141: "batch: stdout was closed by the reader (e.g. | head)",
}
PROG = "deepseek-fim-lsp"


def exit_code(err: DeepSeekError) -> int:
    if isinstance(err, InputError | SettingsError):
        return EXIT_USAGE
    if isinstance(err, MissingKeyError | AuthError | BalanceError):
        return EXIT_KEY
    return EXIT_BACKEND


def retry_delay_s() -> float:
    """Base of the retry backoff (0.5 s; ``DEEPSEEK_FIM_RETRY_BASE_MS`` changes it, for tests)."""
    try:
        return max(0.0, float(os.environ.get("DEEPSEEK_FIM_RETRY_BASE_MS", "500")) / 1000)
    except ValueError:
        return 0.5


ATTEMPTS = 3


def plain(err: DeepSeekError) -> str:
    """The error's message for a script: no editor-oriented lead-in, no promise to retry."""
    text = err.user_message.removeprefix("DeepSeek FIM: ")
    if err.retryable:
        text = text.replace("backing off and retrying shortly", f"gave up after {ATTEMPTS} "
                            "attempts")
    return text


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- settings ----------------------------------------------------------------------------------


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


def mask(key: str) -> str:
    return "****" + key[-4:] if len(key) >= 8 else "****"


# --- files ---------------------------------------------------------------------------------------

_BOMS = (  # longest first: the UTF-32-LE BOM starts with the UTF-16-LE one
    (codecs.BOM_UTF32_LE, "utf-32-le"), (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)


@dataclass(frozen=True)
class TextFile:
    """A file read for completion, with what it takes to write it back byte-faithfully."""

    path: Path
    text: str
    codec: str
    bom: bytes
    stat: os.stat_result

    def encode(self, text: str) -> bytes:
        try:
            return self.bom + text.encode(self.codec)
        except UnicodeEncodeError as exc:
            raise InputError(f"{self.path}: the completion cannot be written in {self.codec} "
                             f"({exc.reason}); the file was not changed") from None

    @property
    def eol(self) -> str:
        """The file's line break (its most common one), for inserted text."""
        crlf = self.text.count("\r\n")
        lf = self.text.count("\n") - crlf
        cr = self.text.count("\r") - crlf
        if crlf > max(lf, cr):
            return "\r\n"
        return "\r" if cr > lf else "\n"


def decode(data: bytes, name: str, encoding: str | None) -> tuple[str, str, bytes]:
    """Text, codec and BOM of ``data``; InputError for binary or undecodable data."""
    bom, codec = b"", encoding
    if codec is None:
        for mark, name_ in _BOMS:
            if data.startswith(mark):
                bom, codec = mark, name_
                break
    if codec is None:
        if b"\x00" in data:
            raise InputError(f"{name} looks like a binary file (it contains NUL bytes); "
                             "nothing was sent")
        codec = "utf-8"
    try:
        text = data[len(bom):].decode(codec)
    except (UnicodeDecodeError, LookupError) as exc:
        hint = "" if encoding else "; if it is text in another encoding, pass --encoding " \
                                   "(e.g. --encoding latin-1)"
        raise InputError(f"{name} is not valid {codec} text ({exc}){hint}") from None
    if "\x00" in text:
        raise InputError(f"{name} looks like a binary file (it contains NUL characters); "
                         "nothing was sent")
    return text, codec, bom


def read_text_file(name: str, encoding: str | None = None) -> TextFile:
    path = Path(name)
    try:
        real = Path(os.path.realpath(path))
        with real.open("rb") as f:
            st = os.fstat(f.fileno())
            data = f.read()
    except FileNotFoundError:
        raise InputError(f"{name}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{name} is a directory, not a file") from None
    except OSError as exc:
        raise InputError(f"cannot read {name}: {exc.strerror or exc}") from None
    text, codec, bom = decode(data, name, encoding)
    return TextFile(real, text, codec, bom, st)


def write_atomic(file: TextFile, data: bytes) -> None:
    """Replace the file's content: temp file in the same directory, fsync, rename.

    Readers see the old or the new file, never a half-written one; the mode is kept. Refuses when
    the file changed since it was read (someone else's edit would be lost).
    """
    path = file.path
    try:
        now = os.stat(path)
    except OSError as exc:
        raise InputError(f"{path}: {exc.strerror}; the file was not changed") from None
    if (now.st_mtime_ns, now.st_size, now.st_ino) != (
        file.stat.st_mtime_ns, file.stat.st_size, file.stat.st_ino
    ):
        raise InputError(f"{path} changed while completing; the file was not changed")
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fchmod(f.fileno(), file.stat.st_mode & 0o7777)
            if hasattr(os, "fchown"):
                try:
                    os.fchown(f.fileno(), file.stat.st_uid, file.stat.st_gid)
                except OSError:
                    pass  # not allowed to give it away: it stays ours, like any editor save
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(exc, OSError):
            raise InputError(f"cannot write {path}: {exc.strerror}; the file was not changed") \
                from None
        raise
    try:  # make the rename itself durable
        dfd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except OSError:
        pass


# --- complete ------------------------------------------------------------------------------------

_TARGET = re.compile(r"^(?P<file>.+):(?P<line>\d+):(?P<col>\d+)$")


def complete_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=f"{PROG} complete",
        description="Print the completion at a position (LINE and COL 1-based, COL in "
                    "characters, as compilers print them).",
        epilog="exit status:\n" + "\n".join(f"  {c:>3}  {m}" for c, m in EXIT_CODES.items()),
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("target", nargs="?", metavar="FILE:LINE:COL | FILE | -",
                   help="where to complete; '-' reads the document from stdin")
    p.add_argument("--line", type=int, metavar="N", help="1-based line (with FILE or -)")
    p.add_argument("--column", "--col", type=int, metavar="N",
                   help="1-based column in characters (with FILE or -)")
    p.add_argument("--marker", metavar="TEXT",
                   help="the cursor is where TEXT occurs (once); TEXT is removed before sending")
    p.add_argument("--language", metavar="ID", help="language id (default: from the extension)")
    p.add_argument("--encoding", metavar="CODEC",
                   help="file encoding (default: from the BOM, else UTF-8)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--apply", action="store_true",
                   help="insert the completion into FILE (atomic; keeps mode, encoding, EOLs)")
    p.add_argument("--batch", metavar="FILE.jsonl",
                   help="run many requests (JSON lines; '-' = stdin); one result line each")
    p.add_argument("--concurrency", type=int, default=8, metavar="N",
                   help="batch requests in flight at once (1..32, default 8)")
    add_settings_flags(p)
    return p


def outcome_json(outcome: CompletionOutcome, text: str, offset: int) -> dict[str, Any]:
    """The JSON form of a result: 0-based range (characters = code points) and figures."""
    line, char = position_of(text, offset)
    u = outcome.usage
    return {
        "text": outcome.text,
        "range": {"start": {"line": line, "character": char},
                  "end": {"line": line, "character": char + outcome.replace}},
        "replace": outcome.replace,
        "model": outcome.model,
        "usage": {"cacheHitTokens": u.cache_hit_tokens, "cacheMissTokens": u.cache_miss_tokens,
                  "completionTokens": u.completion_tokens},
        "cost": round(outcome.cost_usd, 8),
        "cached": outcome.cached,
        "latency_ms": round(outcome.latency_ms, 1),
    }


def write_stdout(text: str) -> None:
    sys.stdout.buffer.write(text.encode("utf-8"))
    sys.stdout.buffer.flush()


@dataclass(frozen=True)
class Target:
    text: str
    offset: int
    file: TextFile | None
    name: str | None


def resolve_target(ns: argparse.Namespace) -> Target:
    target: str | None = ns.target
    if target is None:
        raise InputError("nothing to complete: give FILE:LINE:COL, FILE with --line/--column, "
                         "or - (stdin) with --marker or --line/--column")
    line, col = ns.line, ns.column
    name: str | None = None
    file: TextFile | None = None
    if target == "-":
        text, _codec, _bom = decode(sys.stdin.buffer.read(), "stdin", ns.encoding)
    else:
        m = _TARGET.match(target)
        if m and not Path(target).exists():
            if line is not None or col is not None:
                raise InputError("give the position either in FILE:LINE:COL or with "
                                 "--line/--column, not both")
            name, line, col = m["file"], int(m["line"]), int(m["col"])
        else:
            name = target
        file = read_text_file(name, ns.encoding)
        text = file.text
    if ns.marker is not None:
        if line is not None or col is not None:
            raise InputError("give the cursor either with --marker or with a line and column")
        if not ns.marker:
            raise InputError("--marker must not be empty")
        count = text.count(ns.marker)
        if count != 1:
            raise InputError(f"the marker {ns.marker!r} occurs {count} times; it must occur "
                             "exactly once")
        offset = text.index(ns.marker)
        text = text.replace(ns.marker, "", 1)
    elif line is None or col is None:
        raise InputError("give the cursor: FILE:LINE:COL, --line and --column, or --marker")
    else:
        offset = offset_of(text, line, col, name or "stdin")
    return Target(text, offset, file, name)


def complete_main(argv: Sequence[str]) -> int:
    ns = complete_parser().parse_args(argv)
    setup_logging(ns.log_level)
    try:
        settings = load_settings(ns)
        if ns.batch is not None:
            if ns.target is not None or ns.apply or ns.marker is not None:
                raise InputError("--batch takes its requests from the file; no FILE, --apply "
                                 "or --marker")
            if not 1 <= ns.concurrency <= 32:
                raise InputError("--concurrency must be between 1 and 32")
            from .batch import run_batch

            return run_batch(ns.batch, settings, concurrency=ns.concurrency)
        if ns.apply and (ns.target in (None, "-")):
            raise InputError("--apply needs a FILE (not stdin)")
        target = resolve_target(ns)
        if not settings.api_key:
            raise MissingKeyError()
        outcome = asyncio.run(_complete_one(target, settings, ns.language))
    except DeepSeekError as err:
        say(f"{PROG}: {plain(err)}")
        return exit_code(err)
    except KeyboardInterrupt:
        say(f"{PROG}: interrupted")
        return EXIT_INTERRUPTED
    applied = False
    if ns.apply and outcome.text and target.file is not None:
        file = target.file
        insert = re.sub(r"\r\n|\r|\n", file.eol, outcome.text)
        new = target.text[:target.offset] + insert + target.text[target.offset + outcome.replace:]
        try:
            write_atomic(file, file.encode(new))
        except InputError as err:
            say(f"{PROG}: {plain(err)}")
            return EXIT_USAGE
        applied = True
    if ns.json:
        data = outcome_json(outcome, target.text, target.offset)
        if ns.apply:
            data["applied"] = applied
        write_stdout(json.dumps(data, ensure_ascii=False) + "\n")
    else:
        write_stdout(outcome.text)
    return EXIT_OK if outcome.text else EXIT_EMPTY


async def _complete_one(target: Target, settings: Settings,
                        language: str | None) -> CompletionOutcome:
    engine = make_engine(settings)
    req = CompletionRequest(uri_for(target.name), target.text, target.offset,
                            language_id=language or guess_language(target.name), invoked=True)
    try:
        return outcome_of(await with_retries(lambda: run_once(engine, req), attempts=ATTEMPTS,
                                             base_delay_s=retry_delay_s()))
    finally:
        await engine.aclose()


# --- check ---------------------------------------------------------------------------------------


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


def main(command: str, argv: Sequence[str]) -> int:
    """Entry point from :mod:`.cli` for ``complete`` and ``check``."""
    if command == "check":
        return check_main(argv)
    return complete_main(argv)

