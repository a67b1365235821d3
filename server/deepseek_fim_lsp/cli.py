"""Command line: ``serve`` (default, LSP over stdio), ``complete``, ``check``, ``emulate``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from .version import __version__

USAGE = """\
deepseek-fim-lsp [serve]                 speak LSP over stdio (what editors start)
deepseek-fim-lsp complete FILE:LINE:COL  print a completion (see `complete --help`)
deepseek-fim-lsp check                   check key, balance, model and latency
deepseek-fim-lsp emulate [--port N]      run a local DeepSeek API emulator
"""


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    command = args[0] if args and not args[0].startswith("-") else "serve"
    rest = args[1:] if args and not args[0].startswith("-") else args
    if command == "serve":
        parser = argparse.ArgumentParser(
            prog="deepseek-fim-lsp",
            description="AI code completion for any editor through DeepSeek's FIM API: a "
                        "language server speaking LSP over stdio.",
            epilog=USAGE, formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        parser.add_argument("--version", action="version",
                            version=f"deepseek-fim-lsp {__version__}")
        parser.add_argument("--stdio", action="store_true",
                            help="accepted for editor compatibility")
        parser.add_argument("--log-level", default=None,
                            choices=["error", "warning", "info", "debug"],
                            help="stderr log level (default: the logLevel setting)")
        ns = parser.parse_args(rest)
        from .log import setup_logging

        setup_logging(ns.log_level or "info")
        from .lsp.server import serve

        serve()
        return 0
    if command == "emulate":
        from .emulator import emulate_main

        return emulate_main(rest)
    if command == "complete":
        from .headless.complete import complete_main

        return complete_main(rest)
    if command == "check":
        from .headless.check import check_main

        return check_main(rest)
    print(f"deepseek-fim-lsp: unknown command {command!r}\n\n{USAGE}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
