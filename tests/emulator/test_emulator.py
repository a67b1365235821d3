"""The DeepSeek API emulator: framing, errors, validation, cache accounting, disconnects."""

from __future__ import annotations

import asyncio
import json
import math
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deepseek_fim_lsp.emulator import Emulator, LoggedRequest, Reply, Rule
from deepseek_fim_lsp.emulator.model import (
    PrefixCache,
    apply_limits,
    count_tokens,
    split_chunks,
    truncate_to_tokens,
    unit_boundaries,
)

KEY = "sk-test-key"
AUTH = {"Authorization": f"Bearer {KEY}"}
MODEL = "deepseek-v4-flash"


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator() as e:
        yield e


@pytest.fixture
def client(emu: Emulator) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=emu.base_url, headers=AUTH, timeout=10) as c:
        yield c


def fim(client: httpx.Client, **body: Any) -> httpx.Response:
    return client.post("/beta/completions", json={"model": MODEL, "prompt": "x = ", **body})


def sse(raw: str) -> tuple[list[str], list[str]]:
    """Split an SSE body into (comment lines, data payloads), checking the framing."""
    assert raw.endswith("\n\n"), "every event ends with a blank line"
    comments: list[str] = []
    data: list[str] = []
    for event in raw.split("\n\n")[:-1]:
        for line in event.split("\n"):
            if line.startswith(":"):
                comments.append(line)
            elif line.startswith("data: "):
                data.append(line[len("data: "):])
            elif line:
                raise AssertionError(f"unexpected SSE line {line!r}")
    return comments, data


def stream_fim(client: httpx.Client, **body: Any) -> tuple[list[str], list[Any], str]:
    r = fim(client, stream=True, **body)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/event-stream")
    comments, data = sse(r.text)
    assert data[-1] == "[DONE]"
    return comments, [json.loads(d) for d in data[:-1]], r.text


# --------------------------------------------------------------------------- tokens


def test_token_count_rule() -> None:
    assert count_tokens("") == 0
    assert count_tokens("abcdefghij") == 3
    assert count_tokens("a") == 1
    assert count_tokens("中文字") == math.ceil(1.8)
    assert count_tokens("ab中") == math.ceil(0.6 + 0.6)


def test_unit_boundaries_cover_whole_units() -> None:
    text = "abc" * 100  # 300 chars = 90 tokens
    b = unit_boundaries(text, 10)
    assert len(b) == 9
    for k, p in enumerate(b):  # the first position where k+1 whole units are reached
        assert count_tokens(text[:p]) >= 10 * (k + 1) >= count_tokens(text[: p - 1])


def test_split_chunks_rejoins() -> None:
    for text in ["", "def f(x):\n    return x + 1\n", "  héllo   wörld!!", "a\n\n\tb"]:
        pieces = split_chunks(text)
        assert "".join(pieces) == text
        assert all(len(p.strip()) <= 4 for p in pieces)


texts = st.text(alphabet=st.sampled_from("ab \n\té中😀"), max_size=300)


@settings(max_examples=60, deadline=None)
@given(a=texts, b=texts, c=texts)
def test_prefix_cache_properties(a: str, b: str, c: str) -> None:
    cache = PrefixCache(8)
    assert cache.lookup_and_store("m", a + b) == 0
    common = len(a + b) if (a + b) == (a + c) else next(
        i for i, (x, y) in enumerate(zip(a + b + "\0", a + c + "\1", strict=False)) if x != y)
    hit = cache.lookup_and_store("m", a + c)
    assert hit % 8 == 0
    assert hit <= count_tokens((a + c)[:common])  # only a shared prefix can hit
    whole_units = sum(1 for p in unit_boundaries(a + c, 8) if p <= common)
    assert hit == 8 * whole_units  # ... and every whole shared unit does
    assert cache.lookup_and_store("other-model", a + c) == 0


@settings(max_examples=100, deadline=None)
@given(text=st.text(max_size=200))
def test_split_chunks_rejoins_any_text(text: str) -> None:
    assert "".join(split_chunks(text)) == text


@settings(max_examples=60, deadline=None)
@given(raw=texts, stop=st.sampled_from(["", "a", "\n", "中"]), max_tokens=st.integers(1, 50))
def test_apply_limits_properties(raw: str, stop: str, max_tokens: int) -> None:
    g = apply_limits(raw, {"stop": [stop] if stop else None, "max_tokens": max_tokens}, "stop")
    assert raw.startswith(g.text)
    assert not stop or stop not in g.text
    assert g.completion_tokens == count_tokens(g.text) <= max_tokens
    assert (g.finish_reason == "length") == (g.text != raw.split(stop)[0] if stop else
                                             g.text != raw)


# --------------------------------------------------------------------------- auth, routes


def test_auth_missing_and_wrong_key(emu: Emulator) -> None:
    with httpx.Client(base_url=emu.base_url, timeout=5) as c:
        r = c.post("/beta/completions", json={"model": MODEL, "prompt": "a"})
        assert r.status_code == 401
        assert r.json()["error"]["type"] == "authentication_error"
        bad = "sk-test-wrongkey-wxyz"
        r = c.post("/beta/completions", json={"model": MODEL, "prompt": "a"},
                   headers={"Authorization": f"Bearer {bad}"})
        assert r.status_code == 401
        err = r.json()["error"]
        assert err["message"] == "Authentication Fails, Your api key: ****wxyz is invalid"
        assert set(err) == {"message", "type", "param", "code"}
        assert bad not in r.text
        assert c.get("/models", headers={"Authorization": f"Bearer {bad}"}).status_code == 401
        assert c.get("/models", headers=AUTH).status_code == 200


def test_models_and_balance(client: httpx.Client) -> None:
    r = client.get("/models")
    assert r.json()["object"] == "list"
    assert [m["id"] for m in r.json()["data"]] == ["deepseek-v4-flash", "deepseek-flash",
                                                    "deepseek-v4-pro"]
    assert all(m["object"] == "model" and m["owned_by"] == "deepseek" for m in r.json()["data"])
    b = client.get("/user/balance").json()
    assert b["is_available"] is True
    assert b["balance_infos"][0]["currency"] == "USD"
    assert b["balance_infos"][0]["total_balance"] == "10.00"


def test_unknown_routes(client: httpx.Client) -> None:
    r = client.post("/completions", json={"model": MODEL, "prompt": "a"})
    assert r.status_code == 404
    assert "error" in r.json()
    assert client.get("/nope").status_code == 404
    assert client.get("/beta/completions").status_code == 405


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("patch", "status", "plain", "needle"),
    [
        ({"model": "deepseek-coder"}, 400, False, "Model Not Exist"),
        ({"temperature": 2.5}, 422, False, "temperature"),
        ({"temperature": -0.1}, 422, False, "temperature"),
        ({"top_p": 1.5}, 422, False, "top_p"),
        ({"stop": [str(i) for i in range(17)]}, 422, False, "stop"),
        ({"logprobs": 21}, 422, False, "logprobs"),
        ({"max_tokens": 4097}, 422, False, "max_tokens"),
        ({"max_tokens": 0}, 422, False, "max_tokens"),
        ({"frequency_penalty": 3}, 422, False, "frequency_penalty"),
        ({"stream_options": {"include_usage": True}}, 422, False, "stream_options"),
        ({"prompt": 12}, 422, True, "prompt: invalid type"),
        ({"prompt": None}, 422, True, "missing field `prompt`"),
        ({"max_tokens": "100"}, 422, True, "max_tokens: invalid type"),
        ({"temperature": True}, 422, True, "temperature"),
        ({"stop": [1, 2]}, 422, True, "stop"),
        ({"echo": "yes"}, 422, True, "echo"),
        ({"stream": 1}, 422, True, "stream"),
    ],
)
def test_fim_validation(client: httpx.Client, patch: dict[str, Any], status: int, plain: bool,
                        needle: str) -> None:
    body = {"model": MODEL, "prompt": "x = ", **patch}
    r = client.post("/beta/completions", json=body)
    assert r.status_code == status
    if plain:
        assert r.headers["content-type"].startswith("text/plain")
        assert r.text.startswith("Failed to deserialize the JSON body into the target type: ")
        assert needle in r.text
    else:
        err = r.json()["error"]
        assert needle in err["message"] or err["param"] == needle


def test_fim_validation_boundaries_accepted(client: httpx.Client) -> None:
    r = fim(client, temperature=2, top_p=1, stop=[str(i) for i in range(16)], logprobs=20,
            max_tokens=4096, frequency_penalty=-2, presence_penalty=2, echo=False, suffix=None)
    assert r.status_code == 200, r.text


def test_bad_json_and_missing_body(client: httpx.Client) -> None:
    r = client.post("/beta/completions", content=b"{not json",
                    headers={"content-type": "application/json"})
    assert r.status_code == 400
    assert "parse" in r.text
    r = client.post("/beta/completions", json=[1, 2])
    assert r.status_code == 422
    r = client.post("/beta/completions", json={"prompt": "a"})
    assert r.status_code == 422 and "missing field `model`" in r.text


@pytest.mark.parametrize("status", [400, 402, 422, 429, 500, 503])
def test_scripted_error_envelopes(emu: Emulator, client: httpx.Client, status: int) -> None:
    emu.script(Reply(status=status))
    r = fim(client)
    assert r.status_code == status
    err = r.json()["error"]
    assert set(err) == {"message", "type", "param", "code"} and err["message"]
    if status == 402:
        assert err["message"] == "Insufficient Balance"
    assert emu.requests()[-1].outcome == "error"
    assert fim(client).status_code == 200  # the queue entry was consumed


def test_scripted_plain_text_error(emu: Emulator, client: httpx.Client) -> None:
    emu.script(Reply(status=422, plain_text_error=True, error_message="Failed to deserialize x"))
    r = fim(client)
    assert r.status_code == 422
    assert r.text == "Failed to deserialize x"
    assert r.headers["content-type"].startswith("text/plain")


# --------------------------------------------------------------------------- FIM


def test_fim_non_stream_shape_and_default(client: httpx.Client, emu: Emulator) -> None:
    r = fim(client, prompt="def f(x):", suffix="\n\nprint(f(1))\n")
    body = r.json()
    assert r.status_code == 200
    assert body["object"] == "text_completion"
    assert body["model"] == MODEL
    assert isinstance(body["created"], int) and body["id"]
    (choice,) = body["choices"]
    assert choice == {"index": 0, "text": "\n    pass", "finish_reason": "stop", "logprobs": None}
    u = body["usage"]
    assert u["prompt_tokens"] == count_tokens("def f(x):" + "\n\nprint(f(1))\n")
    assert u["prompt_tokens"] == u["prompt_cache_hit_tokens"] + u["prompt_cache_miss_tokens"]
    assert u["completion_tokens"] == count_tokens("\n    pass")
    assert u["total_tokens"] == u["prompt_tokens"] + u["completion_tokens"]
    assert u["completion_tokens_details"] == {"reasoning_tokens": 0}
    (logged,) = emu.requests("/beta/completions")
    assert logged.status == 200 and logged.outcome == "completed"
    assert logged.usage == u
    assert logged.headers["authorization"] == f"Bearer {KEY}"
    assert logged.body["suffix"] == "\n\nprint(f(1))\n"
    assert KEY not in repr(logged)


def test_fim_non_stream_keepalive_blank_lines(emu: Emulator, client: httpx.Client) -> None:
    emu.script(Reply(text="y", keepalive=3, keepalive_interval_ms=5))
    r = fim(client)
    assert r.text.startswith("\n\n\n{")
    assert json.loads(r.text)["choices"][0]["text"] == "y"


def test_fim_stop_max_tokens_echo(emu: Emulator, client: httpx.Client) -> None:
    emu.script(Reply(text="a = 1\nb = 2\nc = 3\n"))
    r = fim(client, stop=["\nb"])
    assert r.json()["choices"][0] | {} == {"index": 0, "text": "a = 1", "finish_reason": "stop",
                                           "logprobs": None}
    emu.script(Reply(text="abcdefghijklmnopqrstuvwxyz"))
    r = fim(client, max_tokens=3)
    c = r.json()["choices"][0]
    assert c["finish_reason"] == "length"
    assert c["text"] == "abcdefghij"  # 10 ASCII chars = 3 tokens
    assert r.json()["usage"]["completion_tokens"] == 3
    emu.script(Reply(text="1"))
    r = fim(client, prompt="x = ", echo=True)
    assert r.json()["choices"][0]["text"] == "x = 1"
    assert r.json()["usage"]["completion_tokens"] == 1


def test_fim_logprobs(emu: Emulator, client: httpx.Client) -> None:
    emu.script(Reply(text="foo bar"))
    lp = fim(client, logprobs=2).json()["choices"][0]["logprobs"]
    assert "".join(lp["tokens"]) == "foo bar"
    assert all(len(t) == 3 for t in lp["top_logprobs"])
    assert lp["text_offset"][0] == 0


def test_fim_stream_framing_separate_usage(emu: Emulator, client: httpx.Client) -> None:
    emu.script(Reply(text="return x + 1", keepalive=2))
    comments, chunks, _ = stream_fim(client, stream_options={"include_usage": True})
    assert comments == [": keep-alive", ": keep-alive"]
    content, usage_chunk = chunks[:-1], chunks[-1]
    assert content[0]["choices"][0]["text"] == ""
    assert all(c["object"] == "text_completion" for c in chunks)
    assert "".join(c["choices"][0]["text"] for c in content) == "return x + 1"
    assert len(content) > 3
    assert [c["choices"][0]["finish_reason"] for c in content] == [None] * (len(content) - 1) + [
        "stop"]
    assert all(c["usage"] is None for c in content)
    assert usage_chunk["choices"] == []
    assert usage_chunk["usage"]["completion_tokens"] == count_tokens("return x + 1")


def test_fim_stream_usage_on_last_chunk_and_without_usage(emu: Emulator,
                                                          client: httpx.Client) -> None:
    emu.script(Reply(text="abc def", usage_placement="last_chunk"))
    _, chunks, _ = stream_fim(client, stream_options={"include_usage": True})
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["usage"]["prompt_tokens"] == count_tokens("x = ")
    assert all(c["usage"] is None for c in chunks[:-1])
    _, chunks, _ = stream_fim(client)
    assert all(c["usage"] is None for c in chunks)
    assert all(c["choices"] for c in chunks)


def test_fim_stream_explicit_chunks_stop_and_length(emu: Emulator, client: httpx.Client) -> None:
    emu.script(Reply(chunks=["ab", "cd", "ef", "gh"]))
    _, chunks, _ = stream_fim(client)
    assert [c["choices"][0]["text"] for c in chunks] == ["", "ab", "cd", "ef", "gh"]
    emu.script(Reply(chunks=["ab", "cd", "ef", "gh"]))
    _, chunks, _ = stream_fim(client, stop="de")
    assert [c["choices"][0]["text"] for c in chunks] == ["", "ab", "c"]
    emu.script(Reply(text="x" * 100))
    _, chunks, _ = stream_fim(client, max_tokens=6)
    assert "".join(c["choices"][0]["text"] for c in chunks) == "x" * 20
    assert chunks[-1]["choices"][0]["finish_reason"] == "length"


@pytest.mark.parametrize("reason", ["length", "content_filter", "insufficient_system_resource"])
def test_fim_scripted_finish_reason(emu: Emulator, client: httpx.Client, reason: str) -> None:
    emu.script(Reply(text="partial", finish_reason=reason))
    _, chunks, _ = stream_fim(client)
    assert chunks[-1]["choices"][0]["finish_reason"] == reason


def test_fim_garbage_lines_before_first_chunk(emu: Emulator, client: httpx.Client) -> None:
    emu.script(Reply(text="ok", garbage_lines=["event: ping", ": hello"]))
    r = fim(client, stream=True)
    lines = r.text.split("\n")
    assert lines[:2] == ["event: ping", ": hello"]
    assert r.text.index("event: ping") < r.text.index("data: ")
    assert r.text.endswith("data: [DONE]\n\n")


# --------------------------------------------------------------------------- precedence


def test_reply_precedence_queue_rule_responder(emu: Emulator, client: httpx.Client) -> None:
    emu.fim_responder = lambda body: "responder:" + body["prompt"][-2:]
    emu.add_rule(Rule(Reply(text="rule-end"), prompt_endswith="END"))
    emu.add_rule(Rule(Reply(text="rule-suffix"), suffix_startswith=")"))
    emu.add_rule(Rule(Reply(text="rule-chat"), prompt_contains="zzz", endpoint="chat"))
    emu.script(Reply(text="chat-only", endpoint="chat"), Reply(text="queued"))
    assert fim(client, prompt="a END").json()["choices"][0]["text"] == "queued"
    assert fim(client, prompt="a END").json()["choices"][0]["text"] == "rule-end"
    assert fim(client, prompt="f(", suffix=")").json()["choices"][0]["text"] == "rule-suffix"
    assert fim(client, prompt="zzz").json()["choices"][0]["text"] == "responder:zz"
    assert emu.queued == 1  # the chat-only reply waits for a chat request
    r = client.post("/chat/completions", json={"model": MODEL, "messages": [
        {"role": "user", "content": "zzz"}]})
    assert r.json()["choices"][0]["message"]["content"] == "chat-only"
    r = client.post("/chat/completions", json={"model": MODEL, "messages": [
        {"role": "user", "content": "zzz"}]})
    assert r.json()["choices"][0]["message"]["content"] == "rule-chat"


def test_reply_without_text_uses_responder_but_keeps_fields(emu: Emulator,
                                                            client: httpx.Client) -> None:
    emu.fim_responder = lambda body: "from responder"
    emu.script(Reply(finish_reason="insufficient_system_resource"))
    c = fim(client).json()["choices"][0]
    assert c == {"index": 0, "text": "from responder", "finish_reason":
                 "insufficient_system_resource", "logprobs": None}


def test_failing_responder_gives_500(emu: Emulator, client: httpx.Client) -> None:
    def broken(body: dict[str, Any]) -> str:
        raise RuntimeError("responder bug")

    emu.fim_responder = broken
    r = fim(client)
    assert r.status_code == 500
    assert r.json()["error"]["message"]
    assert (emu.requests()[-1].outcome, emu.requests()[-1].status) == ("error", 500)
    emu.fim_responder = None
    assert fim(client).json()["choices"][0]["text"] == "pass"


# --------------------------------------------------------------------------- prefix cache


def test_prefix_cache_same_prompt_twice(client: httpx.Client) -> None:
    prompt = "import os\n" * 60  # 600 chars = 180 tokens = 2 whole 64-token units
    first = fim(client, prompt=prompt).json()["usage"]
    assert first["prompt_cache_hit_tokens"] == 0
    assert first["prompt_cache_miss_tokens"] == 180
    second = fim(client, prompt=prompt).json()["usage"]
    assert second["prompt_cache_hit_tokens"] == 128
    assert second["prompt_cache_miss_tokens"] == 52
    assert second["prompt_tokens"] == 180


def test_prefix_cache_shared_prefix_and_suffix(client: httpx.Client, emu: Emulator) -> None:
    a = "a" * 500  # 150 tokens → 2 units inside A
    fim(client, prompt=a + "B" * 300)
    u = fim(client, prompt=a + "C" * 300).json()["usage"]
    assert u["prompt_cache_hit_tokens"] == 128
    # the suffix is part of the model input: same prompt, longer suffix hits more units
    fim(client, prompt="p" * 300, suffix="s" * 600)
    u = fim(client, prompt="p" * 300, suffix="s" * 600 + "t").json()["usage"]
    assert u["prompt_cache_hit_tokens"] == 256
    assert u["prompt_tokens"] == count_tokens("p" * 300 + "s" * 600 + "t")
    # short inputs (under one unit) never hit
    fim(client, prompt="short")
    assert fim(client, prompt="short").json()["usage"]["prompt_cache_hit_tokens"] == 0
    # another model has its own cache; reset clears it
    emu.reset()
    assert fim(client, prompt=a).json()["usage"]["prompt_cache_hit_tokens"] == 0


def test_prefix_cache_unit_size_configurable() -> None:
    with Emulator(cache_unit_tokens=10) as e, httpx.Client(base_url=e.base_url,
                                                           headers=AUTH) as c:
        fim(c, prompt="q" * 100)  # 30 tokens
        assert fim(c, prompt="q" * 100).json()["usage"]["prompt_cache_hit_tokens"] == 30


# --------------------------------------------------------------------------- disconnects


def test_client_timeout_on_latency_is_logged_as_disconnect(emu: Emulator) -> None:
    emu.script(Reply(text="late", first_token_ms=20_000))
    with httpx.Client(base_url=emu.base_url, headers=AUTH, timeout=0.3) as c:
        with pytest.raises(httpx.ReadTimeout):
            fim(c)
    assert emu.wait_for(lambda rs: rs[0].outcome != "in_flight", timeout=3)
    (r,) = emu.requests()
    assert r.outcome == "client_disconnected"
    assert r.status == 0 and r.ended is not None


def test_hang_with_client_timeout(emu: Emulator) -> None:
    emu.script(Reply(hang=True, keepalive=1))
    with httpx.Client(base_url=emu.base_url, headers=AUTH, timeout=0.3) as c:
        with pytest.raises(httpx.ReadTimeout):
            with c.stream("POST", "/beta/completions",
                          json={"model": MODEL, "prompt": "a", "stream": True}) as resp:
                assert resp.status_code == 200
                for _ in resp.iter_lines():
                    pass
    assert emu.wait_for(lambda rs: rs[0].outcome == "client_disconnected", timeout=3)
    assert emu.requests()[0].status == 200


def test_hang_until_stop_is_logged_as_hung() -> None:
    e = Emulator().start()
    try:
        e.script(Reply(hang=True))
        with httpx.Client(base_url=e.base_url, headers=AUTH, timeout=5) as c:
            with pytest.raises(httpx.TransportError):
                threading.Timer(0.3, e.stop).start()
                fim(c)
    finally:
        e.stop()
    (r,) = e.requests()
    assert r.outcome == "hung"


def test_disconnect_mid_stream(emu: Emulator) -> None:
    emu.script(Reply(text="word " * 200, per_chunk_ms=50))
    with httpx.Client(base_url=emu.base_url, headers=AUTH, timeout=5) as c:
        with c.stream("POST", "/beta/completions",
                      json={"model": MODEL, "prompt": "a", "stream": True}) as resp:
            lines = resp.iter_lines()
            assert next(lines).startswith("data: ")
    assert emu.wait_for(lambda rs: rs[0].outcome != "in_flight", timeout=3)
    assert emu.requests()[0].outcome == "client_disconnected"


async def test_disconnect_detected_while_waiting_async(emu: Emulator) -> None:
    emu.script(Reply(text="slow", first_token_ms=30_000))
    async with httpx.AsyncClient(base_url=emu.base_url, headers=AUTH, timeout=10) as c:
        task = asyncio.create_task(c.post("/beta/completions",
                                          json={"model": MODEL, "prompt": "a"}))
        assert await emu.wait_for_async(lambda rs: len(rs) == 1, timeout=3)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert await emu.wait_for_async(lambda rs: rs[0].outcome == "client_disconnected",
                                    timeout=3)


def test_cut_mid_stream(emu: Emulator, client: httpx.Client) -> None:
    emu.script(Reply(text="one two three four five six", cut_after_chunks=2))
    received: list[str] = []
    with pytest.raises(httpx.RemoteProtocolError):
        with client.stream("POST", "/beta/completions",
                           json={"model": MODEL, "prompt": "a", "stream": True}) as resp:
            for line in resp.iter_lines():
                received.append(line)
    data = [x for x in received if x.startswith("data: ")]
    assert len(data) == 2
    assert "data: [DONE]" not in received
    assert emu.wait_for(lambda rs: rs[0].outcome == "cut", timeout=3)
    assert fim(client).status_code == 200  # the client recovers on a new connection


# --------------------------------------------------------------------------- concurrency


async def test_concurrency_cap_and_counts() -> None:
    with Emulator(max_concurrency=2) as emu:
        emu.script(Reply(text="a", first_token_ms=400), Reply(text="b", first_token_ms=400))
        async with httpx.AsyncClient(base_url=emu.base_url, headers=AUTH, timeout=10) as c:
            body = {"model": MODEL, "prompt": "a"}
            t1 = asyncio.create_task(c.post("/beta/completions", json=body))
            assert await emu.wait_for_async(lambda rs: len(rs) == 1)
            t2 = asyncio.create_task(c.post("/beta/completions", json=body))
            assert await emu.wait_for_async(lambda rs: len(rs) == 2)
            r3 = await c.post("/beta/completions", json=body)
            assert r3.status_code == 429
            assert r3.json()["error"]["type"] == "rate_limit_error"
            r1, r2 = await asyncio.gather(t1, t2)
            assert (r1.status_code, r2.status_code) == (200, 200)
            assert {r1.json()["choices"][0]["text"], r2.json()["choices"][0]["text"]} == {
                "a", "b"}
            assert (await c.post("/beta/completions", json=body)).status_code == 200
        assert [r.concurrent for r in emu.requests()] == [1, 2, 3, 1]
        assert [r.status for r in emu.requests()] == [200, 200, 429, 200]


# --------------------------------------------------------------------------- chat


def chat(client: httpx.Client, path: str = "/chat/completions", **body: Any) -> httpx.Response:
    body.setdefault("messages", [{"role": "user", "content": "Hello"}])
    return client.post(path, json={"model": MODEL, **body})


def test_chat_thinking_toggle(emu: Emulator, client: httpx.Client) -> None:
    r = chat(client).json()
    assert r["object"] == "chat.completion"
    msg = r["choices"][0]["message"]
    assert msg["role"] == "assistant" and msg["content"]
    assert msg["reasoning_content"]
    assert r["usage"]["completion_tokens_details"]["reasoning_tokens"] == count_tokens(
        msg["reasoning_content"])
    emu.script(Reply(text="hi", reasoning="thinking hard"))
    msg = chat(client, thinking={"type": "disabled"}).json()["choices"][0]["message"]
    assert msg == {"role": "assistant", "content": "hi"}
    emu.script(Reply(text="hi", reasoning="thinking hard"))
    msg = chat(client, thinking={"type": "enabled"}).json()["choices"][0]["message"]
    assert msg["reasoning_content"] == "thinking hard"


def test_chat_stream_deltas(emu: Emulator, client: httpx.Client) -> None:
    emu.script(Reply(text="Hello there", reasoning="Think."))
    r = chat(client, stream=True, stream_options={"include_usage": True})
    _, data = sse(r.text)
    assert data[-1] == "[DONE]"
    chunks = [json.loads(d) for d in data[:-1]]
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert chunks[0]["choices"][0]["delta"]["content"] == ""
    deltas = [c["choices"][0]["delta"] for c in chunks if c["choices"]]
    assert "".join(d.get("reasoning_content") or "" for d in deltas) == "Think."
    assert "".join(d.get("content") or "" for d in deltas) == "Hello there"
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"]["prompt_tokens_details"]["cached_tokens"] == 0
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"


def test_chat_prefix_completion_beta_only(client: httpx.Client) -> None:
    msgs = [{"role": "user", "content": "Write f"},
            {"role": "assistant", "content": "```python\n", "prefix": True}]
    r = chat(client, "/beta/chat/completions", messages=msgs, stop=["```"],
             thinking={"type": "disabled"})
    assert r.status_code == 200
    assert r.json()["choices"][0]["message"]["content"] == "pass\n"
    r = chat(client, messages=msgs)
    assert r.status_code == 400
    assert "beta" in r.json()["error"]["message"]


def test_chat_json_object_and_tool_calls(emu: Emulator, client: httpx.Client) -> None:
    r = chat(client, response_format={"type": "json_object"}, thinking={"type": "disabled"})
    assert json.loads(r.json()["choices"][0]["message"]["content"]) == {"result": "ok"}
    call = {"function": {"name": "get_weather", "arguments": {"city": "Paris"}}}
    emu.script(Reply(tool_calls=[call]))
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {}}}]
    r = chat(client, tools=tools).json()
    choice = r["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    (tc,) = choice["message"]["tool_calls"]
    assert tc["type"] == "function" and tc["id"]
    assert tc["function"]["name"] == "get_weather"
    assert json.loads(tc["function"]["arguments"]) == {"city": "Paris"}
    emu.script(Reply(tool_calls=[call]))
    _, data = sse(chat(client, tools=tools, stream=True).text)
    chunks = [json.loads(d) for d in data[:-1]]
    calls = [tc for c in chunks for tc in c["choices"][0]["delta"].get("tool_calls") or []]
    assert calls[0]["function"]["name"] == "get_weather" and calls[0]["index"] == 0
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"


@pytest.mark.parametrize(
    ("patch", "status"),
    [
        ({"messages": [{"role": "developer", "content": "x"}]}, 400),
        ({"messages": []}, 400),
        ({"messages": None}, 422),
        ({"messages": "hi"}, 422),
        ({"thinking": {"type": "maybe"}}, 422),
        ({"tool_choice": "required", "tools": []}, 400),
        ({"top_logprobs": 21}, 422),
        ({"model": "gpt-4"}, 400),
        ({"max_tokens": 400000}, 422),
        ({"response_format": {"type": "xml"}}, 422),
        ({"tools": [{"type": "function", "function": {"name": "bad name"}}]}, 400),
        ({"tools": [{"type": "function", "function": {"name": "x" * 65}}]}, 400),
    ],
)
def test_chat_validation(client: httpx.Client, patch: dict[str, Any], status: int) -> None:
    assert chat(client, **patch).status_code == status


def test_chat_thinking_needs_reasoning_back_after_tool_calls(client: httpx.Client) -> None:
    call = {"id": "call_1", "type": "function",
            "function": {"name": "now", "arguments": "{}"}}
    turn = [{"role": "user", "content": "time?"},
            {"role": "assistant", "content": "", "tool_calls": [call]},
            {"role": "tool", "tool_call_id": "call_1", "content": "12:00"}]
    assert chat(client, messages=turn).status_code == 400
    assert chat(client, messages=turn, thinking={"type": "disabled"}).status_code == 200
    turn[1] = {**turn[1], "reasoning_content": "I should call now()."}
    assert chat(client, messages=turn).status_code == 200


def test_chat_usage_cached_tokens(client: httpx.Client) -> None:
    msgs = [{"role": "system", "content": "You are terse. " * 50},
            {"role": "user", "content": "hi"}]
    chat(client, messages=msgs)
    u = chat(client, messages=msgs).json()["usage"]
    assert u["prompt_cache_hit_tokens"] > 0
    assert u["prompt_tokens_details"]["cached_tokens"] == u["prompt_cache_hit_tokens"]
    assert u["prompt_tokens"] == u["prompt_cache_hit_tokens"] + u["prompt_cache_miss_tokens"]


# --------------------------------------------------------------------------- control


def test_control_endpoints(emu: Emulator) -> None:
    with httpx.Client(base_url=emu.base_url, timeout=5) as ctl, \
            httpx.Client(base_url=emu.base_url, headers=AUTH, timeout=5) as c:
        r = ctl.post("/_emulator/script", json={"replies": [
            {"text": "scripted", "endpoint": "fim"}, {"status": 503}]})
        assert r.status_code == 200
        ctl.post("/_emulator/rules", json={"rules": [
            {"reply": {"text": "by rule"}, "prompt_endswith": "RULE"}]})
        assert fim(c).json()["choices"][0]["text"] == "scripted"
        assert fim(c).status_code == 503
        assert fim(c, prompt="a RULE").json()["choices"][0]["text"] == "by rule"
        log = ctl.get("/_emulator/log").json()
        assert [e["status"] for e in log] == [200, 503, 200]
        assert log[0]["headers"]["authorization"] == "Bearer ****-key"
        assert log[0]["outcome"] == "completed" and log[0]["usage"]["prompt_tokens"] > 0
        assert all("raw_body" not in e and e["path"] == "/beta/completions" for e in log)
        assert log[0]["body"]["prompt"] == "x = "
        assert ctl.post("/_emulator/config", json={"api_keys": ["sk-test-other"],
                                                   "first_token_ms": 1}).status_code == 200
        assert fim(c).status_code == 401
        assert ctl.post("/_emulator/config", json={"bogus": 1}).status_code == 400
        assert ctl.post("/_emulator/script", json={"replies": [{"nope": 1}]}).status_code == 400
        ctl.post("/_emulator/reset")
        assert ctl.get("/_emulator/log").json() == []
        assert emu.first_token_ms == 1
        assert all(not r.path.startswith("/_emulator") for r in emu.requests())


def test_keepalive_connection_reuse(emu: Emulator) -> None:
    with socket.create_connection(("127.0.0.1", emu.port), timeout=5) as s:
        body = json.dumps({"model": MODEL, "prompt": "a"}).encode()
        req = (b"POST /beta/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
               + KEY.encode() + b"\r\nContent-Type: application/json\r\nContent-Length: "
               + str(len(body)).encode() + b"\r\n\r\n" + body)
        s.sendall(req + req)  # two pipelined requests on one connection
        data = b""
        while data.count(b"HTTP/1.1 200") < 2 or not data.endswith(b"}"):
            chunk = s.recv(65536)
            assert chunk, f"connection closed early: {data!r}"
            data += chunk
    assert len(emu.requests()) == 2


# --------------------------------------------------------------------------- command line


def test_emulate_main_subprocess(tmp_path: Path) -> None:
    script = tmp_path / "script.json"
    script.write_text(json.dumps({"replies": [{"text": "from script"}], "rules": [
        {"reply": {"text": "by rule"}, "prompt_endswith": "R"}]}))
    port_file = tmp_path / "port"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "deepseek_fim_lsp.emulator", "--port", "0", "--key",
         "sk-test-cli", "--model", "m-1", "--script", str(script), "--port-file", str(port_file)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("deepseek-fim-lsp emulator listening on http://127.0.0.1:")
        url = line.split()[-1]
        assert url.endswith(":" + port_file.read_text())
        with httpx.Client(base_url=url, timeout=5,
                          headers={"Authorization": "Bearer sk-test-cli"}) as c:
            r = c.post("/beta/completions", json={"model": "m-1", "prompt": "a"})
            assert r.json()["choices"][0]["text"] == "from script"
            r = c.post("/beta/completions", json={"model": "m-1", "prompt": "R"})
            assert r.json()["choices"][0]["text"] == "by rule"
            assert c.post("/beta/completions", json={"model": MODEL, "prompt": "a"}
                          ).status_code == 400
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        out, err = proc.communicate()
    assert "Traceback" not in err


def test_restart_after_stop() -> None:
    emu = Emulator()
    for _ in range(2):
        emu.start()
        try:
            with httpx.Client(base_url=emu.base_url, headers=AUTH, timeout=5) as c:
                assert fim(c).status_code == 200
        finally:
            emu.stop()
    assert len(emu.requests()) == 2


def test_logged_request_json_roundtrip(emu: Emulator, client: httpx.Client) -> None:
    fim(client)
    (r,) = emu.requests()
    d = r.to_json()
    assert json.loads(json.dumps(d))["outcome"] == "completed"
    assert isinstance(r, LoggedRequest)
    assert r.started <= (r.ended or 0) <= time.monotonic()


def _weights(text: str) -> list[int]:
    return [3 if ord(ch) < 128 else 6 for ch in text]


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from("ab \n\t{}é中😀\ud800"), max_size=400)
       | st.text(alphabet=st.characters(max_codepoint=127), max_size=600),
       st.integers(min_value=-2, max_value=90), st.integers(min_value=1, max_value=64))
def test_token_accounting_matches_the_character_by_character_rule(
        text: str, max_tokens: int, unit: int) -> None:
    """The C-speed counts (the emulator spent ~4.7 ms per 16,000-character prompt on them)
    give exactly what summing each character's weight gives."""
    w = _weights(text)
    assert count_tokens(text) == math.ceil(sum(w) / 10)
    running, ends, target = 0, [], unit * 10
    for i, x in enumerate(w):
        running += x
        if running >= target:
            ends.append(i + 1)
            target += unit * 10
    assert unit_boundaries(text, unit) == ends
    cut = truncate_to_tokens(text, max_tokens)
    assert text.startswith(cut) and sum(w[:len(cut)]) <= max(0, max_tokens * 10)
    assert len(cut) == len(text) or sum(w[:len(cut) + 1]) > max_tokens * 10
