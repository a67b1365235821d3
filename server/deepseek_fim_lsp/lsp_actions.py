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
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from lsprotocol import types as lsp
from pygls.exceptions import JsonRpcInvalidParams
from pygls.uris import to_fs_path

from . import actions
from .documents import Document, PositionError
from .errors import DeepSeekError
from .lsp import FimLanguageServer, server
from .privacy import effective_patterns, is_excluded

log = logging.getLogger(__name__)
T = TypeVar("T")

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


class ProgressCancelled(Exception):
    """The user cancelled the work-done progress."""


# --- client capabilities -------------------------------------------------------------------


def _code_action_caps(ls: FimLanguageServer) -> lsp.CodeActionClientCapabilities | None:
    td = ls.client_capabilities.text_document
    return td.code_action if td else None


def supports_resolve(ls: FimLanguageServer) -> bool:
    caps = _code_action_caps(ls)
    rs = caps.resolve_support if caps else None
    return bool(rs and "edit" in (rs.properties or ()) and caps and caps.data_support)


def _edit_caps(ls: FimLanguageServer) -> lsp.WorkspaceEditClientCapabilities | None:
    ws = ls.client_capabilities.workspace
    return ws.workspace_edit if ws else None


def supports_document_changes(ls: FimLanguageServer) -> bool:
    caps = _edit_caps(ls)
    return bool(caps and caps.document_changes)


def supports_create(ls: FimLanguageServer) -> bool:
    """CreateFile can only travel in ``documentChanges``, so a client listing it among its
    resource operations takes those too (Neovim lists ``create`` without ``documentChanges``)."""
    caps = _edit_caps(ls)
    return bool(caps and lsp.ResourceOperationKind.Create in (caps.resource_operations or ()))


def _window(ls: FimLanguageServer) -> lsp.WindowClientCapabilities | None:
    return ls.client_capabilities.window


# --- listing -------------------------------------------------------------------------------


def _lsp_range(doc: Document, start: int, end: int, encoding: str) -> lsp.Range:
    return lsp.Range(lsp.Position(*doc.position_at(start, encoding)),
                     lsp.Position(*doc.position_at(end, encoding)))


def _offsets(doc: Document, rng: lsp.Range, encoding: str) -> tuple[int, int]:
    a = doc.offset_at(rng.start.line, rng.start.character, encoding)
    b = doc.offset_at(rng.end.line, rng.end.character, encoding)
    return (min(a, b), max(a, b))


def _range_json(rng: lsp.Range) -> dict[str, Any]:
    return {"start": {"line": rng.start.line, "character": rng.start.character},
            "end": {"line": rng.end.line, "character": rng.end.character}}


def _parse_range(raw: Any) -> lsp.Range:
    if isinstance(raw, lsp.Range):
        return raw
    try:
        s, e = raw["start"], raw["end"]
        return lsp.Range(lsp.Position(int(s["line"]), int(s["character"])),
                         lsp.Position(int(e["line"]), int(e["character"])))
    except (TypeError, KeyError, ValueError) as exc:
        raise ValueError(f"not an LSP range: {raw!r}") from exc


def _wanted(kind: str, only: Any) -> bool:
    if not only:
        return True
    return any(kind == k or kind.startswith(str(k) + ".") for k in only)


def _fix_title(message: str) -> str:
    first = message.strip().splitlines()[0] if message.strip() else "problem"
    return f"DeepSeek: Fix: {first[:80]}{'…' if len(first) > 80 else ''}"


@server.feature(
    lsp.TEXT_DOCUMENT_CODE_ACTION,
    lsp.CodeActionOptions(
        code_action_kinds=[lsp.CodeActionKind.QuickFix, lsp.CodeActionKind.Refactor,
                           lsp.CodeActionKind.RefactorRewrite, *KINDS.values()],
        resolve_provider=True,
    ),
)
def code_action(ls: FimLanguageServer,
                params: lsp.CodeActionParams) -> list[lsp.CodeAction | lsp.Command] | None:
    """The DeepSeek actions for the selection (or the enclosing block). Costs no request."""
    uri = params.text_document.uri
    doc = ls.docs.get(uri)
    if doc is None or not doc.text.strip() or _excluded(ls, uri):
        return None
    enc = ls.encoding
    try:
        sel_start, sel_end = _offsets(doc, params.range, enc)
    except PositionError as exc:
        log.info("code actions asked for an invalid range: %s", exc)
        return None
    start, end = actions.default_range(doc.text, sel_start, sel_end, doc.language_id)
    if not doc.text[start:end].strip() and not params.context.diagnostics:
        return None  # a blank line: nothing to explain or rewrite
    rng = _lsp_range(doc, start, end, enc)
    resolvable = supports_resolve(ls)
    only = params.context.only
    out: list[lsp.CodeAction] = []
    commands: list[lsp.Command] = []

    def add(kind: actions.ActionKind, title: str, rng: lsp.Range, extra: str | None = None,
            diagnostics: list[lsp.Diagnostic] | None = None, command_only: bool = False) -> None:
        if not _wanted(KINDS[kind], only):
            return
        args: list[Any] = [uri, _range_json(rng)] + ([extra] if extra is not None else [])
        command = lsp.Command(title=title, command=COMMANDS[kind], arguments=args)
        action = lsp.CodeAction(title=title, kind=KINDS[kind], diagnostics=diagnostics,
                                is_preferred=True if kind == "fix" else None)
        if resolvable and not command_only:
            action.data = {DATA_KEY: kind, "uri": uri, "range": _range_json(rng),
                           "extra": extra}
        else:
            action.command = command
        out.append(action)
        commands.append(command)

    for diag in params.context.diagnostics:
        try:
            d_start, d_end = _offsets(doc, diag.range, enc)
        except PositionError:
            continue
        f_start, f_end = start, end
        if not (start <= d_start and d_end <= end):  # widen to the diagnostic's whole lines
            first, last = diag.range.start.line, diag.range.end.line
            f_start = min(start, doc.starts[first])
            f_end = max(end, doc.starts[last] + len(doc.line_text(last)))
        add("fix", _fix_title(diag.message), _lsp_range(doc, f_start, f_end, enc),
            extra=diag.message, diagnostics=[diag])
    add("explain", TITLES["explain"], rng, command_only=True)
    add("rewrite", TITLES["rewrite"], rng, command_only=True)
    add("document", TITLES["document"], rng)
    add("tests", TITLES["tests"], rng)
    caps = _code_action_caps(ls)
    if caps is not None and caps.code_action_literal_support is None:
        return list(commands)  # an old client that only understands Command[]
    return list(out)


# --- running an action ---------------------------------------------------------------------


async def _with_progress(ls: FimLanguageServer, title: str,
                         work: Callable[[Callable[[str], None]], Awaitable[T]]) -> T:
    """Run ``work`` under a cancellable work-done progress (when the client supports it)."""
    token: str | None = None
    user_cancelled = False
    win = _window(ls)

    def report(message: str) -> None:
        if token is not None:
            ls.work_done_progress.report(token, lsp.WorkDoneProgressReport(message=message))

    if win is not None and win.work_done_progress:
        token = f"deepseekFim-{uuid.uuid4().hex}"
        try:
            async with asyncio.timeout(3):
                await ls.work_done_progress.create_async(token)
        except Exception as exc:  # noqa: BLE001 - no progress bar is no reason to fail
            log.debug("workDoneProgress/create failed: %r", exc)
            token = None
    task: asyncio.Future[T] = asyncio.ensure_future(work(report))

    def on_cancel(fut: Any) -> None:
        nonlocal user_cancelled
        if fut.cancelled() and not task.done():
            user_cancelled = True
            task.cancel()

    outer = _request_future(ls)
    if outer is not None and outer is not asyncio.current_task():
        # workspace/executeCommand runs our handler as a separate task: pygls cancels only the
        # request's own future on $/cancelRequest, so pass the cancellation on.
        outer.add_done_callback(on_cancel)
    if token is not None:
        created = ls.work_done_progress.tokens.get(token)
        if created is not None:
            created.add_done_callback(on_cancel)
        ls.work_done_progress.begin(token, lsp.WorkDoneProgressBegin(
            title=title, cancellable=True,
            message=f"asking {ls.engine.settings.chat_model}…"))
    outcome = "failed"
    try:
        result = await task
        outcome = "done"
        return result
    except asyncio.CancelledError:
        outcome = "cancelled"
        current = asyncio.current_task()
        if user_cancelled and not (current and current.cancelling()):
            raise ProgressCancelled() from None
        raise
    finally:
        if not task.done():
            task.cancel()
        if token is not None:
            ls.work_done_progress.end(token, lsp.WorkDoneProgressEnd(message=outcome))
            ls.work_done_progress.tokens.pop(token, None)


def _excluded(ls: FimLanguageServer, uri: str) -> bool:
    """Files never sent for completion (secrets, ``exclude``) are not sent for actions either."""
    return is_excluded(uri, effective_patterns(ls.engine.settings.exclude))


def _request_future(ls: FimLanguageServer) -> Any:
    """The future of the request being handled (None outside a request)."""
    msg_id = ls.protocol.msg_id
    return ls.protocol._request_futures.get(msg_id) if msg_id is not None else None


def _read(ls: FimLanguageServer) -> Callable[[str], tuple[str, int | None] | None]:
    def read(uri: str) -> tuple[str, int | None] | None:
        doc = ls.docs.get(uri)
        if doc is not None:
            return doc.text, doc.version
        path = to_fs_path(uri)
        if not path:
            return None
        try:
            return Path(path).read_bytes().decode("utf-8", "replace"), None
        except OSError:
            return None

    return read


async def perform(ls: FimLanguageServer, kind: actions.ActionKind, uri: str, rng: lsp.Range,
                  extra: str | None = None) -> actions.Outcome | None:
    """Ask the model; the outcome, or None after telling the user why there is none."""
    doc = ls.docs.get(uri)
    if doc is None:
        ls.show(f"DeepSeek: {uri} is not open in the editor, so the action cannot run.")
        return None
    if _excluded(ls, uri) or "\x00" in doc.text:
        ls.show("DeepSeek: this file is excluded (a secret or binary file, or "
                "`deepseekFim.exclude`), so it is not sent to the model.")
        return None
    try:
        start, end = _offsets(doc, rng, ls.encoding)
    except PositionError as exc:
        ls.show(f"DeepSeek: the selection is not in the document ({exc}).")
        return None
    fs_path = to_fs_path(uri) if uri.startswith("file:") else None
    root = ls.workspace.root_path
    req = actions.ActionRequest(
        kind=kind, uri=uri, text=doc.text, language_id=doc.language_id, start=start, end=end,
        version=doc.version,
        instruction=extra if kind == "rewrite" else None,
        diagnostic=extra if kind == "fix" else None,
        path=Path(fs_path) if fs_path else None, root=Path(root) if root else None,
        can_create=supports_create(ls), read=_read(ls),
    )
    engine = ls.engine

    async def work(report: Callable[[str], None]) -> actions.Outcome:
        return await actions.run_action(req, engine.backend, engine.settings, engine.ledger,
                                        progress=report)

    try:
        outcome = await _with_progress(ls, TITLES[kind].rstrip("…"), work)
    except ProgressCancelled:
        log.info("%s cancelled by the user", kind)
        return None
    except DeepSeekError as err:
        log.info("%s failed: %s", kind, err.user_message)
        ls.show(err.user_message, lsp.MessageType.Error if err.needs_user or
                isinstance(err, actions.ActionError) else lsp.MessageType.Warning)
        return None
    except Exception:  # a bug must not take the server down: say so, keep serving
        log.exception("%s failed unexpectedly", kind)
        ls.show("DeepSeek: the action failed unexpectedly; see the language server log.",
                lsp.MessageType.Error)
        return None
    current = ls.docs.get(uri)
    if outcome.files and (current is not doc or current.text != req.text):
        ls.show("DeepSeek: the document changed while the model was working, so nothing was "
                "applied. Run the action again.")
        return None
    return outcome


def workspace_edit(ls: FimLanguageServer, outcome: actions.Outcome) -> lsp.WorkspaceEdit:
    """Offsets → an LSP edit: versioned ``documentChanges`` when the client has them."""
    enc = ls.encoding
    per_file: list[tuple[actions.FileChange, list[lsp.TextEdit]]] = []
    for f in outcome.files:
        d = Document(f.uri, f.text)
        per_file.append((f, [lsp.TextEdit(_lsp_range(d, c.start, c.end, enc), c.new_text)
                             for c in f.changes]))
    if supports_document_changes(ls) or any(f.create for f in outcome.files):
        changes: list[lsp.TextDocumentEdit | lsp.CreateFile | lsp.RenameFile |
                      lsp.DeleteFile] = []
        for f, edits in per_file:
            if f.create:
                changes.append(lsp.CreateFile(
                    uri=f.uri, options=lsp.CreateFileOptions(overwrite=False,
                                                             ignore_if_exists=True)))
            changes.append(lsp.TextDocumentEdit(
                text_document=lsp.OptionalVersionedTextDocumentIdentifier(
                    uri=f.uri, version=None if f.create else f.version),
                edits=list(edits)))
        return lsp.WorkspaceEdit(document_changes=changes)
    return lsp.WorkspaceEdit(changes={f.uri: edits for f, edits in per_file})


@server.feature(lsp.CODE_ACTION_RESOLVE)
async def resolve_code_action(ls: FimLanguageServer, action: lsp.CodeAction) -> lsp.CodeAction:
    """Compute the edit of a listed action (the one model call per chosen action)."""
    data = action.data
    if not isinstance(data, dict) or data.get(DATA_KEY) not in actions.ACTION_KINDS:
        return action
    kind: actions.ActionKind = data[DATA_KEY]
    try:
        rng = _parse_range(data.get("range"))
        uri = str(data["uri"])
    except (KeyError, ValueError) as exc:
        log.info("codeAction/resolve with unusable data: %s", exc)
        return action
    extra = data.get("extra")
    outcome = await perform(ls, kind, uri, rng, extra if isinstance(extra, str) else None)
    if outcome is not None and outcome.files:
        action.edit = workspace_edit(ls, outcome)
    return action


# --- commands ------------------------------------------------------------------------------


def _command_args(args: tuple[Any, ...], *, extra: bool) -> tuple[str, lsp.Range, str | None]:
    try:
        uri = args[0]
        if not isinstance(uri, str):
            raise ValueError("the first argument must be the document URI")
        rng = _parse_range(args[1])
    except (IndexError, ValueError) as exc:
        raise JsonRpcInvalidParams.of(ValueError(f"expected [uri, range{', text' if extra else ''}"
                                                 f"]: {exc}")) from None
    text = args[2] if extra and len(args) > 2 and isinstance(args[2], str) else None
    return uri, rng, text


async def _apply(ls: FimLanguageServer, kind: actions.ActionKind,
                 args: tuple[Any, ...]) -> dict[str, Any] | None:
    uri, rng, extra = _command_args(args, extra=kind in ("rewrite", "fix"))
    outcome = await perform(ls, kind, uri, rng, extra)
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


@server.command(CMD_REWRITE)
async def rewrite_command(ls: FimLanguageServer, *args: Any) -> dict[str, Any] | None:
    """``[uri, range, instruction?]`` — rewrite the range as instructed (default: improve)."""
    return await _apply(ls, "rewrite", args)


@server.command(CMD_FIX)
async def fix_command(ls: FimLanguageServer, *args: Any) -> dict[str, Any] | None:
    """``[uri, range, diagnosticMessage]`` — fix the reported problem in the range."""
    return await _apply(ls, "fix", args)


@server.command(CMD_DOCUMENT)
async def document_command(ls: FimLanguageServer, *args: Any) -> dict[str, Any] | None:
    """``[uri, range]`` — add a docstring or doc comment."""
    return await _apply(ls, "document", args)


@server.command(CMD_TESTS)
async def tests_command(ls: FimLanguageServer, *args: Any) -> dict[str, Any] | None:
    """``[uri, range]`` — write tests into the conventional test file (or below the code)."""
    return await _apply(ls, "tests", args)


@server.command(CMD_EXPLAIN)
async def explain_command(ls: FimLanguageServer, *args: Any) -> str | None:
    """``[uri, range]`` → the explanation as Markdown; the saved file is also shown."""
    uri, rng, _ = _command_args(args, extra=False)
    outcome = await perform(ls, "explain", uri, rng)
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
    win = _window(ls)
    if win is not None and win.show_document is not None and win.show_document.support:
        try:
            async with asyncio.timeout(10):
                await ls.window_show_document_async(
                    lsp.ShowDocumentParams(uri=file_uri, take_focus=True))
        except Exception as exc:  # noqa: BLE001 - the result still carries the Markdown
            log.info("window/showDocument failed: %r", exc)
    return path.read_text("utf-8")
