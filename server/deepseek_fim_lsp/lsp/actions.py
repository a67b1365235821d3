"""LSP side of the chat code actions: listing (free), resolving, commands, progress.

Listing never calls the model. Clients that can resolve code actions get actions carrying
``data`` and the edit is computed in ``codeAction/resolve``; others get actions carrying a
``deepseekFim.*`` command, which computes the edit and sends it with ``workspace/applyEdit``.
"Explain" and "Rewrite…" are always commands: an explanation is not an edit, and editor plugins
intercept ``deepseekFim.rewrite`` to ask for the instruction (without one a default is used).

While the model works the client sees ``$/progress`` (cancellable); ``$/cancelRequest`` on a
resolve, or cancelling the progress, closes the chat HTTP call. Failures are told once, in plain
words, and nothing is applied.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from lsprotocol import types as lsp
from pygls.exceptions import JsonRpcInvalidParams

from .. import actions
from .action_run import (
    code_action_caps,
    excluded,
    lsp_range,
    offsets,
    parse_range,
    perform,
    range_json,
    supports_resolve,
    window_caps,
    workspace_edit,
)
from .documents import PositionError
from .language_server import FimLanguageServer

log = logging.getLogger(__name__)

CMD_EXPLAIN = "deepseekFim.explain"
CMD_REWRITE = "deepseekFim.rewrite"
CMD_DOCUMENT = "deepseekFim.document"
CMD_TESTS = "deepseekFim.tests"
CMD_FIX = "deepseekFim.fix"
COMMANDS: dict[actions.ActionKind, str] = {
    "explain": CMD_EXPLAIN, "rewrite": CMD_REWRITE, "document": CMD_DOCUMENT,
    "tests": CMD_TESTS, "fix": CMD_FIX,
}
KINDS: dict[actions.ActionKind, str] = {
    "explain": "refactor.deepseek.explain",
    "rewrite": "refactor.rewrite.deepseek",
    "document": "refactor.deepseek.document",
    "tests": "refactor.deepseek.tests",
    "fix": "quickfix.deepseek",
}
TITLES: dict[actions.ActionKind, str] = {
    "explain": "DeepSeek: Explain",
    "rewrite": "DeepSeek: Rewrite…",
    "document": "DeepSeek: Add docstring / comments",
    "tests": "DeepSeek: Write tests",
    "fix": "DeepSeek: Fix",
}
DATA_KEY = "deepseekFim"


# --- listing -------------------------------------------------------------------------------


def _wanted(kind: str, only: Any) -> bool:
    if not only:
        return True
    return any(kind == k or kind.startswith(str(k) + ".") for k in only)


def _fix_title(message: str) -> str:
    first = message.strip().splitlines()[0] if message.strip() else "problem"
    return f"DeepSeek: Fix: {first[:80]}{'…' if len(first) > 80 else ''}"


def code_action(ls: FimLanguageServer,
                params: lsp.CodeActionParams) -> list[lsp.CodeAction | lsp.Command] | None:
    """The DeepSeek actions for the selection (or the enclosing block). Costs no request."""
    uri = params.text_document.uri
    doc = ls.docs.get(uri)
    if doc is None or not doc.text.strip() or excluded(ls, uri):
        return None
    enc = ls.encoding
    try:
        sel_start, sel_end = offsets(doc, params.range, enc)
    except PositionError as exc:
        log.info("code actions asked for an invalid range: %s", exc)
        return None
    start, end = actions.default_range(doc.text, sel_start, sel_end, doc.language_id)
    if not doc.text[start:end].strip() and not params.context.diagnostics:
        return None  # a blank line: nothing to explain or rewrite
    rng = lsp_range(doc, start, end, enc)
    resolvable = supports_resolve(ls)
    only = params.context.only
    out: list[lsp.CodeAction] = []
    commands: list[lsp.Command] = []

    def add(kind: actions.ActionKind, title: str, rng: lsp.Range, extra: str | None = None,
            diagnostics: list[lsp.Diagnostic] | None = None, command_only: bool = False) -> None:
        if not _wanted(KINDS[kind], only):
            return
        args: list[Any] = [uri, range_json(rng)] + ([extra] if extra is not None else [])
        command = lsp.Command(title=title, command=COMMANDS[kind], arguments=args)
        action = lsp.CodeAction(title=title, kind=KINDS[kind], diagnostics=diagnostics,
                                is_preferred=True if kind == "fix" else None)
        if resolvable and not command_only:
            action.data = {DATA_KEY: kind, "uri": uri, "range": range_json(rng),
                           "extra": extra}
        else:
            action.command = command
        out.append(action)
        commands.append(command)

    for diag in params.context.diagnostics:
        try:
            d_start, d_end = offsets(doc, diag.range, enc)
        except PositionError:
            continue
        f_start, f_end = start, end
        if not (start <= d_start and d_end <= end):  # widen to the diagnostic's whole lines
            first, last = diag.range.start.line, diag.range.end.line
            f_start = min(start, doc.starts[first])
            f_end = max(end, doc.starts[last] + len(doc.line_text(last)))
        add("fix", _fix_title(diag.message), lsp_range(doc, f_start, f_end, enc),
            extra=diag.message, diagnostics=[diag])
    add("explain", TITLES["explain"], rng, command_only=True)
    add("rewrite", TITLES["rewrite"], rng, command_only=True)
    add("document", TITLES["document"], rng)
    add("tests", TITLES["tests"], rng)
    caps = code_action_caps(ls)
    if caps is not None and caps.code_action_literal_support is None:
        return list(commands)  # an old client that only understands Command[]
    return list(out)


async def resolve_code_action(ls: FimLanguageServer, action: lsp.CodeAction) -> lsp.CodeAction:
    """Compute the edit of a listed action (the one model call per chosen action)."""
    data = action.data
    if not isinstance(data, dict) or data.get(DATA_KEY) not in actions.ACTION_KINDS:
        return action
    kind: actions.ActionKind = data[DATA_KEY]
    try:
        rng = parse_range(data.get("range"))
        uri = str(data["uri"])
    except (KeyError, ValueError) as exc:
        log.info("codeAction/resolve with unusable data: %s", exc)
        return action
    extra = data.get("extra")
    outcome = await perform(ls, kind, TITLES[kind].rstrip("…"), uri, rng,
                            extra if isinstance(extra, str) else None)
    if outcome is not None and outcome.files:
        action.edit = workspace_edit(ls, outcome)
    return action


# --- commands ------------------------------------------------------------------------------


def _command_args(args: tuple[Any, ...], *, extra: bool) -> tuple[str, lsp.Range, str | None]:
    try:
        uri = args[0]
        if not isinstance(uri, str):
            raise ValueError("the first argument must be the document URI")
        rng = parse_range(args[1])
    except (IndexError, ValueError) as exc:
        raise JsonRpcInvalidParams.of(ValueError(f"expected [uri, range{', text' if extra else ''}"
                                                 f"]: {exc}")) from None
    text = args[2] if extra and len(args) > 2 and isinstance(args[2], str) else None
    return uri, rng, text


async def _apply(ls: FimLanguageServer, kind: actions.ActionKind,
                 args: tuple[Any, ...]) -> dict[str, Any] | None:
    uri, rng, extra = _command_args(args, extra=kind in ("rewrite", "fix"))
    outcome = await perform(ls, kind, TITLES[kind].rstrip("…"), uri, rng, extra)
    if outcome is None or not outcome.files:
        return None
    edit = workspace_edit(ls, outcome)
    try:
        result = await ls.workspace_apply_edit_async(
            lsp.ApplyWorkspaceEditParams(edit=edit, label=TITLES[kind].rstrip("…")))
    except Exception as exc:  # noqa: BLE001 - a client that cannot apply edits
        log.info("workspace/applyEdit failed: %r", exc)
        ls.show("DeepSeek: the editor could not apply the edit.")
        return {"applied": False, "failureReason": str(exc)}
    if not result.applied:
        reason = result.failure_reason or "no reason given"
        ls.show(f"DeepSeek: the editor did not apply the edit ({reason}).")
    return {"applied": bool(result.applied), "failureReason": result.failure_reason}


async def rewrite_command(ls: FimLanguageServer, *args: Any) -> dict[str, Any] | None:
    """``[uri, range, instruction?]`` — rewrite the range as instructed (default: improve)."""
    return await _apply(ls, "rewrite", args)


async def fix_command(ls: FimLanguageServer, *args: Any) -> dict[str, Any] | None:
    """``[uri, range, diagnosticMessage]`` — fix the reported problem in the range."""
    return await _apply(ls, "fix", args)


async def document_command(ls: FimLanguageServer, *args: Any) -> dict[str, Any] | None:
    """``[uri, range]`` — add a docstring or doc comment."""
    return await _apply(ls, "document", args)


async def tests_command(ls: FimLanguageServer, *args: Any) -> dict[str, Any] | None:
    """``[uri, range]`` — write tests into the conventional test file (or below the code)."""
    return await _apply(ls, "tests", args)


async def explain_command(ls: FimLanguageServer, *args: Any) -> str | None:
    """``[uri, range]`` → the explanation as Markdown; the saved file is also shown."""
    uri, rng, _ = _command_args(args, extra=False)
    outcome = await perform(ls, "explain", TITLES["explain"], uri, rng)
    if outcome is None or outcome.markdown is None:
        return None
    name = uri.rsplit("/", 1)[-1]
    try:
        path = actions.write_explanation(outcome.markdown, name=name,
                                         first_line=rng.start.line + 1,
                                         last_line=rng.end.line + 1)
    except OSError as exc:
        log.warning("could not write the explanation: %s", exc)
        ls.show(f"DeepSeek: could not save the explanation ({exc.strerror or exc}).")
        return outcome.markdown
    file_uri = path.as_uri()
    win = window_caps(ls)
    if win is not None and win.show_document is not None and win.show_document.support:
        try:
            async with asyncio.timeout(10):
                await ls.window_show_document_async(
                    lsp.ShowDocumentParams(uri=file_uri, take_focus=True))
        except Exception as exc:  # noqa: BLE001 - the result still carries the Markdown
            log.info("window/showDocument failed: %r", exc)
    return path.read_text("utf-8")


def register(server: FimLanguageServer) -> None:
    """Register the code-action handlers on ``server`` (handed in, so that this module does not
    import the server module back)."""
    server.feature(
        lsp.TEXT_DOCUMENT_CODE_ACTION,
        lsp.CodeActionOptions(
            code_action_kinds=[lsp.CodeActionKind.QuickFix, lsp.CodeActionKind.Refactor,
                               lsp.CodeActionKind.RefactorRewrite, *KINDS.values()],
            resolve_provider=True,
        ),
    )(code_action)
    server.feature(lsp.CODE_ACTION_RESOLVE)(resolve_code_action)
    server.command(CMD_REWRITE)(rewrite_command)
    server.command(CMD_FIX)(fix_command)
    server.command(CMD_DOCUMENT)(document_command)
    server.command(CMD_TESTS)(tests_command)
    server.command(CMD_EXPLAIN)(explain_command)
