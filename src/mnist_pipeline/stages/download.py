"""Fetching the dataset files from a list of mirrors, each verified by size and sha256 before
it lands.

A mirror is a local directory (relative to the current directory), a ``file://`` URL or an
``http(s)://`` URL. Each is tried in order; the file is streamed into a temporary file beside
``dest`` while its sha256 is computed, and renamed onto ``dest`` only once the digest
matches, so ``dest`` is either absent, the old file, or a verified copy.

Every mirror is bounded by the file's expected ``size``: no more than ``size`` bytes are ever
written, reading stops at the first byte past it, a ``Content-Length`` or a local file of
another size fails before any byte is copied, and an HTTP transfer must end within
``timeout + size / min_rate`` seconds (``timeout`` alone only limits silence, which a drip of
one byte every few seconds never reaches). Redirects are followed only to http(s) URLs.
Local mirrors may be anywhere on the machine (params.yaml is trusted as much as dvc.yaml's
commands), but only regular files are read: never a device or a FIFO. A local file whose
digest does not match is not described by its digest, which could help guess the contents
of an unrelated file that a wrong mirror path pointed at.

Only failures that may go away on their own (HTTP 5xx, a dropped connection, a body cut
short) are retried on the same mirror. A 404, a checksum mismatch, a size mismatch, a too
long body or a timeout moves on to the next mirror at once: retrying them would cost time and
almost never help.
"""

from __future__ import annotations

import hashlib
import http.client
import logging
import os
import socket
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, TextIO

from mnist_pipeline.plumbing.files import NotRegularFileError, atomic_dir, atomic_file, open_regular

if TYPE_CHECKING:
    from mnist_pipeline.plumbing.params import Dataset, Download

CHUNK = 64 * 1024
BACKOFF = 0.2
"""Seconds of wait before retry ``n`` is ``BACKOFF * n``: enough to ride out a blip."""
USER_AGENT = "mnist-pipeline"
HTTP_SCHEMES = ("http", "https")
log = logging.getLogger("download")


class FetchError(RuntimeError):
    """No mirror served the file with the expected checksum."""


class _MirrorFailed(Exception):
    """This mirror cannot serve the file; the message says why."""


class _Transient(_MirrorFailed):
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
        """Seconds an HTTP transfer of the whole file may take."""
        return self.timeout + self.size / self.min_rate


def fetch_file(
    name: str,
    sha256: str,
    size: int,
    mirrors: Sequence[str],
    dest: Path,
    *,
    timeout: float,
    min_rate: float,
    retries: int,
    progress: TextIO | None,
) -> str:
    """Fetch ``name`` from the first mirror that serves exactly ``size`` bytes of digest
    ``sha256``, writing at most ``size`` bytes from any mirror.

    Returns the mirror that served it. Raises ``FetchError`` listing every mirror tried and
    why it failed.
    """
    dest = Path(dest)
    expected = Expected(name, sha256, size, timeout, min_rate)
    failures: list[tuple[str, str]] = []
    for mirror in mirrors:
        try:
            _fetch_from(mirror, expected, dest, retries=retries, progress=progress)
        except _MirrorFailed as err:
            failures.append((mirror, str(err)))
        else:
            return mirror
    raise FetchError(failure_message(name, failures))


def fetch_dataset(dataset: Dataset, settings: Download, out: Path) -> None:
    """Fetch every file of ``dataset`` into the folder ``out``, which appears only once all of
    them are verified; logs one line per file (size, mirror, seconds) and shows progress on
    stderr."""
    with atomic_dir(out) as tmp:
        for file in dataset.files.values():
            start = time.monotonic()
            mirror = fetch_file(
                file.name,
                file.sha256,
                file.size,
                dataset.mirrors,
                tmp / file.name,
                timeout=settings.timeout,
                min_rate=settings.min_rate,
                retries=settings.retries,
                progress=sys.stderr,
            )
            size = (tmp / file.name).stat().st_size
            seconds = time.monotonic() - start
            log.info("%s: %d bytes from %s in %.2f s", file.name, size, mirror, seconds)


def failure_message(name: str, failures: Sequence[tuple[str, str]]) -> str:
    """One message naming the file and, a line each, every mirror tried and why it failed."""
    count = len(failures)
    where = "1 mirror" if count == 1 else f"any of {count} mirrors"
    lines = [f"could not fetch {name} from {where}:"]
    lines += [f"  - {mirror}: {reason}" for mirror, reason in failures]
    return "\n".join(lines)


def _fetch_from(
    mirror: str,
    expected: Expected,
    dest: Path,
    *,
    retries: int,
    progress: TextIO | None,
) -> None:
    scheme = urllib.parse.urlsplit(mirror).scheme.lower() if "://" in mirror else ""
    if scheme in HTTP_SCHEMES:
        url = mirror.rstrip("/") + "/" + urllib.parse.quote(expected.name)
        _with_retries(lambda: _fetch_http(url, mirror, expected, dest, progress), retries)
    elif scheme == "file":
        _copy_local(_file_url_path(mirror) / expected.name, expected, dest)
    elif scheme:
        raise _MirrorFailed(
            f"unsupported URL scheme {scheme}:// (use a directory, file:// or http(s)://)"
        )
    else:
        _copy_local(Path(mirror) / expected.name, expected, dest)


def _with_retries(attempt: Callable[[], None], retries: int) -> None:
    tries = retries + 1
    for n in range(1, tries + 1):
        try:
            attempt()
            return
        except _Transient as err:
            if n == tries:
                plural = "try" if tries == 1 else "tries"
                raise _MirrorFailed(f"{err} (after {tries} {plural})") from None
            time.sleep(BACKOFF * n)


def _file_url_path(url: str) -> Path:
    parts = urllib.parse.urlsplit(url)
    if parts.netloc not in ("", "localhost"):
        raise _MirrorFailed(f"file:// URL with a remote host {parts.netloc!r} is not supported")
    return Path(urllib.request.url2pathname(parts.path))


def _copy_local(path: Path, expected: Expected, dest: Path) -> None:
    """Copy a regular file of exactly the expected size; a device, a FIFO or a file of
    another size fails before any byte is copied."""
    try:
        source = open_regular(path)
    except NotRegularFileError as err:
        raise _MirrorFailed(str(err)) from None
    except FileNotFoundError:
        raise _MirrorFailed(f"no such file {path}") from None
    except OSError as err:
        raise _MirrorFailed(f"cannot read {path}: {err.strerror or err}") from None
    with source:
        actual = os.fstat(source.fileno()).st_size
        if actual != expected.size:
            raise _MirrorFailed(f"{path} is {actual} bytes, expected {expected.size}")
        _write_verified(_capped(source.read, expected.size), expected, dest, show_digest=False)


def _capped(read: Callable[[int], bytes], size: int) -> Iterator[bytes]:
    """Yield what ``read`` returns, asking never more than one byte past ``size`` in all;
    that byte, if it comes, raises ``_MirrorFailed`` instead of being yielded."""
    done = 0
    while chunk := read(min(CHUNK, size + 1 - done)):
        done += len(chunk)
        if done > size:
            raise _MirrorFailed(f"sent more than the expected {size} bytes")
        yield chunk


def _write_verified(
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
            raise _MirrorFailed(f"checksum mismatch: expected sha256 {expected.sha256}{actual}")


class _HttpOnlyRedirects(urllib.request.HTTPRedirectHandler):
    """Follows a redirect only to an http(s) URL (urllib's own also follows ftp://)."""

    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: IO[bytes],
        code: int,
        msg: str,
        headers: http.client.HTTPMessage,
        newurl: str,
    ) -> urllib.request.Request | None:
        scheme = urllib.parse.urlsplit(newurl).scheme.lower()
        if scheme not in HTTP_SCHEMES:
            fp.close()
            raise _MirrorFailed(f"redirected to {newurl}: only http(s) redirects are followed")
        return super().redirect_request(req, fp, code, msg, headers, newurl)


_OPENER = urllib.request.build_opener(_HttpOnlyRedirects)


def _fetch_http(
    url: str,
    mirror: str,
    expected: Expected,
    dest: Path,
    progress: TextIO | None,
) -> None:
    """One attempt: a declared Content-Length other than the expected size fails before the
    body is read; the body is read until ``expected.deadline`` at the latest."""
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    try:
        with _OPENER.open(request, timeout=expected.timeout) as response:
            declared = _content_length(response)
            if declared is not None and declared != expected.size:
                raise _MirrorFailed(
                    f"Content-Length {declared} differs from the expected {expected.size} bytes"
                )
            report = _Progress(expected.name, mirror, expected.size, progress)
            _write_verified(_http_chunks(response, expected, report), expected, dest)
    except urllib.error.HTTPError as err:
        raise _http_status_failure(err.code, err.reason) from None
    except (OSError, http.client.HTTPException) as err:
        raise _connection_failure(err, expected.timeout) from None


def _content_length(response: http.client.HTTPResponse) -> int | None:
    value = response.headers.get("Content-Length")
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _http_chunks(
    response: http.client.HTTPResponse, expected: Expected, report: _Progress
) -> Iterator[bytes]:
    """Yield the body, at most ``expected.size`` bytes of it, until ``expected.deadline``.

    A body shorter than expected is a ``_Transient`` failure; one longer (the first byte past
    the size) or one still incomplete at the deadline is a ``_MirrorFailed``, not retried.
    Each read is one system call (``read1``) whose wait ends at the deadline, so a drip of
    single bytes cannot stretch the transfer past it.
    """
    deadline = time.monotonic() + expected.deadline
    sock = _socket_of(response)

    def receive(amount: int) -> bytes:
        if response.isclosed():  # http.client closes it at the end of the body, or early
            return b""
        left = deadline - time.monotonic()
        if left <= 0:
            raise _too_slow(expected)
        if sock is not None:
            sock.settimeout(min(expected.timeout, left))
        try:
            return response.read1(amount)
        except http.client.IncompleteRead as err:
            raise _truncated(done + len(err.partial), expected.size) from None
        except TimeoutError:
            if time.monotonic() >= deadline:
                raise _too_slow(expected) from None
            raise

    def read(amount: int) -> bytes:
        """``amount`` bytes, fewer only at the end of the body: whole chunks, as before."""
        buffer = bytearray()
        while len(buffer) < amount and (piece := receive(amount - len(buffer))):
            buffer += piece
        return bytes(buffer)

    done = 0
    for chunk in _capped(read, expected.size):
        done += len(chunk)
        report.update(done)
        yield chunk
    if done < expected.size:
        raise _truncated(done, expected.size)
    report.finish(done)


def _socket_of(response: http.client.HTTPResponse) -> socket.socket | None:
    """The response's socket, whose timeout is shortened as the deadline nears (http.client
    keeps it only inside the response's buffered reader; None if that ever changes)."""
    sock = getattr(getattr(response.fp, "raw", None), "_sock", None)
    return sock if isinstance(sock, socket.socket) else None


def _too_slow(expected: Expected) -> _MirrorFailed:
    return _MirrorFailed(
        f"not complete within {expected.deadline:.1f} s (download.timeout + "
        f"{expected.size} bytes / download.min_rate)"
    )


def _truncated(done: int, total: int | None) -> _Transient:
    of = f" of {total}" if total is not None else ""
    return _Transient(f"body truncated at {done}{of} bytes")


def _http_status_failure(code: int, reason: object) -> _MirrorFailed:
    phrase = str(reason or "").strip()
    if not phrase:
        try:
            phrase = http.HTTPStatus(code).phrase
        except ValueError:
            phrase = ""
    message = f"HTTP {code} {phrase}".rstrip()
    return _Transient(message) if code >= 500 else _MirrorFailed(message)


def _connection_failure(err: BaseException, timeout: float) -> _MirrorFailed:
    if isinstance(err, urllib.error.URLError) and isinstance(err.reason, BaseException):
        err = err.reason
    if isinstance(err, TimeoutError):
        return _MirrorFailed(f"timed out after {timeout:g} s")
    if isinstance(err, ConnectionRefusedError):
        return _MirrorFailed("connection refused")
    if isinstance(err, http.client.RemoteDisconnected):
        return _Transient("connection closed without a response")
    if isinstance(err, ConnectionResetError | ConnectionAbortedError | BrokenPipeError):
        return _Transient("connection reset")
    if isinstance(err, socket.gaierror):
        return _MirrorFailed(f"cannot resolve host: {err.strerror or err}")
    if isinstance(err, urllib.error.URLError):
        return _MirrorFailed(str(err.reason))
    return _MirrorFailed(str(err) or type(err).__name__)


class _Progress:
    """Progress lines for one HTTP download: at most one per tenth of the file, then a
    final line (with no known size, one each time the byte count doubles past 1 MB)."""

    def __init__(self, name: str, mirror: str, total: int, out: TextIO | None) -> None:
        self.name, self.mirror, self.total, self.out = name, mirror, total, out
        self.next_mark = 1 if total else 1_000_000

    def update(self, done: int) -> None:
        if self.out is None:
            return
        if self.total:
            tenth = done * 10 // self.total
            if self.next_mark <= tenth < 10:
                self._line(done)
                self.next_mark = tenth + 1
        elif done >= self.next_mark:
            self._line(done)
            while self.next_mark <= done:
                self.next_mark *= 2

    def finish(self, done: int) -> None:
        if self.out is not None:
            self._line(done)

    def _line(self, done: int) -> None:
        if self.total:
            amount = f"{done * 100 // self.total}% ({_mb(done)}/{_mb(self.total)} MB)"
        else:
            amount = f"{_mb(done)} MB"
        print(f"{self.name}: {amount} from {self.mirror}", file=self.out, flush=True)


def _mb(size: int) -> str:
    return f"{size / 1e6:.1f}"
