"""Files for the ``complete`` command: reading (BOM and encoding aware, binary refused), the
cursor (``FILE:LINE:COL``, ``--line``/``--column`` or a ``--marker`` in a file or stdin), and the
atomic write-back of ``--apply`` that keeps encoding, BOM and mode.
"""

from __future__ import annotations

import codecs
import os
import re
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .api import InputError, offset_of

_BOMS = (  # longest first: the UTF-32-LE BOM starts with the UTF-16-LE one
    (codecs.BOM_UTF32_LE, "utf-32-le"), (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)


@dataclass(frozen=True)
class TextFile:
    """A file read for completion, with what it takes to write it back byte-faithfully."""

    path: Path
    text: str
    codec: str
    bom: bytes
    stat: os.stat_result

    def encode(self, text: str) -> bytes:
        try:
            return self.bom + text.encode(self.codec)
        except UnicodeEncodeError as exc:
            raise InputError(f"{self.path}: the completion cannot be written in {self.codec} "
                             f"({exc.reason}); the file was not changed") from None

    @property
    def eol(self) -> str:
        """The file's line break (its most common one), for inserted text."""
        crlf = self.text.count("\r\n")
        lf = self.text.count("\n") - crlf
        cr = self.text.count("\r") - crlf
        if crlf > max(lf, cr):
            return "\r\n"
        return "\r" if cr > lf else "\n"


def decode(data: bytes, name: str, encoding: str | None) -> tuple[str, str, bytes]:
    """Text, codec and BOM of ``data``; InputError for binary or undecodable data."""
    bom, codec = b"", encoding
    if codec is None:
        for mark, name_ in _BOMS:
            if data.startswith(mark):
                bom, codec = mark, name_
                break
    if codec is None:
        if b"\x00" in data:
            raise InputError(f"{name} looks like a binary file (it contains NUL bytes); "
                             "nothing was sent")
        codec = "utf-8"
    try:
        text = data[len(bom):].decode(codec)
    except (UnicodeDecodeError, LookupError) as exc:
        hint = "" if encoding else "; if it is text in another encoding, pass --encoding " \
                                   "(e.g. --encoding latin-1)"
        raise InputError(f"{name} is not valid {codec} text ({exc}){hint}") from None
    if "\x00" in text:
        raise InputError(f"{name} looks like a binary file (it contains NUL characters); "
                         "nothing was sent")
    return text, codec, bom


def read_text_file(name: str, encoding: str | None = None) -> TextFile:
    path = Path(name)
    try:
        real = Path(os.path.realpath(path))
        with real.open("rb") as f:
            st = os.fstat(f.fileno())
            data = f.read()
    except FileNotFoundError:
        raise InputError(f"{name}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{name} is a directory, not a file") from None
    except OSError as exc:
        raise InputError(f"cannot read {name}: {exc.strerror or exc}") from None
    text, codec, bom = decode(data, name, encoding)
    return TextFile(real, text, codec, bom, st)


def write_atomic(file: TextFile, data: bytes) -> None:
    """Replace the file's content: temp file in the same directory, fsync, rename.

    Readers see the old or the new file, never a half-written one; the mode is kept. Refuses when
    the file changed since it was read (someone else's edit would be lost).
    """
    path = file.path
    try:
        now = os.stat(path)
    except OSError as exc:
        raise InputError(f"{path}: {exc.strerror}; the file was not changed") from None
    if (now.st_mtime_ns, now.st_size, now.st_ino) != (
        file.stat.st_mtime_ns, file.stat.st_size, file.stat.st_ino
    ):
        raise InputError(f"{path} changed while completing; the file was not changed")
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fchmod(f.fileno(), file.stat.st_mode & 0o7777)
            if hasattr(os, "fchown"):
                try:
                    os.fchown(f.fileno(), file.stat.st_uid, file.stat.st_gid)
                except OSError:
                    pass  # not allowed to give it away: it stays ours, like any editor save
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(exc, OSError):
            raise InputError(f"cannot write {path}: {exc.strerror}; the file was not changed") \
                from None
        raise
    try:  # make the rename itself durable
        dfd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except OSError:
        pass



# --- the cursor ----------------------------------------------------------------------------------

_TARGET = re.compile(r"^(?P<file>.+):(?P<line>\d+):(?P<col>\d+)$")


@dataclass(frozen=True)
class Target:
    """The document to complete and the cursor in it; ``file`` is None for stdin."""

    text: str
    offset: int
    file: TextFile | None
    name: str | None


def resolve_target(target: str | None, *, line: int | None = None, column: int | None = None,
                   marker: str | None = None, encoding: str | None = None) -> Target:
    """Read the document (``-`` is stdin) and find the cursor; InputError says what is wrong."""
    if target is None:
        raise InputError("nothing to complete: give FILE:LINE:COL, FILE with --line/--column, "
                         "or - (stdin) with --marker or --line/--column")
    col = column
    name: str | None = None
    file: TextFile | None = None
    if target == "-":
        text, _codec, _bom = decode(sys.stdin.buffer.read(), "stdin", encoding)
    else:
        m = _TARGET.match(target)
        if m and not Path(target).exists():
            if line is not None or col is not None:
                raise InputError("give the position either in FILE:LINE:COL or with "
                                 "--line/--column, not both")
            name, line, col = m["file"], int(m["line"]), int(m["col"])
        else:
            name = target
        file = read_text_file(name, encoding)
        text = file.text
    if marker is not None:
        if line is not None or col is not None:
            raise InputError("give the cursor either with --marker or with a line and column")
        if not marker:
            raise InputError("--marker must not be empty")
        count = text.count(marker)
        if count != 1:
            raise InputError(f"the marker {marker!r} occurs {count} times; it must occur "
                             "exactly once")
        offset = text.index(marker)
        text = text.replace(marker, "", 1)
    elif line is None or col is None:
        raise InputError("give the cursor: FILE:LINE:COL, --line and --column, or --marker")
    else:
        offset = offset_of(text, line, col, name or "stdin")
    return Target(text, offset, file, name)


def apply_completion(target: Target, text: str, replace: int) -> None:
    """``--apply``: write ``text`` into the file at the cursor (replacing ``replace`` characters)
    with the file's line breaks, atomically."""
    file = target.file
    if file is None:
        raise InputError("--apply needs a FILE (not stdin)")
    insert = re.sub(r"\r\n|\r|\n", file.eol, text)
    new = target.text[:target.offset] + insert + target.text[target.offset + replace:]
    write_atomic(file, file.encode(new))
