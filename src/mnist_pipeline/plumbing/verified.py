"""What a fetched file must be (``Expected``), how one mirror fails, and the write that lands
a file only once its size and sha256 match: shared by the local and the HTTP mirrors of the
download stage, so that every mirror writes at most ``size`` bytes and ``dest`` is either
absent, the old file, or a verified copy.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from mnist_pipeline.plumbing.files import atomic_file

CHUNK = 64 * 1024


class MirrorFailed(Exception):
    """This mirror cannot serve the file; the message says why."""


class Transient(MirrorFailed):
    """This attempt failed in a way a retry of the same mirror may fix."""


@dataclass(frozen=True)
class Expected:
    """What the fetched file must be, and how long an HTTP mirror may take to send it."""

    name: str
    sha256: str
    size: int
    timeout: float
    """Seconds of silence after which a mirror is given up."""
    min_rate: float
    """Bytes per second the whole transfer must average, after ``timeout`` seconds of grace."""

    @property
    def deadline(self) -> float:
        """Seconds an HTTP request for the file may take, from its first byte (connect) to the
        last byte of the body, through the status line, headers and redirects."""
        return self.timeout + self.size / self.min_rate


def capped(read: Callable[[int], bytes], size: int) -> Iterator[bytes]:
    """Yield what ``read`` returns, asking never more than one byte past ``size`` in all;
    that byte, if it comes, raises ``MirrorFailed`` instead of being yielded."""
    done = 0
    while chunk := read(min(CHUNK, size + 1 - done)):
        done += len(chunk)
        if done > size:
            raise MirrorFailed(f"sent more than the expected {size} bytes")
        yield chunk


def write_verified(
    chunks: Iterable[bytes], expected: Expected, dest: Path, *, show_digest: bool = True
) -> None:
    """Stream ``chunks`` to a temporary file beside ``dest``; rename it only if the digest
    matches (any exception, including from ``chunks``, removes the temporary file). The
    actual digest is named in the error only if ``show_digest``."""
    digest = hashlib.sha256()
    with atomic_file(dest) as tmp:
        with tmp.open("wb") as out:
            for chunk in chunks:
                digest.update(chunk)
                out.write(chunk)
        got = digest.hexdigest()
        if got != expected.sha256:
            actual = f", got {got}" if show_digest else ""
            raise MirrorFailed(f"checksum mismatch: expected sha256 {expected.sha256}{actual}")
