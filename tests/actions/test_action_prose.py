"""Code actions never apply prose (issue 13): the edit comes from the code block in the file's
language, wherever it sits in the answer; with no usable block nothing is applied and the
user is told why."""

from __future__ import annotations

import pytest

from deepseek_fim_lsp.actions import replies as rp
from deepseek_fim_lsp.actions.types import ActionError, NoCodeBlock

FIX = "def area(r):\n    return math.pi * r * r"
ANSWER = f"Here is the fix:\n```python\n{FIX}\n```\nThis avoids the temporary variable."


@pytest.mark.parametrize("prefixed", [True, False])
def test_prose_around_a_block_gives_only_the_block(prefixed: bool) -> None:
    assert rp.extract_code(ANSWER, "python", prefixed=prefixed) == FIX


@pytest.mark.parametrize("reply", [
    f"```python\n{FIX}\n```",  # at the start
    f"```python\n{FIX}\n```\n\nThe change keeps the behaviour.",
    f"Sure.\n\nThe variable was not needed, so:\n\n```py\n{FIX}\n```",  # at the end
    f"First, why:\n\n- `x` is used once\n- so inline it\n\n```python3\n{FIX}\n```\nDone.",
    f"Here is the fix:\n```\n{FIX}\n```\nThis avoids the temporary variable.",  # untagged
    f"Here is the fix:\n~~~python\n{FIX}\n~~~\n",
    f"Try this:\n```text\nnot code\n```\n```python\n{FIX}\n```\n",  # the language wins
])
@pytest.mark.parametrize("prefixed", [True, False])
def test_the_block_is_found_wherever_it_sits(reply: str, prefixed: bool) -> None:
    assert rp.extract_code(reply, "python", prefixed=prefixed) == FIX


def test_a_continued_block_is_code_up_to_its_fence() -> None:
    """Prefix mode honoured: the reply continues the opened block; a server ignoring ``stop``
    may go on with prose (and more blocks) after the closing fence."""
    assert rp.extract_code(f"{FIX}\n```\nThis avoids the variable.", "python",
                           prefixed=True) == FIX
    assert rp.extract_code(f"{FIX}\n```\nOr, shorter:\n```python\nx\n```", "python",
                           prefixed=True) == FIX
    assert rp.extract_code(f"\n{FIX}\n", "python", prefixed=True) == FIX
    # a one-line answer of code, even one that reads a little like words
    for code in ("return a + b", "pass", "from geo import area", '"""Area of a circle."""',
                 "# Returns the area.", "for x in xs: print(x)"):
        assert rp.extract_code(code, "python", prefixed=True) == code


@pytest.mark.parametrize("reply", [
    "I'm sorry, but I can't help with that.",
    "Here is the fix:",
    "The code is already correct. Nothing needs to change.",
    "Here is the fix:\n```\n",  # an opened block with nothing in it
])
def test_prose_alone_is_never_code(reply: str) -> None:
    with pytest.raises(ActionError) as info:
        rp.extract_code(reply, "python", prefixed=True)
    assert "nothing was changed" in info.value.user_message
    with pytest.raises(ActionError):
        rp.extract_code(reply, "python", prefixed=False)


def test_a_plain_reply_without_a_block_is_not_applied() -> None:
    """Asked (without prefix mode) for one fenced block: an answer without one is not trusted."""
    with pytest.raises(NoCodeBlock) as info:
        rp.extract_code("x := 1\ny := 2", "go", prefixed=False)
    assert "no code block" in info.value.user_message


def test_blocks_only_in_another_language_are_not_applied() -> None:
    reply = "In JavaScript it would be:\n```js\nconst area = r => Math.PI * r * r;\n```\n"
    with pytest.raises(NoCodeBlock) as info:
        rp.extract_code(reply, "python", prefixed=False)
    msg = info.value.user_message
    assert "js" in msg and "Python" in msg and "nothing was changed" in msg


def test_plain_text_and_markdown_take_any_block_and_prose_is_their_code() -> None:
    assert rp.extract_code("Use:\n```js\nlet a = 1;\n```\n", "plaintext",
                           prefixed=False) == "let a = 1;"
    assert rp.extract_code("This sentence is the new text.", "markdown",
                           prefixed=True) == "This sentence is the new text."


# --- the action: a prose answer cut at its opening fence is asked again --------------------------


async def test_a_prefix_answer_cut_at_its_fence_is_asked_again_in_plain_chat() -> None:
    """A server ignoring prefix mode but honouring ``stop`` sends "Here is the fix:" only."""
    from test_actions import CLS, FakeBackend, apply, reply, request, run

    backend = FakeBackend(reply("Here is the fix:\n"),
                          reply("Here is the fix:\n```python\nclass B:\n    pass\n```\nDone."))
    out = await run(request("fix", CLS, 0, len(CLS) - 1, diagnostic="bad name"), backend)
    assert apply(CLS, out.files[0].changes) == "class B:\n    pass\n"
    first, second = backend.requests
    assert first.stop == ("```",) and first.messages[-1].prefix
    assert second.stop == () and not any(m.prefix for m in second.messages)
    assert out.usage is not None and out.usage.completion_tokens == 40  # both answers count


async def test_prose_twice_applies_nothing() -> None:
    from test_actions import CLS, FakeBackend, reply, request, run

    backend = FakeBackend(reply("I can't help with that."), reply("I can't help with that."))
    with pytest.raises(NoCodeBlock) as info:
        await run(request("rewrite", CLS, 0, len(CLS) - 1), backend)
    assert "no code block" in info.value.user_message
    assert len(backend.requests) == 2


def test_a_fence_inside_a_code_line_is_not_the_closing_fence() -> None:
    code = "let b = '```';\nlet c = 2;"
    assert rp.extract_code(code + "\n```\n", "typescript", prefixed=True) == code


def test_an_untagged_block_of_words_is_not_code() -> None:
    with pytest.raises(NoCodeBlock) as info:
        rp.extract_code("Well:\n```\nThis function is fine as it is.\n```\n", "python",
                        prefixed=False)
    assert "only words" in info.value.user_message
