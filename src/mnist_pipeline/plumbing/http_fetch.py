"""One HTTP(S) download of a dataset file, bounded by its expected size and by a deadline.

An HTTP request must end within ``timeout + size / min_rate`` seconds of its start: connect,
status line, headers, every redirect and the body, each read of the socket waiting no longer
than what is left (``timeout`` alone only limits silence, which a drip of one byte every few
seconds never reaches). Only the host name's lookup is not bounded by it. A
``Content-Length`` of another size fails before the body is read, reading stops at the first
byte past the size, and redirects are followed only to http(s) URLs.
"""

from __future__ import annotations

import functools
import http.client
import io
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, TextIO

from mnist_pipeline.plumbing.files import OutputError
from mnist_pipeline.plumbing.verified import (
    Expected,
    MirrorFailed,
    Transient,
    capped,
    write_verified,
)

USER_AGENT = "mnist-pipeline"
HTTP_SCHEMES = ("http", "https")


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
            raise MirrorFailed(f"redirected to {newurl}: only http(s) redirects are followed")
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
        """Seconds the next read may wait; ``MirrorFailed`` once the end has passed."""
        left = self.end - time.monotonic()
        if left <= 0:
            raise _too_slow(self.expected)
        self.clamped = left < self.expected.timeout
        return min(self.expected.timeout, left)

    def timed_out(self) -> MirrorFailed:
        """The failure for a read that waited ``wait()`` seconds for nothing."""
        if self.clamped:
            return _too_slow(self.expected)
        return MirrorFailed(f"timed out after {self.expected.timeout:g} s")


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


def fetch_http(
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
                raise MirrorFailed(
                    f"Content-Length {declared} differs from the expected {expected.size} bytes"
                )
            report = _Progress(expected.name, mirror, expected.size, progress)
            write_verified(_http_chunks(response, expected, report), expected, dest)
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

    A body shorter than expected is a ``Transient`` failure; one longer (the first byte past
    the size) is a ``MirrorFailed``, not retried, and so is the deadline, which the
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
    for chunk in capped(read, expected.size):
        done += len(chunk)
        report.update(done)
        yield chunk
    if done < expected.size:
        raise _truncated(done, expected.size)
    report.finish(done)


def _too_slow(expected: Expected) -> MirrorFailed:
    return MirrorFailed(
        f"not complete within {expected.deadline:.1f} s (download.timeout + "
        f"{expected.size} bytes / download.min_rate)"
    )


def _truncated(done: int, total: int | None) -> Transient:
    of = f" of {total}" if total is not None else ""
    return Transient(f"body truncated at {done}{of} bytes")


def _http_status_failure(code: int, reason: object) -> MirrorFailed:
    phrase = str(reason or "").strip()
    if not phrase:
        try:
            phrase = http.HTTPStatus(code).phrase
        except ValueError:
            phrase = ""
    message = f"HTTP {code} {phrase}".rstrip()
    return Transient(message) if code >= 500 else MirrorFailed(message)


def _connection_failure(err: BaseException, deadline: _Deadline) -> MirrorFailed:
    if isinstance(err, urllib.error.URLError) and isinstance(err.reason, BaseException):
        err = err.reason
    if isinstance(err, TimeoutError):
        return deadline.timed_out()
    if isinstance(err, ConnectionRefusedError):
        return MirrorFailed("connection refused")
    if isinstance(err, http.client.RemoteDisconnected):
        return Transient("connection closed without a response")
    if isinstance(err, ConnectionResetError | ConnectionAbortedError | BrokenPipeError):
        return Transient("connection reset")
    if isinstance(err, socket.gaierror):
        return MirrorFailed(f"cannot resolve host: {err.strerror or err}")
    if isinstance(err, urllib.error.URLError):
        return MirrorFailed(str(err.reason))
    return MirrorFailed(str(err) or type(err).__name__)


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
