"""Line-aligned chunks of open documents with their identifiers, indexed off the typing path.

Cross-file snippets score chunks of other open documents by the identifiers they share with the
lines before the cursor. Splitting and scanning a 5,000-line document costs milliseconds, and
redacting it whole costs about a hundred, so: chunks are indexed by their text (a document edited
elsewhere re-scans only the chunks that changed), a request spends at most a small time budget on
documents not indexed yet (the rest wait for the next request), and redaction is applied only to
the chunks that are chosen (with the line before as context, so a secret split across the chunk
border is still caught). A document holding a private key block contributes nothing.
"""

from __future__ import annotations

import string
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from .privacy import redact_secrets

__all__ = ["Chunk", "ChunkIndex", "add_posting", "identifiers"]

_TABLE = str.maketrans({c: " " for c in string.punctuation + string.whitespace if c != "_"})
#: Chunk texts whose identifiers are kept (shared by all documents and versions).
MAX_CHUNKS = 20_000
#: Redacted chunk texts kept (the chosen ones recur from request to request).
MAX_REDACTED = 512


def identifiers(s: str, stopwords: frozenset[str]) -> frozenset[str]:
    """Words of at least 3 characters that do not start with a digit, stopwords left out
    (the same set as ``[^\\W\\d]\\w{2,}`` gives, at a third of the cost)."""
    return frozenset(
        w for w in set(s.translate(_TABLE).split())
        if len(w) >= 3 and not w[0].isdigit() and w.isidentifier() and w.lower() not in stopwords
    )


def add_posting(postings: dict[str, list[int]], position: int, idents: frozenset[str]) -> None:
    """Note that the chunk at ``position`` holds ``idents``."""
    for ident in idents:
        found = postings.get(ident)
        if found is None:
            postings[ident] = [position]
        else:
            found.append(position)


@dataclass(frozen=True)
class Chunk:
    index: int
    raw: str  # not yet redacted: redact with ``ChunkIndex.redacted`` before use
    idents: frozenset[str]
    cost: int  # tokens × 10 of ``raw`` (redaction only shortens)


@dataclass
class _Doc:
    text: str
    lines: list[str]
    chunks: list[Chunk]
    done: int  # chunks indexed so far (from the start)
    has_key: bool
    #: For scoring: identifier → positions in ``chunks`` of the chunks holding it.
    postings: dict[str, list[int]] = field(default_factory=dict)


class ChunkIndex:
    """Per document: its chunks, built incrementally; per chunk text: identifiers and cost."""

    def __init__(self, chunk_lines: int, stopwords: frozenset[str],
                 cost10: Callable[[str], int]) -> None:
        self.chunk_lines = chunk_lines
        self.stopwords = stopwords
        self._cost10 = cost10
        self._docs: dict[str, _Doc] = {}
        self._by_text: OrderedDict[str, tuple[frozenset[str], int]] = OrderedDict()
        self._redacted: OrderedDict[tuple[str, str], str] = OrderedDict()

    def forget(self, uri: str) -> None:
        self._docs.pop(uri, None)

    def chunks(self, uri: str, text: str, deadline: float) -> list[Chunk]:
        """The chunks of ``uri`` indexed so far; works on the rest until ``deadline``."""
        return self.columns(uri, text, deadline)[0]

    def columns(self, uri: str, text: str, deadline: float
                ) -> tuple[list[Chunk], dict[str, list[int]]]:
        """:meth:`chunks`, with the positions of the chunks holding each identifier (so that
        scoring looks at the query's identifiers, not at every chunk)."""
        doc = self._docs.get(uri)
        if doc is None or doc.text is not text:
            if doc is not None and doc.text == text:
                doc.text = text
            else:
                doc = _Doc(text, text.split("\n"), [], 0, "PRIVATE KEY" in text)
                self._docs[uri] = doc
        if doc.has_key:
            return [], {}
        n = self.chunk_lines
        total = -(-len(doc.lines) // n)
        cost10 = self._cost10
        while doc.done < total:
            i = doc.done
            body = "\n".join(doc.lines[i * n : (i + 1) * n])
            doc.done += 1
            if not body.strip():
                continue
            if not body.endswith("\n"):
                body += "\n"
            known = self._by_text.get(body)
            if known is None:
                known = (identifiers(body, self.stopwords), cost10(body))
                self._by_text[body] = known
                if len(self._by_text) > MAX_CHUNKS:
                    self._by_text.popitem(last=False)
            add_posting(doc.postings, len(doc.chunks), known[0])
            doc.chunks.append(Chunk(i, body, known[0], known[1]))
            if time.perf_counter() > deadline:
                break
        return doc.chunks, doc.postings

    def redacted(self, uri: str, chunk: Chunk) -> str:
        """The chunk's text with secrets redacted, judged with the line before it as context."""
        doc = self._docs.get(uri)
        start = chunk.index * self.chunk_lines
        before = doc.lines[start - 1] + "\n" if doc is not None and start > 0 else ""
        key = (before, chunk.raw)
        out = self._redacted.get(key)
        if out is None:
            out = redact_secrets(before + chunk.raw)
            if before:
                nl = out.find("\n")
                out = out[nl + 1 :] if nl >= 0 else out
            self._redacted[key] = out
            if len(self._redacted) > MAX_REDACTED:
                self._redacted.popitem(last=False)
        else:
            self._redacted.move_to_end(key)
        return out
