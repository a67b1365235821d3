"""Response bodies of the DeepSeek API emulator: whole objects and SSE stream chunks.

Pure functions of a :class:`Plan` (what to answer), so the JSON shapes the clients parse
(``text_completion``, ``chat.completion`` and ``chat.completion.chunk``, with their usage
placement) are written in one place, next to the §5 error envelope (:func:`error_envelope`).
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from typing import Any

from .model import Generated, fake_logprobs, fit_chunks, split_chunks


@dataclass
class Plan:
    """Everything needed to render one completion answer."""

    kind: str  # fim | chat
    body: dict[str, Any]
    gen: Generated
    reasoning: str | None
    usage: dict[str, Any]
    stream: bool
    include_usage: bool
    tool_calls: list[dict[str, Any]] | None
    chunks: list[str] | None
    usage_placement: str


def object_base(plan: Plan, obj_type: str) -> dict[str, Any]:
    """Fields every response object carries; one id per answer, shared by its chunks."""
    return {"id": ("cmpl-" if plan.kind == "fim" else "chatcmpl-") + uuid.uuid4().hex,
            "object": obj_type, "created": int(time.time()), "model": plan.body["model"],
            "system_fingerprint": "fp_emulator"}


def output_text(plan: Plan) -> str:
    """The text the client receives: with ``echo`` the FIM prompt comes first."""
    if plan.kind == "fim" and plan.body.get("echo"):
        return str(plan.body["prompt"]) + plan.gen.text
    return plan.gen.text


def tool_calls(plan: Plan) -> list[dict[str, Any]]:
    """Scripted tool calls in the API's shape (ids filled in, arguments as a JSON string)."""
    out = []
    for i, tc in enumerate(plan.tool_calls or []):
        fn = dict(tc.get("function") or {})
        args = fn.get("arguments", tc.get("arguments", "{}"))
        out.append({"id": tc.get("id") or f"call_{i}_{uuid.uuid4().hex[:8]}",
                    "type": "function",
                    "function": {"name": fn.get("name", tc.get("name", "")),
                                 "arguments": args if isinstance(args, str)
                                 else json.dumps(args)}})
    return out


def full_object(plan: Plan) -> dict[str, Any]:
    """The non-streamed body: ``text_completion`` (FIM) or ``chat.completion``."""
    text = output_text(plan)
    if plan.kind == "fim":
        lp = plan.body.get("logprobs")
        choice: dict[str, Any] = {
            "index": 0, "text": text, "finish_reason": plan.gen.finish_reason,
            "logprobs": fake_logprobs(split_chunks(text), lp, 0) if lp is not None else None}
        return {**object_base(plan, "text_completion"), "choices": [choice],
                "usage": plan.usage}
    msg: dict[str, Any] = {"role": "assistant", "content": text}
    if plan.reasoning is not None:
        msg["reasoning_content"] = plan.reasoning
    if plan.tool_calls:
        msg["tool_calls"] = tool_calls(plan)
    choice = {"index": 0, "message": msg, "finish_reason": plan.gen.finish_reason,
              "logprobs": chat_logprobs(plan, text)}
    return {**object_base(plan, "chat.completion"), "choices": [choice], "usage": plan.usage}


def chat_logprobs(plan: Plan, text: str) -> dict[str, Any] | None:
    """Chat-style logprobs (one entry per chunk) when the request asked for them."""
    if not plan.body.get("logprobs"):
        return None
    return {"content": [{"token": t, "logprob": -0.01, "bytes": list(t.encode()),
                         "top_logprobs": []} for t in split_chunks(text)]}


def pieces(plan: Plan) -> list[str]:
    """Stream deltas of the output: the scripted chunks (trimmed to it) or small splits."""
    text = output_text(plan)
    if plan.chunks is not None:
        return fit_chunks(plan.chunks, text)
    return split_chunks(text)


def stream_objects(plan: Plan) -> list[dict[str, Any]]:
    """All SSE data objects of a streamed answer, in order (without ``[DONE]``)."""
    base = object_base(plan, "text_completion" if plan.kind == "fim" else
                             "chat.completion.chunk")
    finish = plan.gen.finish_reason
    objs: list[dict[str, Any]] = []
    if plan.kind == "fim":
        for piece in ["", *pieces(plan)]:
            objs.append({**base, "choices": [{"index": 0, "text": piece,
                                              "finish_reason": None, "logprobs": None}]})
    else:
        deltas: list[dict[str, Any]] = [{"role": "assistant", "content": ""}]
        if plan.reasoning is not None:
            deltas[0]["reasoning_content"] = ""
            deltas += [{"content": None, "reasoning_content": p}
                       for p in split_chunks(plan.reasoning)]
        deltas += [{"content": p} for p in pieces(plan)]
        if plan.tool_calls:
            deltas += [{"tool_calls": [{"index": i, **tc}]}
                       for i, tc in enumerate(tool_calls(plan))]
        for d in deltas:
            objs.append({**base, "choices": [{"index": 0, "delta": d,
                                              "finish_reason": None, "logprobs": None}]})
    objs[-1]["choices"][0]["finish_reason"] = finish
    for o in objs:
        o["usage"] = None
    if plan.include_usage:
        if plan.usage_placement == "last_chunk":
            objs[-1]["usage"] = plan.usage
        else:
            objs.append({**base, "choices": [], "usage": plan.usage})
    return objs


# Default message and type per status when a scripted error names none.
_DEFAULT_ERRORS = {
    400: ("Invalid request", "invalid_request_error"),
    401: ("Authentication Fails (no such user)", "authentication_error"),
    402: ("Insufficient Balance", "unknown_error"),
    404: ("Not Found", "invalid_request_error"),
    422: ("Invalid parameter", "invalid_request_error"),
    429: ("Rate Limit Reached", "rate_limit_error"),
    500: ("Internal Server Error", "api_error"),
    503: ("Server overloaded, please try again later", "api_error"),
}


def error_envelope(status: int, message: str | None = None, *, type_: str | None = None,
                   param: str | None = None) -> dict[str, Any]:
    """The §5 error body."""
    default_msg, default_type = _DEFAULT_ERRORS.get(status, ("Error", "api_error"))
    return {"error": {"message": message or default_msg, "type": type_ or default_type,
                      "param": param, "code": "invalid_request_error"}}
