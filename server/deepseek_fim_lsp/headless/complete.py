"""``deepseek-fim-lsp complete``: completion for scripts and terminals.

The exit status says what happened (see :mod:`.exit_codes`); messages go to stderr, results to
stdout. Files and the cursor are in :mod:`.textfile`, settings in :mod:`.settings`, ``check``
in :mod:`.check` and ``--batch`` in :mod:`.batch`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence

from ..completion.types import CompletionRequest
from ..config import Settings
from ..errors import DeepSeekError, MissingKeyError
from ..log import setup_logging
from .api import (
    CompletionOutcome,
    InputError,
    guess_language,
    make_engine,
    outcome_json,
    outcome_of,
    run_once,
    uri_for,
    with_retries,
)
from .exit_codes import (
    ATTEMPTS,
    EXIT_CODES,
    EXIT_EMPTY,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    PROG,
    exit_code,
    plain,
    retry_delay_s,
    say,
)
from .settings import add_settings_flags, load_settings
from .textfile import Target, apply_completion, resolve_target

# --- complete ------------------------------------------------------------------------------------


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


def write_stdout(text: str) -> None:
    sys.stdout.buffer.write(text.encode("utf-8"))
    sys.stdout.buffer.flush()


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
        target = resolve_target(ns.target, line=ns.line, column=ns.column, marker=ns.marker,
                                encoding=ns.encoding)
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
    if ns.apply and outcome.text:
        try:
            apply_completion(target, outcome.text, outcome.replace)
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
