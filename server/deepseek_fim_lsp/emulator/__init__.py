"""A faithful local DeepSeek API server for tests, benchmarks and offline use.

It stands apart from the rest of the package: only ``deepseek-fim-lsp emulate`` and the tests use
it. :class:`Emulator` serves the routes and scripted answers (:class:`Reply`, :class:`Rule`);
:func:`emulate_main` is the ``emulate`` command.
"""

from .app import Emulator, emulate_main
from .script import Reply, Rule
from .server import LoggedRequest

__all__ = ["Emulator", "LoggedRequest", "Reply", "Rule", "emulate_main"]
