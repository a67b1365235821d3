"""Running one code action for the editor: what the client can take, progress that can be
cancelled, the request built from the open document, and the outcome as a workspace edit.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from lsprotocol import types as lsp
from pygls.uris import to_fs_path

from .. import actions
from ..context.privacy import effective_patterns, is_excluded
from ..errors import DeepSeekError
from .documents import Document, PositionError
from .language_server import FimLanguageServer

log = logging.getLogger(__name__)
T = TypeVar("T")

# --- client capabilities -------------------------------------------------------------------


def code_action_caps(ls: FimLanguageServer) -> lsp.CodeActionClientCapabilities | None:
    td = ls.client_capabilities.text_document
    return td.code_action if td else None


def supports_resolve(ls: FimLanguageServer) -> bool:
    caps = code_action_caps(ls)
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


def window_caps(ls: FimLanguageServer) -> lsp.WindowClientCapabilities | None:
    return ls.client_capabilities.window


# --- ranges ---------------------------------------------------------------------------------


def lsp_range(doc: Document, start: int, end: int, encoding: str) -> lsp.Range:
    return lsp.Range(lsp.Position(*doc.position_at(start, encoding)),
                     lsp.Position(*doc.position_at(end, encoding)))


def offsets(doc: Document, rng: lsp.Range, encoding: str) -> tuple[int, int]:
    a = doc.offset_at(rng.start.line, rng.start.character, encoding)
    b = doc.offset_at(rng.end.line, rng.end.character, encoding)
    return (min(a, b), max(a, b))


def range_json(rng: lsp.Range) -> dict[str, Any]:
    return {"start": {"line": rng.start.line, "character": rng.start.character},
            "end": {"line": rng.end.line, "character": rng.end.character}}


def parse_range(raw: Any) -> lsp.Range:
    if isinstance(raw, lsp.Range):
        return raw
    try:
        s, e = raw["start"], raw["end"]
        return lsp.Range(lsp.Position(int(s["line"]), int(s["character"])),
                         lsp.Position(int(e["line"]), int(e["character"])))
    except (TypeError, KeyError, ValueError) as exc:
        raise ValueError(f"not an LSP range: {raw!r}") from exc


class ProgressCancelled(Exception):
    """The user cancelled the work-done progress."""


# --- running an action ---------------------------------------------------------------------


async def _with_progress(ls: FimLanguageServer, title: str,
                         work: Callable[[Callable[[str], None]], Awaitable[T]]) -> T:
    """Run ``work`` under a cancellable work-done progress (when the client supports it)."""
    token: str | None = None
    user_cancelled = False
    win = window_caps(ls)

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


def excluded(ls: FimLanguageServer, uri: str) -> bool:
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


async def perform(ls: FimLanguageServer, kind: actions.ActionKind, title: str, uri: str,
                  rng: lsp.Range, extra: str | None = None) -> actions.Outcome | None:
    """Ask the model; the outcome, or None after telling the user why there is none."""
    doc = ls.docs.get(uri)
    if doc is None:
        ls.show(f"DeepSeek: {uri} is not open in the editor, so the action cannot run.")
        return None
    if excluded(ls, uri) or "\x00" in doc.text:
        ls.show("DeepSeek: this file is excluded (a secret or binary file, or "
                "`deepseekFim.exclude`), so it is not sent to the model.")
        return None
    try:
        start, end = offsets(doc, rng, ls.encoding)
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
        outcome = await _with_progress(ls, title, work)
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
        per_file.append((f, [lsp.TextEdit(lsp_range(d, c.start, c.end, enc), c.new_text)
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
