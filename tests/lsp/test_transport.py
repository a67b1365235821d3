"""The stdio transport: framing recovery and JSON-RPC error answers for malformed input.

Unit tests of :mod:`deepseek_fim_lsp.lsp.transport`'s frame parser and message check, then the real
server process driven over raw stdio (``raw_server`` from test_hardening) with bytes no client
library would send.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from test_hardening import RawServer, raw_server, still_answers

from deepseek_fim_lsp.emulator import Emulator
from deepseek_fim_lsp.lsp.transport import (
    INVALID_REQUEST,
    MAX_BODY,
    PARSE_ERROR,
    Frame,
    FrameParser,
    Rejected,
    Skipped,
    decode,
)

SECRET = b"GARBAGE-7d1c-do-not-log"


def framed(body: bytes, header: bytes | None = None) -> bytes:
    return (header if header is not None else b"Content-Length: %d\r\n" % len(body)) \
        + b"\r\n" + body


def parse(*chunks: bytes, close: bool = True) -> list[Frame | Skipped]:
    parser = FrameParser()
    events: list[Frame | Skipped] = []
    for chunk in chunks:
        events += parser.feed(chunk)
    return events + (parser.close() if close else [])


# --- the frame parser -------------------------------------------------------------------------


def test_frames_with_usual_and_lenient_headers() -> None:
    stream = (framed(b'{"a":1}')
              + b"Content-Type: application/vscode-jsonrpc; charset=utf-8\r\n"
              + framed(b"[2]")
              + framed(b"3", b"content-length:1\r\n")  # header names are case-insensitive
              + b"\r\n"  # a stray blank line between frames
              + b"Content-Length: 2\n\nab"  # bare \n line ends
              + framed(b""))
    assert parse(stream) == [Frame(b'{"a":1}'), Frame(b"[2]"), Frame(b"3"), Frame(b"ab"),
                             Frame(b"")]


def test_frames_split_anywhere() -> None:
    stream = framed(b'{"x": "\xc3\xa9"}') + framed(b"{}")
    one_by_one = parse(*(stream[i:i + 1] for i in range(len(stream))))
    assert one_by_one == parse(stream) == [Frame(b'{"x": "\xc3\xa9"}'), Frame(b"{}")]


@pytest.mark.parametrize(("garbage", "reason"), [
    (b"Garbage line\r\n", "not a header line"),
    (b"{\"jsonrpc\": \"2.0\", \"id\": 9, \"method\": \"x\"}", "not a header line"),  # no header
    (b"Content-Length: abc\r\n\r\n", "not a non-negative number"),
    (b"Content-Length: -5\r\n\r\n", "not a non-negative number"),
    (b"Content-Length: 5\r\nContent-Length: 6\r\n\r\n", "conflicting"),
    (b"Content-Type: text/plain\r\n\r\n", "no Content-Length"),
    (b"X-\xff\xfe: 1\r\n\r\n", "not a header line"),
])
def test_garbage_is_skipped_up_to_the_next_frame(garbage: bytes, reason: str) -> None:
    events = parse(garbage + SECRET + framed(b"{}") + framed(b"[]"))
    assert len(events) == 3
    skipped = events[0]
    assert isinstance(skipped, Skipped)
    assert skipped.size == len(garbage) + len(SECRET)
    assert reason in skipped.reason
    assert SECRET.decode() not in skipped.describe()
    assert str(skipped.size) in skipped.describe()
    assert events[1:] == [Frame(b"{}"), Frame(b"[]")]


def test_garbage_right_before_a_header_in_the_same_line() -> None:
    """A body sent without a header runs straight into the next frame's header."""
    body = b'{"jsonrpc":"2.0","id":1,"method":"m"}'
    events = parse(body, framed(b"{}"))
    assert events == [Skipped(len(body), "not a header line"), Frame(b"{}")]


def test_huge_content_length_is_refused_without_reading_it() -> None:
    parser = FrameParser()
    header = b"Content-Length: %d\r\n\r\n" % (MAX_BODY + 1)
    # The declared body never comes: the parser must not wait for it.
    events = parser.feed(header + b"x" * 1000)
    events += parser.feed(b"y" * 100_000 + framed(b"{}"))
    assert len(events) == 2 and events[1] == Frame(b"{}")
    assert isinstance(events[0], Skipped) and "64 MiB" in events[0].reason
    assert events[0].size == len(header) + 101_000
    assert len(parser._buf) == 0
    # Even a length too long to be a number in memory.
    assert isinstance(parse(b"Content-Length: " + b"9" * 5000 + b"\r\n\r\n")[0], Skipped)


def test_a_body_at_the_limit_is_accepted() -> None:
    parser = FrameParser(max_body=10)
    assert parser.feed(framed(b"0123456789")) == [Frame(b"0123456789")]
    events = parser.feed(framed(b"0123456789X") + framed(b"{}"))
    assert isinstance(events[0], Skipped) and events[1:] == [Frame(b"{}")]


def test_endless_garbage_keeps_memory_bounded() -> None:
    parser = FrameParser()
    for _ in range(200):
        assert parser.feed(b"no header here, never a newline " * 2000) == []
        assert len(parser._buf) < 100
    events = parser.feed(b"Content-Len")  # a marker split across chunks is still found
    events += parser.feed(b"gth: 2\r\n\r\n{}")
    assert isinstance(events[0], Skipped) and events[0].size == 200 * 64_000
    assert events[1:] == [Frame(b"{}")]


def test_header_line_without_end_is_garbage_once_too_long() -> None:
    parser = FrameParser(max_header=64)
    assert parser.feed(b"X-Long: " + b"a" * 50) == []
    events = parser.feed(b"a" * 20 + b"\r\n" + framed(b"{}"))
    assert isinstance(events[0], Skipped) and "too long" in events[0].reason
    assert events[1:] == [Frame(b"{}")]


def test_end_of_input_inside_a_message_is_reported() -> None:
    assert parse(b"Content-Length: 10\r\n\r\n{}") == [
        Skipped(2, "the input ended inside a message")]
    assert parse(b"Content-Len") == [Skipped(11, "the input ended inside a message")]
    assert parse(framed(b"{}")) == [Frame(b"{}")]
    assert parse(b"") == []


HEADERISH = st.sampled_from([b"\r\n", b"\n", b"\r", b":", b" ", b"Content-Type: x\r\n",
                             b"Content-Length", b"X-A: 1", b"{", b"\xff"])


@given(st.lists(st.one_of(st.binary(max_size=60), HEADERISH), max_size=12),
       st.lists(st.integers(1, 7), max_size=40))
def test_any_prefix_of_garbage_never_hides_the_frames_after_it(
        garbage: list[bytes], cuts: list[int]) -> None:
    """Whatever comes first (short of a Content-Length header, which would be believed), the
    valid frames after a line end and a blank line are all found."""
    assume(b"content-length:" not in b"".join(garbage).lower())
    bodies = [b'{"n":%d}' % i for i in range(3)]
    stream = b"".join(garbage) + b"\r\n\r\n" + b"".join(framed(b) for b in bodies)
    chunks, pos = [], 0
    for cut in cuts:
        chunks.append(stream[pos:pos + cut])
        pos += cut
    chunks.append(stream[pos:])
    events = parse(*chunks)
    frames = [e.body for e in events if isinstance(e, Frame)]
    assert frames == bodies
    skipped = sum(e.size for e in events if isinstance(e, Skipped))
    assert skipped + sum(len(framed(f)) for f in frames) <= len(stream)


# --- the message check ------------------------------------------------------------------------


@pytest.mark.parametrize(("body", "code", "msg_id", "answer"), [
    (b"{this is not json", PARSE_ERROR, None, True),
    (b'{"jsonrpc": "2.0", "method": "\xc3\xa9", "id": "', PARSE_ERROR, None, True),
    (b'{"jsonrpc": "2.0", "method": "\xff", "id": 1}', PARSE_ERROR, None, True),
    (b"", PARSE_ERROR, None, True),
    (b"[" * 100_000, PARSE_ERROR, None, True),
    (b"[1, 2, 3]", INVALID_REQUEST, None, True),
    (b"[]", INVALID_REQUEST, None, True),
    (b'[{"jsonrpc": "2.0", "id": 1, "method": "shutdown"}]', INVALID_REQUEST, None, True),
    (b"42", INVALID_REQUEST, None, True),
    (b'"a string"', INVALID_REQUEST, None, True),
    (b"null", INVALID_REQUEST, None, True),
    (b'{"jsonrpc": "2.0", "id": "no-method"}', INVALID_REQUEST, "no-method", True),
    (b'{"jsonrpc": "1.0", "id": 7, "method": "m"}', INVALID_REQUEST, 7, True),
    (b'{"id": 8, "method": "m"}', INVALID_REQUEST, 8, True),
    (b'{"jsonrpc": "2.0", "id": 9, "method": 5}', INVALID_REQUEST, 9, True),
    (b'{"jsonrpc": "2.0", "id": null, "method": "m"}', INVALID_REQUEST, None, True),
    (b'{"jsonrpc": "2.0", "id": true, "method": "m"}', INVALID_REQUEST, None, True),
    (b'{"jsonrpc": "2.0", "id": [1], "method": "m"}', INVALID_REQUEST, None, True),
    # Notifications and responses are never answered.
    (b'{"jsonrpc": "1.0", "method": "initialized"}', INVALID_REQUEST, None, False),
    (b'{"jsonrpc": "2.0", "method": 5}', INVALID_REQUEST, None, False),
    (b'{"jsonrpc": "2.0"}', INVALID_REQUEST, None, False),
    (b'{"jsonrpc": "2.0", "result": 1}', INVALID_REQUEST, None, False),
    (b'{"jsonrpc": "1.0", "id": 3, "result": 1}', INVALID_REQUEST, 3, False),
])
def test_malformed_bodies_are_rejected(body: bytes, code: int, msg_id: Any,
                                       answer: bool) -> None:
    rejected = decode(body)
    assert isinstance(rejected, Rejected)
    assert (rejected.code, rejected.id, rejected.answer) == (code, msg_id, answer)
    response = rejected.response()
    assert response == {"jsonrpc": "2.0", "id": msg_id,
                        "error": {"code": code, "message": rejected.message}}
    assert rejected.message.startswith("Parse error" if code == PARSE_ERROR
                                       else "Invalid Request")
    assert json.loads(json.dumps(response)) == response


@pytest.mark.parametrize("message", [
    {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {}},
    {"jsonrpc": "2.0", "id": "a", "method": "custom"},  # no params (Neovim does this)
    {"jsonrpc": "2.0", "method": "initialized", "params": {}},
    {"jsonrpc": "2.0", "id": 4, "result": None},
    {"jsonrpc": "2.0", "id": 5, "error": {"code": -1, "message": "no"}},
    {"jsonrpc": "2.0", "id": 6, "method": "m", "params": 5},  # pygls answers InvalidParams
])
def test_well_formed_messages_pass(message: dict[str, Any]) -> None:
    assert decode(json.dumps(message).encode()) == message


# --- the real server over stdio ---------------------------------------------------------------


async def answer_to(server: RawServer, body: bytes | None = None, *,
                    raw: bytes | None = None) -> dict[str, Any] | None:
    """Send a framed ``body`` (or ``raw`` bytes), then a valid request, and return the one
    response the first got, if any; the valid request must be answered in any case."""
    before = len(server.frames)
    if body is not None:
        server.send_body(body)
    if raw is not None:
        server.write(raw)
    stats = await server.request("deepseekFim/stats", {})
    assert stats["result"]["enabled"] is True
    answers = [f for f in server.frames[before:] if "method" not in f and f is not stats]
    assert len(answers) <= 1, answers
    return answers[0] if answers else None


def logged(server: RawServer) -> str:
    return "\n".join(p["message"] for p in server.notifications("window/logMessage"))


@pytest.mark.parametrize(("body", "code", "msg_id"), [
    (b"{this is not json", PARSE_ERROR, None),
    (b'{"jsonrpc": "2.0", "method": "\xff", "id": 1}', PARSE_ERROR, None),
    (b"", PARSE_ERROR, None),
    (b"[1, 2, 3]", INVALID_REQUEST, None),
    (b'[{"jsonrpc": "2.0", "id": 99, "method": "deepseekFim/stats"}]', INVALID_REQUEST, None),
    (b"42", INVALID_REQUEST, None),
    (b"null", INVALID_REQUEST, None),
    (b'{"jsonrpc": "2.0", "id": "no-method"}', INVALID_REQUEST, "no-method"),
    (b'{"jsonrpc": "1.0", "id": 7, "method": "deepseekFim/stats"}', INVALID_REQUEST, 7),
    (b'{"id": 8, "method": "deepseekFim/stats", "params": {}}', INVALID_REQUEST, 8),
    (b'{"jsonrpc": "2.0", "id": 9, "method": 5}', INVALID_REQUEST, 9),
])
async def test_malformed_requests_get_an_error_answer(tmp_path: Path, emulator: Emulator,
                                                      body: bytes, code: int,
                                                      msg_id: Any) -> None:
    async with raw_server(tmp_path, emulator.base_url) as server:
        answer = await answer_to(server, body)
        assert answer is not None, "the malformed request was not answered"
        assert answer["id"] == msg_id and "id" in answer
        assert answer["error"]["code"] == code
        assert "result" not in answer
        await still_answers(server, emulator)


async def test_malformed_notifications_are_only_logged(tmp_path: Path,
                                                       emulator: Emulator) -> None:
    async with raw_server(tmp_path, emulator.base_url) as server:
        for body in (b'{"jsonrpc": "1.0", "method": "initialized"}',
                     b'{"jsonrpc": "2.0", "method": 5}', b'{"jsonrpc": "2.0"}',
                     b'{"jsonrpc": "2.0", "result": 1}'):
            assert await answer_to(server, body) is None, body
        assert logged(server).count("Invalid Request") == 4
        await still_answers(server, emulator)


@pytest.mark.parametrize("garbage", [
    b"Garbage line\r\n",
    b"Content-Length: abc\r\n",
    b"Content-Length: -5\r\n\r\n",
    b"Content-Length: 99999999999999\r\n\r\n",  # would be 100 TB: refused, never read
    b"Content-Length: %d\r\n\r\n" % (MAX_BODY + 1),
    b'{"jsonrpc": "2.0", "id": 99, "method": "deepseekFim/stats"}',  # a body with no header
    b"Content-Type: text/plain\r\n\r\n",
])
async def test_the_reader_recovers_from_broken_frames(tmp_path: Path, emulator: Emulator,
                                                      garbage: bytes) -> None:
    async with raw_server(tmp_path, emulator.base_url) as server:
        assert await answer_to(server, raw=garbage + SECRET) is None
        await still_answers(server, emulator)
        assert await answer_to(server, raw=b"\r\n" + garbage) is None  # twice in a session
        assert f"skipped {len(garbage) + len(SECRET)} bytes" in logged(server)
        assert SECRET not in server.stderr
        assert SECRET.decode() not in logged(server)
        await still_answers(server, emulator)
        # The user hears of it once at most, in plain words.
        shown = [p["message"] for p in server.notifications("window/showMessage")]
        assert len(shown) <= 1 and not any("bytes" in m for m in shown), shown


async def test_garbage_inside_a_header_block_before_a_request(tmp_path: Path,
                                                              emulator: Emulator) -> None:
    """A bad header line in front of a valid Content-Length: the frame after it still counts."""
    async with raw_server(tmp_path, emulator.base_url) as server:
        body = json.dumps({"jsonrpc": "2.0", "id": "after-garbage",
                           "method": "deepseekFim/stats", "params": {}}).encode()
        before = len(server.frames)
        server.write(b"no colon here\r\n" + framed(body))
        await answer_to(server)
        answers = [f for f in server.frames[before:] if f.get("id") == "after-garbage"]
        assert len(answers) == 1 and answers[0]["result"]["enabled"] is True
        assert "skipped 15 bytes" in logged(server)
