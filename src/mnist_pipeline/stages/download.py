"""Fetching the dataset files from a list of mirrors, each verified by size and sha256 before
it lands.

A mirror is a local directory (relative to the current directory), a ``file://`` URL or an
``http(s)://`` URL. Each is tried in order; the file is streamed into a temporary file beside
``dest`` while its sha256 is computed, and renamed onto ``dest`` only once the digest
matches, so ``dest`` is either absent, the old file, or a verified copy.

Every mirror is bounded by the file's expected ``size``: no more than ``size`` bytes are ever
written, reading stops at the first byte past it, a ``Content-Length`` or a local file of
another size fails before any byte is copied, and an HTTP request must end within
``timeout + size / min_rate`` seconds of its start: connect, status line, headers, every
redirect and the body, each read of the socket waiting no longer than what is left
(``timeout`` alone only limits silence, which a drip of one byte every few seconds never
reaches). Only the host name's lookup is not bounded by it. Redirects are followed only to
http(s) URLs.
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

import functools
import hashlib
import http.client
import io
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
from typing import IO, TYPE_CHECKING, Any, TextIO

from mnist_pipeline.plumbing.files import (
    NotRegularFileError,
    OutputError,
    atomic_dir,
    atomic_file,
    open_regular,
)

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
        """Seconds an HTTP request for the file may take, from its first byte (connect) to the
        last byte of the body, through the status line, headers and redirects."""
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


class _Deadline:
    """The end of one HTTP request: ``expected.deadline`` seconds after it starts. Every read
    of the socket waits ``expected.timeout`` (silence) at most, and never past the end."""

    def __init__(self, expected: Expected) -> None:
        self.expected = expected
        self.end = time.monotonic() + expected.deadline
        self.clamped = False
        """Whether the last wait was cut short by the end rather than by the silence limit."""

    def wait(self) -> float:
        """Seconds the next read may wait; ``_MirrorFailed`` once the end has passed."""
        left = self.end - time.monotonic()
        if left <= 0:
            raise _too_slow(self.expected)
        self.clamped = left < self.expected.timeout
        return min(self.expected.timeout, left)

    def timed_out(self) -> _MirrorFailed:
        """The failure for a read that waited ``wait()`` seconds for nothing."""
        if self.clamped:
            return _too_slow(self.expected)
        return _MirrorFailed(f"timed out after {self.expected.timeout:g} s")


class _DeadlineReader(io.RawIOBase):
    """The socket's reader under an HTTP response: sets the socket's timeout to
    ``deadline.wait()`` before each read, so that neither a status line, headers nor a body
    dripped a byte at a time outlast the deadline."""

    def __init__(self, raw: io.RawIOBase, sock: socket.socket, deadline: _Deadline) -> None:
        super().__init__()
        self._raw, self._sock, self._deadline = raw, sock, deadline

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int | None:  # type: ignore[override]
        self._sock.settimeout(self._deadline.wait())
        return self._raw.readinto(buffer)

    def fileno(self) -> int:
        return self._raw.fileno()

    def close(self) -> None:
        self._raw.close()
        super().close()


class _DeadlineResponse(http.client.HTTPResponse):
    """An HTTP response read through a ``_DeadlineReader``, status line and headers included."""

    def __init__(self, sock: socket.socket, *args: Any, deadline: _Deadline, **kwargs: Any) -> None:
        super().__init__(sock, *args, **kwargs)
        raw = self.fp.detach()  # http.client's buffered reader, nothing read through it yet
        self.fp = io.BufferedReader(_DeadlineReader(raw, sock, deadline))


class _DeadlineConnection(http.client.HTTPConnection):
    """Connects within ``deadline.wait()`` (the TLS handshake too, for HTTPS) and reads its
    responses as ``_DeadlineResponse``."""

    def __init__(self, *args: Any, deadline: _Deadline, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deadline = deadline
        self.response_class = functools.partial(_DeadlineResponse, deadline=deadline)

    def connect(self) -> None:
        self.timeout = self._deadline.wait()
        super().connect()


class _DeadlineHTTPSConnection(_DeadlineConnection, http.client.HTTPSConnection):
    """``_DeadlineConnection`` over TLS."""


class _DeadlineHTTPHandler(urllib.request.HTTPHandler):
    def __init__(self, deadline: _Deadline) -> None:
        super().__init__()
        self._deadline = deadline

    def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(functools.partial(_DeadlineConnection, deadline=self._deadline), req)


class _DeadlineHTTPSHandler(urllib.request.HTTPSHandler):
    def __init__(self, deadline: _Deadline) -> None:
        super().__init__()
        self._deadline = deadline

    def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        connection = functools.partial(_DeadlineHTTPSConnection, deadline=self._deadline)
        return self.do_open(connection, req, context=self._context)


def _opener(deadline: _Deadline) -> urllib.request.OpenerDirector:
    """The opener of one request: http(s)-only redirects, every connection and read of
    it and of its redirects bounded by ``deadline``."""
    return urllib.request.build_opener(
        _HttpOnlyRedirects, _DeadlineHTTPHandler(deadline), _DeadlineHTTPSHandler(deadline)
    )


def _fetch_http(
    url: str,
    mirror: str,
    expected: Expected,
    dest: Path,
    progress: TextIO | None,
) -> None:
    """One attempt, which must end within ``expected.deadline`` of its start: a declared
    Content-Length other than the expected size fails before the body is read."""
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    deadline = _Deadline(expected)
    try:
        with _opener(deadline).open(request) as response:
            declared = _content_length(response)
            if declared is not None and declared != expected.size:
                raise _MirrorFailed(
                    f"Content-Length {declared} differs from the expected {expected.size} bytes"
                )
            report = _Progress(expected.name, mirror, expected.size, progress)
            _write_verified(_http_chunks(response, expected, report), expected, dest)
    except urllib.error.HTTPError as err:
        raise _http_status_failure(err.code, err.reason) from None
    except OutputError:
        raise
    except (OSError, http.client.HTTPException) as err:
        raise _connection_failure(err, deadline) from None


def _content_length(response: http.client.HTTPResponse) -> int | None:
    value = response.headers.get("Content-Length")
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _http_chunks(
    response: http.client.HTTPResponse, expected: Expected, report: _Progress
) -> Iterator[bytes]:
    """Yield the body, at most ``expected.size`` bytes of it.

    A body shorter than expected is a ``_Transient`` failure; one longer (the first byte past
    the size) is a ``_MirrorFailed``, not retried, and so is the deadline, which the
    response's reader enforces (``_DeadlineReader``): each read is one system call
    (``read1``), so a drip of single bytes cannot stretch the transfer past it.
    """

    def receive(amount: int) -> bytes:
        if response.isclosed():  # http.client closes it at the end of the body, or early
            return b""
        try:
            return response.read1(amount)
        except http.client.IncompleteRead as err:
            raise _truncated(done + len(err.partial), expected.size) from None

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


def _connection_failure(err: BaseException, deadline: _Deadline) -> _MirrorFailed:
    if isinstance(err, urllib.error.URLError) and isinstance(err.reason, BaseException):
        err = err.reason
    if isinstance(err, TimeoutError):
        return deadline.timed_out()
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
