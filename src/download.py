"""Stage download: the dataset's four files, each from the first of its mirrors that serves
it with the declared size and sha256; the output folder appears only once all four are.

    python src/download.py --params params.yaml --out stages/download

A mirror is a directory, a file:// URL or an http(s):// URL (datasets.yaml), tried in order.
HTTP goes through requests (it honours the proxy and certificate settings pip and dvc use).
No mirror makes us write more than the declared size; a local mirror must hold a regular file
of exactly that size. Each HTTP request, redirects included, ends within ``download.timeout +
size / download.min_rate`` seconds: a SIGALRM bounds it, as a server dripping a byte at a time
never trips a socket timeout (only the host name's lookup escapes it). Only HTTP 5xx and
dropped connections are retried (``download.retries``). A local file's digest is never
printed: it could help guess an unrelated file that a wrong mirror path points at.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import os
import signal
import socket
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterable
from pathlib import Path

import requests
import urllib3
from tqdm import tqdm

from mnist_pipeline.plumbing.files import (
    NotRegularFileError,
    OutputError,
    atomic_dir,
    atomic_file,
    open_regular,
)
from mnist_pipeline.plumbing.params import Dataset, Download, ParamsError, load_params

CHUNK = 64 * 1024
BACKOFF = 0.2
"""Seconds before retry ``n`` is ``BACKOFF * n``: enough to ride out a blip."""
MAX_REDIRECTS = 10
log = logging.getLogger("download")


class Failed(Exception):
    """This mirror cannot serve the file; the message says why."""


class Transient(Failed):
    """A retry of the same mirror may succeed."""


class TooSlow(BaseException):
    """The request's deadline passed. A ``BaseException``: no ``except Exception`` inside the
    HTTP libraries swallows it."""


def _too_slow(signum: int, frame: object) -> None:
    raise TooSlow


def write_verified(chunks: Iterable[bytes], size: int, sha256: str, dest: Path, show: bool) -> None:
    """Stream ``chunks`` into a temporary file beside ``dest``, renamed onto it only if they are
    exactly ``size`` bytes of digest ``sha256``; the first byte past ``size`` fails."""
    digest, done = hashlib.sha256(), 0
    with atomic_file(dest) as tmp, tmp.open("wb") as out:
        for chunk in chunks:
            done += len(chunk)
            if done > size:
                raise Failed(f"sent more than the expected {size} bytes")
            digest.update(chunk)
            out.write(chunk)
        if done < size:
            raise Transient(f"body truncated at {done} of {size} bytes")
        if digest.hexdigest() != sha256:
            got = f", got {digest.hexdigest()}" if show else ""
            raise Failed(f"checksum mismatch: expected sha256 {sha256}{got}")


def _get(session: requests.Session, url: str, timeout: float) -> requests.Response:
    """The response to GET ``url``, redirects followed to http(s) URLs only."""
    for _ in range(MAX_REDIRECTS + 1):
        response = session.get(
            url,
            stream=True,
            timeout=timeout,
            allow_redirects=False,
            headers={"Accept-Encoding": "identity", "User-Agent": "mnist-pipeline"},
        )
        if not response.is_redirect:
            return response
        response.close()
        url = urllib.parse.urljoin(url, response.headers["Location"])
        if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
            raise Failed(f"redirected to {url}: only http(s) redirects are followed")
    raise Failed(f"more than {MAX_REDIRECTS} redirects")


def _fetch_http(url: str, name: str, size: int, sha256: str, dest: Path, timeout: float) -> None:
    """One attempt: a ``Content-Length`` other than ``size`` fails before the body is read, and
    at most ``size + 1`` bytes of the body are ever read."""
    with requests.Session() as session, _get(session, url, timeout) as response:
        if response.status_code >= 400:
            status = f"HTTP {response.status_code} {response.reason}".rstrip()
            raise (Transient if response.status_code >= 500 else Failed)(status)
        declared = response.headers.get("Content-Length")
        if declared is not None and declared.strip() != str(size):
            raise Failed(f"Content-Length {declared} differs from the expected {size} bytes")
        response.raw.enforce_content_length = False  # we count the bytes ourselves
        done = 0
        with tqdm(total=size, unit="B", unit_scale=True, desc=name, disable=None) as bar:

            def body() -> Iterable[bytes]:
                nonlocal done
                while chunk := response.raw.read(min(CHUNK, size + 1 - done), decode_content=False):
                    done += len(chunk)
                    bar.update(len(chunk))
                    yield chunk

            write_verified(body(), size, sha256, dest, show=True)


def _connection_failure(err: Exception, timeout: float) -> Failed:
    """Our words for a request that failed without an answer, from the error at its root
    (requests wraps urllib3's, which wraps the socket's)."""
    if isinstance(err, requests.Timeout | urllib3.exceptions.TimeoutError):
        return Failed(f"timed out after {timeout:g} s")
    cause: BaseException = err
    while isinstance(inner := getattr(cause, "reason", None) or cause.__context__, BaseException):
        cause = inner
    if isinstance(cause, ConnectionRefusedError):
        return Failed("connection refused")
    if isinstance(cause, socket.gaierror):
        return Failed(f"cannot resolve host: {cause.strerror}")
    return Transient("connection dropped")


def fetch_http(url: str, name: str, size: int, sha256: str, dest: Path, settings: Download) -> None:
    """One attempt within the deadline (``SIGALRM``; main thread only)."""
    deadline = settings.timeout + size / settings.min_rate
    previous = signal.signal(signal.SIGALRM, _too_slow)
    signal.setitimer(signal.ITIMER_REAL, deadline)
    try:
        try:
            _fetch_http(url, name, size, sha256, dest, settings.timeout)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
    except TooSlow:
        raise Failed(
            f"not complete within {deadline:.1f} s (download.timeout + {size} bytes / "
            "download.min_rate)"
        ) from None
    except (requests.RequestException, urllib3.exceptions.HTTPError) as err:
        raise _connection_failure(err, settings.timeout) from None
    finally:
        signal.signal(signal.SIGALRM, previous)


def copy_local(path: Path, size: int, sha256: str, dest: Path) -> None:
    """Copy a regular file of exactly ``size`` bytes: a device, a FIFO or a file of another
    size fails before any byte is copied."""
    if not path.exists():
        raise Failed(f"no such file {path}")
    try:
        source = open_regular(path)
    except NotRegularFileError as err:
        raise Failed(str(err)) from None
    except OSError as err:
        raise Failed(f"cannot read {path}: {err.strerror}") from None
    with source:
        if (actual := os.fstat(source.fileno()).st_size) != size:
            raise Failed(f"{path} is {actual} bytes, expected {size}")
        write_verified(iter(lambda: source.read(CHUNK), b""), size, sha256, dest, show=False)


def fetch_file(
    mirror: str, name: str, size: int, sha256: str, dest: Path, settings: Download
) -> None:
    """``name`` from one mirror into ``dest``; HTTP retried after a ``Transient`` failure."""
    parts = urllib.parse.urlsplit(mirror)
    scheme = parts.scheme.lower() if "://" in mirror else ""
    if scheme in ("", "file"):
        folder = Path(urllib.request.url2pathname(parts.path) if scheme else mirror)
        return copy_local(folder / name, size, sha256, dest)
    if scheme not in ("http", "https"):
        raise Failed(f"unsupported URL scheme {scheme}:// (use a directory, file:// or http(s)://)")
    url = mirror.rstrip("/") + "/" + urllib.parse.quote(name)
    for attempt in range(1, settings.retries + 2):
        try:
            return fetch_http(url, name, size, sha256, dest, settings)
        except Transient as err:
            if attempt > settings.retries:
                raise Failed(
                    f"{err} (after {attempt} {'try' if attempt == 1 else 'tries'})"
                ) from None
            time.sleep(BACKOFF * attempt)


class FetchError(Exception):
    """No mirror served a file: the message names it, then each mirror and why, a line each."""


def download(dataset: Dataset, settings: Download, out: Path) -> None:
    """Every file of ``dataset`` into ``out``, which appears only once all are."""
    with atomic_dir(out) as tmp:
        for file in dataset.files.values():
            started, failures = time.monotonic(), []
            for mirror in dataset.mirrors:
                try:
                    fetch_file(mirror, file.name, file.size, file.sha256, tmp / file.name, settings)
                    break
                except Failed as err:
                    failures.append(f"  - {mirror}: {err}")
            else:
                where = "1 mirror" if len(failures) == 1 else f"any of {len(failures)} mirrors"
                raise FetchError(
                    "\n".join([f"could not fetch {file.name} from {where}:", *failures])
                )
            seconds = time.monotonic() - started
            log.info("%s: %d bytes from %s in %.2f s", file.name, file.size, mirror, seconds)


def main(argv: list[str] | None = None) -> int:
    """Run the stage with the command line ``argv``; 0, or 1 after the error."""
    parser = argparse.ArgumentParser(
        prog="download",
        description="Fetch the four IDX files of the dataset params.yaml selects, trying each "
        "of its mirrors in order (a directory, a file:// or an http(s):// URL); each must have "
        "its declared size and sha256, and arrive within download.timeout + size / "
        "download.min_rate seconds. OUT appears only when all four are verified. Exit status 1 "
        "if the params are invalid or a file could not be fetched from any mirror.",
    )
    parser.add_argument(
        "--params", type=Path, required=True, help="params.yaml (dataset, its mirrors, download)"
    )
    parser.add_argument("--out", type=Path, required=True, help="folder to write the files into")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    started = time.perf_counter()
    try:
        params = load_params(args.params)
        download(params.dataset, params.download, args.out)
    except (ParamsError, FetchError, OutputError) as err:
        print(f"download: error: {err}", file=sys.stderr)
        return 1
    log.info("done in %.1f s", time.perf_counter() - started)
    return 0


if __name__ == "__main__":
    sys.exit(main())
