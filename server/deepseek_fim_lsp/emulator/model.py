"""Pure parts of the DeepSeek API emulator: token counting, the prefix cache, request
validation and default answers.

Kept apart from the HTTP server (:mod:`.server`, :mod:`.app`) so the rules that tests assert on
(token counts, cache hits, which body gets which status) can be read in one place.

Status choices where the docs leave room (§5): malformed JSON → 400 plain text ("Failed to
parse the request body as JSON"); a missing field or a wrong JSON type → 422 plain text
("Failed to deserialize the JSON body into the target type: …", the 2024-25 behaviour);
a value out of range (temperature, top_p, >16 stops, logprobs, FIM max_tokens > 4096,
penalties, stream_options without stream) → 422 with the JSON envelope; unknown model →
400 "Model Not Exist"; unknown chat role, empty messages, bad tool names, prefix
completion outside /beta and thinking-mode tool rules → 400 with the envelope.
"""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass
from typing import Any

# --------------------------------------------------------------------------- tokens

#: Token weight per character in tenths of a token (§7: ~0.3 per ASCII char, ~0.6 otherwise).
_ASCII_WEIGHT = 3
_OTHER_WEIGHT = 6


def _weight(ch: str) -> int:
    return _ASCII_WEIGHT if ord(ch) < 128 else _OTHER_WEIGHT


def count_tokens(text: str) -> int:
    """Emulated token count: ``ceil(0.3 * ascii_chars + 0.6 * non_ascii_chars)``."""
    # Counted at C speed ("ignore" drops every non-ASCII code point, lone surrogates too): a
    # prompt of 16,000 characters took 1.3 ms character by character.
    ascii_chars = len(text) if text.isascii() else len(text.encode("ascii", "ignore"))
    tenths = _ASCII_WEIGHT * ascii_chars + _OTHER_WEIGHT * (len(text) - ascii_chars)
    return math.ceil(tenths / 10)


def truncate_to_tokens(text: str, max_tokens: int) -> str:
    """Longest prefix of ``text`` whose emulated token count is at most ``max_tokens``."""
    limit = max_tokens * 10
    if text.isascii():
        return text[: max(0, limit // _ASCII_WEIGHT)]
    tenths = 0
    for i, ch in enumerate(text):
        tenths += _weight(ch)
        if tenths > limit:
            return text[:i]
    return text


def unit_boundaries(text: str, unit_tokens: int) -> list[int]:
    """Character positions that end each whole cache unit of ``text``.

    Boundary k is the first position where the running weight reaches ``k * unit_tokens``
    tokens, so the text before it counts as exactly k units (never fewer).
    """
    if unit_tokens <= 0:
        return []
    step = unit_tokens * 10
    if text.isascii():  # every character weighs the same: boundary k is ceil(k·step / weight)
        return [-(-k * step // _ASCII_WEIGHT)
                for k in range(1, _ASCII_WEIGHT * len(text) // step + 1)]
    target = step
    tenths = 0
    out: list[int] = []
    for i, ch in enumerate(text):
        tenths += _weight(ch)
        if tenths >= target:
            out.append(i + 1)
            target += step
    return out


class PrefixCache:
    """Deterministic model of DeepSeek context caching (§8).

    After each request every whole-unit prefix of its input is stored (as a hash, per
    model); a later request hits the longest stored prefix it starts with, and the hit is
    reported as ``units * unit_tokens`` tokens.
    """

    def __init__(self, unit_tokens: int) -> None:
        self.unit_tokens = unit_tokens
        self._stored: set[tuple[str, bytes]] = set()

    def clear(self) -> None:
        self._stored.clear()

    def _digests(self, text: str) -> list[bytes]:
        h = hashlib.sha256()
        pos = 0
        out: list[bytes] = []
        for end in unit_boundaries(text, self.unit_tokens):
            h.update(text[pos:end].encode("utf-8", "surrogatepass"))
            pos = end
            out.append(h.copy().digest())
        return out

    def lookup_and_store(self, model: str, text: str) -> int:
        """Return the hit tokens for ``text``, then remember its whole-unit prefixes."""
        digests = self._digests(text)
        hit_units = 0
        for k in range(len(digests), 0, -1):
            if (model, digests[k - 1]) in self._stored:
                hit_units = k
                break
        for d in digests:
            self._stored.add((model, d))
        return hit_units * self.unit_tokens


# --------------------------------------------------------------------------- chunks

_CHUNK_RE = re.compile(r"\s*(?:\w{1,4}|[^\w\s]{1,2})|\s+", re.UNICODE)


def split_chunks(text: str) -> list[str]:
    """Split text into small stream deltas (about four characters, word-ish)."""
    return _CHUNK_RE.findall(text)


def fit_chunks(chunks: list[str], text: str) -> list[str]:
    """Trim explicit chunks so their concatenation is ``text`` (a prefix of their join)."""
    out: list[str] = []
    left = len(text)
    for c in chunks:
        if left <= 0:
            break
        piece = c[:left]
        out.append(piece)
        left -= len(piece)
    if left > 0:  # text longer than the chunks (e.g. echo): add the rest in one piece
        out.append(text[len(text) - left :])
    return [c for c in out if c]


# --------------------------------------------------------------------------- validation


class ApiError(Exception):
    """A request the emulated API refuses; rendered as the §5 envelope or plain text."""

    def __init__(self, status: int, message: str, *, plain: bool = False,
                 type_: str = "invalid_request_error", param: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.plain = plain
        self.type = type_
        self.param = param


def _json_type(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return f"boolean `{str(v).lower()}`"
    if isinstance(v, int):
        return f"integer `{v}`"
    if isinstance(v, float):
        return f"floating point `{v}`"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "sequence"
    return "map"


def _type_error(field: str, value: Any, expected: str) -> ApiError:
    return ApiError(
        422,
        "Failed to deserialize the JSON body into the target type: "
        f"{field}: invalid type: {_json_type(value)}, expected {expected} at line 1 column 1",
        plain=True,
    )


def _missing(field: str) -> ApiError:
    return ApiError(
        422,
        "Failed to deserialize the JSON body into the target type: "
        f"missing field `{field}` at line 1 column 1",
        plain=True,
    )


def _range_error(field: str, message: str) -> ApiError:
    return ApiError(422, message, param=field)


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_num(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _opt(body: dict[str, Any], field: str, check: Any, expected: str) -> Any:
    v = body.get(field)
    if v is not None and not check(v):
        raise _type_error(field, v, expected)
    return v


def _check_common(body: dict[str, Any], *, max_tokens_cap: int) -> None:
    """Types and ranges shared by FIM and chat."""
    mt = _opt(body, "max_tokens", _is_int, "u32")
    temp = _opt(body, "temperature", _is_num, "f32")
    top_p = _opt(body, "top_p", _is_num, "f32")
    stop = body.get("stop")
    if stop is not None and not (
        isinstance(stop, str) or (isinstance(stop, list) and all(isinstance(s, str) for s in stop))
    ):
        raise _type_error("stop", stop, "a string or a sequence of strings")
    _opt(body, "stream", lambda v: isinstance(v, bool), "a boolean")
    so = _opt(body, "stream_options", lambda v: isinstance(v, dict), "struct StreamOptions")
    if so is not None:
        _opt(so, "include_usage", lambda v: isinstance(v, bool), "a boolean")
    fp = _opt(body, "frequency_penalty", _is_num, "f32")
    pp = _opt(body, "presence_penalty", _is_num, "f32")
    # ranges: JSON envelope, 422
    if mt is not None and not 1 <= mt <= max_tokens_cap:
        raise _range_error("max_tokens", f"Invalid max_tokens value, the valid range of "
                                         f"max_tokens is [1, {max_tokens_cap}]")
    if temp is not None and not 0 <= temp <= 2:
        raise _range_error("temperature", "Invalid temperature value, the valid range of "
                                          "temperature is [0, 2]")
    if top_p is not None and not 0 <= top_p <= 1:
        raise _range_error("top_p", "Invalid top_p value, the valid range of top_p is [0, 1]")
    if isinstance(stop, list) and len(stop) > 16:
        raise _range_error("stop", "Invalid stop value, at most 16 stop sequences are allowed")
    for name, val in (("frequency_penalty", fp), ("presence_penalty", pp)):
        if val is not None and not -2 <= val <= 2:
            raise _range_error(name, f"Invalid {name} value, the valid range of {name} "
                                     "is [-2, 2]")
    if so is not None and not body.get("stream"):
        raise _range_error("stream_options",
                           "stream_options should be set along with stream = true")


def _check_model(body: dict[str, Any], models: set[str]) -> None:
    if "model" not in body or body["model"] is None:
        raise _missing("model")
    if not isinstance(body["model"], str):
        raise _type_error("model", body["model"], "a string")
    if body["model"] not in models:
        raise ApiError(400, "Model Not Exist")


def validate_fim(body: Any, models: set[str]) -> None:
    """Raise :class:`ApiError` if the FIM body would be refused by the API (§2, §5)."""
    if not isinstance(body, dict):
        raise _type_error("body", body, "struct CompletionRequest")
    _check_model(body, models)
    if "prompt" not in body or body["prompt"] is None:
        raise _missing("prompt")
    if not isinstance(body["prompt"], str):
        raise _type_error("prompt", body["prompt"], "a string")
    _opt(body, "suffix", lambda v: isinstance(v, str), "a string")
    _opt(body, "echo", lambda v: isinstance(v, bool), "a boolean")
    lp = _opt(body, "logprobs", _is_int, "u32")
    _check_common(body, max_tokens_cap=4096)
    if lp is not None and not 0 <= lp <= 20:
        raise _range_error("logprobs", "Invalid logprobs value, the valid range of logprobs "
                                       "is [0, 20]")


_ROLES = {"system", "user", "assistant", "tool"}
_TOOL_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
_EFFORTS = {"low", "medium", "high", "max", "xhigh", "minimal", "ultra"}


def message_text(msg: dict[str, Any]) -> str:
    """The text of a chat message (string content or a list of text parts)."""
    content = msg.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return ""


def validate_chat(body: Any, models: set[str], *, beta: bool) -> None:
    """Raise :class:`ApiError` if the chat body would be refused by the API (§3, §5)."""
    if not isinstance(body, dict):
        raise _type_error("body", body, "struct ChatCompletionRequest")
    _check_model(body, models)
    if "messages" not in body or body["messages"] is None:
        raise _missing("messages")
    msgs = body["messages"]
    if not isinstance(msgs, list):
        raise _type_error("messages", msgs, "a sequence")
    for i, m in enumerate(msgs):
        if not isinstance(m, dict):
            raise _type_error(f"messages[{i}]", m, "struct Message")
        if not isinstance(m.get("role"), str):
            raise _missing(f"messages[{i}].role") if "role" not in m else _type_error(
                f"messages[{i}].role", m["role"], "a string")
        c = m.get("content")
        if c is not None and not isinstance(c, str | list):
            raise _type_error(f"messages[{i}].content", c, "a string or a sequence")
    thinking = _opt(body, "thinking", lambda v: isinstance(v, dict), "struct Thinking")
    if thinking is not None and thinking.get("type") not in ("enabled", "disabled"):
        raise _type_error("thinking.type", thinking.get("type"), "`enabled` or `disabled`")
    rf = _opt(body, "response_format", lambda v: isinstance(v, dict), "struct ResponseFormat")
    if rf is not None and rf.get("type") not in ("text", "json_object"):
        raise _type_error("response_format.type", rf.get("type"), "`text` or `json_object`")
    _opt(body, "logprobs", lambda v: isinstance(v, bool), "a boolean")
    tlp = _opt(body, "top_logprobs", _is_int, "u32")
    tools = _opt(body, "tools", lambda v: isinstance(v, list), "a sequence")
    effort = _opt(body, "reasoning_effort", lambda v: isinstance(v, str), "a string")
    _check_common(body, max_tokens_cap=384000)
    if not msgs:
        raise ApiError(400, "Invalid request: messages must not be empty", param="messages")
    for m in msgs:
        if m["role"] not in _ROLES:
            raise ApiError(400, f"Invalid request: unknown role `{m['role']}`", param="messages")
    if tlp is not None and not 0 <= tlp <= 20:
        raise _range_error("top_logprobs", "Invalid top_logprobs value, the valid range of "
                                           "top_logprobs is [0, 20]")
    if effort is not None and effort not in _EFFORTS:
        raise _range_error("reasoning_effort", f"Invalid reasoning_effort `{effort}`")
    if tools is not None and len(tools) > 128:
        raise ApiError(400, "Invalid request: at most 128 tools are allowed", param="tools")
    if is_prefix_request(body) and not beta:
        raise ApiError(400, "Prefix completion is only available with base_url "
                            "https://api.deepseek.com/beta", param="messages")
    for t in tools or []:
        name = (t.get("function") or {}).get("name") if isinstance(t, dict) else None
        if not isinstance(name, str) or not _TOOL_NAME.fullmatch(name):
            raise ApiError(400, f"Invalid tool name {name!r}: use [A-Za-z0-9_-], at most 64 "
                                "characters", param="tools")
    tc = body.get("tool_choice")
    if thinking_enabled(body):
        if tc == "required" or isinstance(tc, dict):
            raise ApiError(400, "tool_choice `required` or a named function is not supported "
                                "in thinking mode", param="tool_choice")
        last_user = max((i for i, m in enumerate(msgs) if m["role"] == "user"), default=-1)
        for m in msgs[last_user + 1:]:
            if m["role"] == "assistant" and m.get("tool_calls") and not m.get(
                    "reasoning_content"):
                raise ApiError(400, "Missing `reasoning_content` in an assistant message with "
                                    "tool_calls: thinking mode needs it sent back",
                               param="messages")


def is_prefix_request(body: dict[str, Any]) -> bool:
    msgs = body.get("messages") or []
    last = msgs[-1] if msgs else None
    return bool(isinstance(last, dict) and last.get("role") == "assistant" and last.get("prefix"))


def thinking_enabled(body: dict[str, Any]) -> bool:
    """Thinking defaults to on (V4 models), except for the legacy non-thinking alias."""
    thinking = body.get("thinking")
    if isinstance(thinking, dict) and thinking.get("type") in ("enabled", "disabled"):
        return bool(thinking["type"] == "enabled")
    return body.get("model") != "deepseek-chat"


def chat_input(body: dict[str, Any]) -> str:
    """The model input of a chat request: each message as ``<role>\\n<content>\\n``."""
    return "".join(f"{m.get('role')}\n{message_text(m)}\n" for m in body.get("messages", []))


def chat_prompt(body: dict[str, Any]) -> str:
    """What ``Rule.prompt_*`` match against for chat: message contents joined by newlines."""
    return "\n".join(message_text(m) for m in body.get("messages", []))


# --------------------------------------------------------------------------- defaults


def default_fim_text(body: dict[str, Any]) -> str:
    """Deterministic stand-in for a model answer.

    ``pass``; when the prompt ends right after a ``:`` on the same line, a newline plus
    the line's indentation + 4 spaces comes first (so it is a valid Python block).
    """
    prompt: str = body.get("prompt") or ""
    line = prompt.rsplit("\n", 1)[-1]
    if line.rstrip().endswith(":") and line.strip():
        indent = line[: len(line) - len(line.lstrip())]
        return "\n" + indent + "    pass"
    return "pass"


def default_chat_text(body: dict[str, Any]) -> str:
    """Deterministic chat answer: JSON for json_object, a code block end for prefix mode."""
    rf = body.get("response_format") or {}
    if rf.get("type") == "json_object":
        return '{"result": "ok"}'
    if is_prefix_request(body):
        return "pass\n```\n"
    return "This is a reply from the DeepSeek API emulator."


DEFAULT_REASONING = "The user wants an answer. I will answer briefly."


@dataclass
class Generated:
    """The outcome of applying stop / max_tokens to a raw answer."""

    text: str
    finish_reason: str
    completion_tokens: int


def apply_limits(raw: str, body: dict[str, Any], finish_reason: str) -> Generated:
    """Cut at the first stop string (not returned), then at ``max_tokens`` (→ ``length``)."""
    text = raw
    stop = body.get("stop")
    stops = [stop] if isinstance(stop, str) else list(stop or [])
    cut = min((i for s in stops if s and (i := text.find(s)) >= 0), default=-1)
    if cut >= 0:
        text = text[:cut]
    mt = body.get("max_tokens")
    if isinstance(mt, int) and count_tokens(text) > mt:
        text = truncate_to_tokens(text, mt)
        finish_reason = "length"
    return Generated(text, finish_reason, count_tokens(text))


def fake_logprobs(pieces: list[str], n: int, offset: int) -> dict[str, Any]:
    """FIM-style logprobs for the given pieces (deterministic, plausible numbers)."""
    tokens = list(pieces)
    lps = [-0.01 * (i % 7 + 1) for i in range(len(tokens))]
    top = [{t: lp, **{f"{t}_{j}": lp - j for j in range(1, n + 1)}} for t, lp in zip(tokens, lps,
                                                                                     strict=True)]
    offsets: list[int] = []
    pos = offset
    for t in tokens:
        offsets.append(pos)
        pos += len(t)
    return {"tokens": tokens, "token_logprobs": lps, "top_logprobs": top, "text_offset": offsets}
