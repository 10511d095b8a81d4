"""Fetching one dataset file from a list of mirrors, verified by sha256 before it lands.

A mirror is a local directory (relative to the current directory), a ``file://`` URL or an
``http(s)://`` URL. Each is tried in order; the file is streamed into a temporary file beside
``dest`` while its sha256 is computed, and renamed onto ``dest`` only once the digest
matches, so ``dest`` is either absent, the old file, or a verified copy.

Only failures that may go away on their own (HTTP 5xx, a dropped connection, a body cut
short) are retried on the same mirror. A 404, a checksum mismatch or a timeout moves on to
the next mirror at once: retrying them would cost time and almost never help.
"""

from __future__ import annotations

import hashlib
import http.client
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import BinaryIO, TextIO

from mnist_pipeline.files import atomic_file

CHUNK = 64 * 1024
BACKOFF = 0.2
"""Seconds of wait before retry ``n`` is ``BACKOFF * n``: enough to ride out a blip."""
USER_AGENT = "mnist-pipeline"
HTTP_SCHEMES = ("http", "https")


class FetchError(RuntimeError):
    """No mirror served the file with the expected checksum."""


class _MirrorFailed(Exception):
    """This mirror cannot serve the file; the message says why."""


class _Transient(_MirrorFailed):
    """This attempt failed in a way a retry of the same mirror may fix."""


def fetch_file(
    name: str,
    sha256: str,
    mirrors: Sequence[str],
    dest: Path,
    *,
    timeout: float,
    retries: int,
    progress: TextIO | None,
) -> str:
    """Fetch ``name`` from the first mirror that serves it with digest ``sha256``.

    Returns the mirror that served it. Raises ``FetchError`` listing every mirror tried and
    why it failed.
    """
    dest = Path(dest)
    failures: list[tuple[str, str]] = []
    for mirror in mirrors:
        try:
            _fetch_from(mirror, name, sha256, dest, timeout=timeout, retries=retries,
                        progress=progress)
        except _MirrorFailed as err:
            failures.append((mirror, str(err)))
        else:
            return mirror
    raise FetchError(failure_message(name, failures))


def failure_message(name: str, failures: Sequence[tuple[str, str]]) -> str:
    count = len(failures)
    where = "1 mirror" if count == 1 else f"any of {count} mirrors"
    lines = [f"could not fetch {name} from {where}:"]
    lines += [f"  - {mirror}: {reason}" for mirror, reason in failures]
    return "\n".join(lines)


def _fetch_from(
    mirror: str,
    name: str,
    sha256: str,
    dest: Path,
    *,
    timeout: float,
    retries: int,
    progress: TextIO | None,
) -> None:
    scheme = urllib.parse.urlsplit(mirror).scheme.lower() if "://" in mirror else ""
    if scheme in HTTP_SCHEMES:
        url = mirror.rstrip("/") + "/" + urllib.parse.quote(name)
        _with_retries(
            lambda: _fetch_http(url, mirror, name, sha256, dest, timeout, progress), retries
        )
    elif scheme == "file":
        _copy_local(_file_url_path(mirror) / name, sha256, dest)
    elif scheme:
        raise _MirrorFailed(f"unsupported URL scheme {scheme}:// (use a directory, file:// "
                            "or http(s)://)")
    else:
        _copy_local(Path(mirror) / name, sha256, dest)


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


def _copy_local(path: Path, sha256: str, dest: Path) -> None:
    try:
        source = path.open("rb")
    except FileNotFoundError:
        raise _MirrorFailed(f"no such file {path}") from None
    except OSError as err:
        raise _MirrorFailed(f"cannot read {path}: {err.strerror or err}") from None
    with source:
        _write_verified(_chunks(source), sha256, dest)


def _chunks(stream: BinaryIO) -> Iterable[bytes]:
    while chunk := stream.read(CHUNK):
        yield chunk


def _write_verified(chunks: Iterable[bytes], sha256: str, dest: Path) -> None:
    """Stream ``chunks`` to a temporary file beside ``dest``; rename it only if the digest
    matches (any exception, including from ``chunks``, removes the temporary file)."""
    digest = hashlib.sha256()
    with atomic_file(dest) as tmp:
        with tmp.open("wb") as out:
            for chunk in chunks:
                digest.update(chunk)
                out.write(chunk)
        got = digest.hexdigest()
        if got != sha256:
            raise _MirrorFailed(f"checksum mismatch: expected sha256 {sha256}, got {got}")


def _fetch_http(
    url: str,
    mirror: str,
    name: str,
    sha256: str,
    dest: Path,
    timeout: float,
    progress: TextIO | None,
) -> None:
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            total = _content_length(response)
            report = _Progress(name, mirror, total, progress)
            _write_verified(_http_chunks(response, total, report), sha256, dest)
    except urllib.error.HTTPError as err:
        raise _http_status_failure(err.code, err.reason) from None
    except (OSError, http.client.HTTPException) as err:
        raise _connection_failure(err, timeout) from None


def _content_length(response: http.client.HTTPResponse) -> int | None:
    value = response.headers.get("Content-Length")
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _http_chunks(
    response: http.client.HTTPResponse, total: int | None, report: _Progress
) -> Iterable[bytes]:
    """Yield the body; a body shorter than its Content-Length is a ``_Transient`` failure.

    ``HTTPResponse.read`` returns a short body without complaint when the server closes
    early, so the byte count is checked here as well as ``IncompleteRead``.
    """
    done = 0
    while True:
        try:
            chunk = response.read(CHUNK)
        except http.client.IncompleteRead as err:
            raise _truncated(done + len(err.partial), total) from None
        if not chunk:
            break
        done += len(chunk)
        report.update(done)
        yield chunk
    if total is not None and done < total:
        raise _truncated(done, total)
    report.finish(done)


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

    def __init__(self, name: str, mirror: str, total: int | None, out: TextIO | None) -> None:
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
