"""The language server: translates LSP to engine calls and back, nothing more.

Positions arrive in the negotiated encoding (UTF-16 unless the client offers UTF-8/UTF-32) and are
turned into string offsets by :mod:`documents`; answers go back the same way. Every handler answers
— an empty result when something is off — and problems reach the user through the engine's
listener: one ``window/showMessage`` per kind, every occurrence in ``window/logMessage``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import sys
from typing import Any

from lsprotocol import types as lsp

from .. import config
from ..completion import policy
from ..completion.types import CompletionRequest, CompletionResult, Selected
from ..context.crossfile import OpenDocument
from ..log import CallbackHandler
from . import actions
from .action_run import offsets
from .documents import Document, PositionError
from .language_server import FimLanguageServer

log = logging.getLogger(__name__)

STATS = "deepseekFim/stats"
CMD_ACCEPTED = "deepseekFim.accepted"
CMD_SET_ENABLED = "deepseekFim.setEnabled"
CMD_STATS = "deepseekFim.stats"

server = FimLanguageServer()
actions.register(server)


def _log_to_client(level: int, message: str) -> None:
    kind = (lsp.MessageType.Error if level >= logging.ERROR else lsp.MessageType.Warning
            if level >= logging.WARNING else lsp.MessageType.Info if level >= logging.INFO
            else lsp.MessageType.Log)
    server.window_log_message(lsp.LogMessageParams(type=kind, message=message))


@server.feature(lsp.INITIALIZE)
def initialize(ls: FimLanguageServer, params: lsp.InitializeParams) -> None:
    settings, problems = config.parse(params.initialization_options, ls.base_settings)
    ls.base_settings = settings
    ls.apply_settings(None, base=settings)
    roots = [f.uri for f in params.workspace_folders or ()]
    if not roots and (params.root_uri or params.root_path):
        roots = [params.root_uri or params.root_path or ""]
    if roots:
        ls.engine.repo.set_roots(roots)
    for problem in ls._env_problems + problems:
        log.warning("%s", problem)


@server.feature(lsp.WORKSPACE_DID_CHANGE_WORKSPACE_FOLDERS)
def did_change_workspace_folders(ls: FimLanguageServer,
                                 params: lsp.DidChangeWorkspaceFoldersParams) -> None:
    ls.engine.repo.change_roots([f.uri for f in params.event.added],
                                [f.uri for f in params.event.removed])


@server.feature(lsp.TEXT_DOCUMENT_DID_SAVE)
def did_save(ls: FimLanguageServer, params: lsp.DidSaveTextDocumentParams) -> None:
    """A saved file is re-read for the repository context of the files importing it."""
    ls.engine.repo.saved(params.text_document.uri)


@server.feature(lsp.INITIALIZED)
async def initialized(ls: FimLanguageServer, params: lsp.InitializedParams) -> None:
    handler = CallbackHandler(_log_to_client)
    logging.getLogger("deepseek_fim_lsp").addHandler(handler)
    for problem in ls._env_problems:
        ls.tell_once(f"DeepSeek FIM: {problem}")
    await _pull_configuration(ls)
    ls.engine.start()
    if ls.engine.settings.api_key:
        ls.send_status("ready", f"ready ({ls.engine.settings.model})", None)


async def _pull_configuration(ls: FimLanguageServer) -> None:
    caps = ls.client_capabilities.workspace
    if not (caps and caps.configuration):
        return
    try:
        async with asyncio.timeout(5):
            result = await ls.workspace_configuration_async(
                lsp.ConfigurationParams(items=[lsp.ConfigurationItem(section=config.SECTION)])
            )
    except Exception as exc:  # noqa: BLE001 - a client that cannot answer keeps the defaults
        log.info("workspace/configuration failed: %r", exc)
        return
    if result and isinstance(result[0], dict) and result[0]:
        ls.apply_settings(result[0])


@server.feature(lsp.WORKSPACE_DID_CHANGE_CONFIGURATION)
async def did_change_configuration(ls: FimLanguageServer,
                                   params: lsp.DidChangeConfigurationParams) -> None:
    raw = params.settings
    if isinstance(raw, dict) and isinstance(raw.get(config.SECTION), dict):
        ls.apply_settings(raw[config.SECTION])
    else:
        await _pull_configuration(ls)


def _request(ls: FimLanguageServer, uri: str, position: lsp.Position, invoked: bool,
             door: policy.Door, selected: lsp.SelectedCompletionInfo | None = None
             ) -> tuple[CompletionRequest, Any] | None:
    doc = ls.docs.get(uri)
    if doc is None:
        log.info("completion asked for a document that is not open: %s", uri)
        return None
    try:
        offset = doc.offset_at(position.line, position.character, ls.encoding)
    except PositionError as exc:
        log.info("completion at an invalid position: %s", exc)
        return None
    entry = None
    if selected is not None:
        try:
            entry = Selected(*offsets(doc, selected.range, ls.encoding), selected.text)
        except PositionError as exc:
            log.info("selected completion at an invalid range: %s", exc)
            return None
    others = [OpenDocument(d.uri, d.language_id, d.text, d.last_touched)
              for d in ls.docs.all() if d.uri != uri]
    return CompletionRequest(uri, doc.text, offset, doc.language_id, invoked, others, door,
                             entry), doc


def _range(ls: FimLanguageServer, doc: Document, req: CompletionRequest,
           replace: int, back: int = 0) -> lsp.Range:
    """The item's range in the document *as it was asked about*: the editor may have changed
    it while the answer was on its way, and positions must not shift with that."""
    if doc.text is not req.text:
        doc = Document(doc.uri, req.text)
    start = doc.position_at(req.offset - back, ls.encoding)
    end = doc.position_at(req.offset + replace, ls.encoding)
    return lsp.Range(lsp.Position(*start), lsp.Position(*end))


def _accept_command(item_id: str) -> lsp.Command:
    return lsp.Command(title="DeepSeek FIM: accepted", command=CMD_ACCEPTED, arguments=[item_id])


@server.feature(lsp.TEXT_DOCUMENT_INLINE_COMPLETION, lsp.InlineCompletionOptions())
async def inline_completion(ls: FimLanguageServer,
                            params: lsp.InlineCompletionParams) -> lsp.InlineCompletionList:
    invoked = params.context.trigger_kind == lsp.InlineCompletionTriggerKind.Invoked
    selected = params.context.selected_completion_info
    prepared = _request(ls, params.text_document.uri, params.position, invoked,
                        policy.inline_door(invoked, selected is not None), selected)
    if prepared is None:
        return lsp.InlineCompletionList(items=[])
    req, doc = prepared
    result: CompletionResult = await ls.engine.complete(req)
    return lsp.InlineCompletionList(items=[
        lsp.InlineCompletionItem(
            insert_text=item.text,
            range=_range(ls, doc, req, item.replace, item.back),
            command=_accept_command(item.id),
        )
        for item in result.items
    ])


@server.feature(lsp.TEXT_DOCUMENT_COMPLETION, lsp.CompletionOptions(trigger_characters=[]))
async def completion(ls: FimLanguageServer, params: lsp.CompletionParams) -> lsp.CompletionList:
    """Classic completion: one item, same pipeline. It costs a request only for a client
    without inline completion (then like typing), never for a re-filter of an incomplete list
    (see policy.py)."""
    kind = params.context.trigger_kind if params.context else lsp.CompletionTriggerKind.Invoked
    caps = ls.client_capabilities.text_document
    door = policy.classic_door(
        client_has_inline=caps is not None and caps.inline_completion is not None,
        re_trigger=kind == lsp.CompletionTriggerKind.TriggerForIncompleteCompletions)
    # Not the user's own request, whatever its trigger kind: `enabled` and `manualOnly` apply.
    prepared = _request(ls, params.text_document.uri, params.position, False, door)
    if prepared is None:
        return lsp.CompletionList(is_incomplete=True, items=[])
    req, doc = prepared
    result = await ls.engine.complete(req)
    items = []
    for item in result.items[:1]:
        first = item.text.strip().splitlines()[0] if item.text.strip() else item.text
        items.append(lsp.CompletionItem(
            label=first[:80],
            kind=lsp.CompletionItemKind.Text,
            detail="DeepSeek FIM",
            documentation=lsp.MarkupContent(lsp.MarkupKind.Markdown,
                                            f"```{req.language_id}\n{item.text}\n```"),
            text_edit=lsp.TextEdit(_range(ls, doc, req, item.replace), item.text),
            insert_text_format=lsp.InsertTextFormat.PlainText,
            filter_text=item.text,
            sort_text="0",
            command=_accept_command(item.id),
        ))
    return lsp.CompletionList(is_incomplete=True, items=items)


@server.command(CMD_ACCEPTED)
def accepted(ls: FimLanguageServer, *args: Any) -> bool:
    item_id = args[0] if args else None
    return ls.engine.accepted(str(item_id)) if item_id is not None else False


@server.command(CMD_SET_ENABLED)
def set_enabled(ls: FimLanguageServer, *args: Any) -> bool:
    want = args[0] if args else None
    current = ls.engine.settings
    enabled = (not current.enabled) if want is None else bool(want)
    ls.base_settings = dataclasses.replace(ls.base_settings, enabled=enabled)
    ls.engine.update_settings(dataclasses.replace(current, enabled=enabled))
    if enabled:
        ls.send_status("ready", "completion is on", None)
    else:
        ls.send_status("disabled", "completion is turned off", None)
    return enabled


def stats_payload(ls: FimLanguageServer) -> dict[str, Any]:
    engine = ls.engine
    err = engine.last_error
    return {
        "session": engine.ledger.session.as_dict(),
        "today": engine.ledger.today.as_dict(),
        "model": engine.settings.model,
        "modelAvailable": engine.model_available,
        "lastError": err.user_message if err else None,
        "enabled": engine.settings.enabled,
        "backendRequests": engine.backend_requests,
        # Health: backend calls in flight and asyncio tasks alive (both stay small at rest).
        "inflight": len(engine._inflight),
        "tasks": len(asyncio.all_tasks()),
    }


@server.command(CMD_STATS)
def stats_command(ls: FimLanguageServer, *args: Any) -> dict[str, Any]:
    return stats_payload(ls)


@server.feature(STATS)
def stats_request(ls: FimLanguageServer, params: Any) -> dict[str, Any]:
    return stats_payload(ls)


@server.feature(lsp.SHUTDOWN)
async def shutdown(ls: FimLanguageServer, params: Any) -> None:
    await ls.engine.aclose()


def serve() -> None:
    """Speak LSP over stdin/stdout until the client says exit.

    Exits with code 1 when the session ended without ``shutdown`` (the LSP rule); pygls raises
    that ``SystemExit`` inside its loop, which swallows it.
    """
    server.start_io()
    if not getattr(server.protocol, "_shutdown", False):
        sys.exit(1)
