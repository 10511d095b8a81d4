"""Stage download: each of the dataset's four files from the first of its mirrors (directories,
file:// or http(s):// URLs) that serves the declared size and sha256, through requests.

    python src/download.py --params params.yaml --out stages/download

Never more than the size is written, nothing at all on failure; an HTTP request, redirects
included, ends within download.timeout + size / download.min_rate s (SIGALRM: a server dripping
bytes never trips a socket timeout); only 5xx and dropped connections are retried.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import os
import signal
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import requests
import urllib3

from mnist_pipeline.params import ParamsError, load_params
from mnist_pipeline.plumbing import files

CHUNK = 64 * 1024
BACKOFF = 0.2  # seconds before retry n: BACKOFF * n, enough to ride out a blip
log = logging.getLogger("download")


class Failed(Exception):
    """This mirror cannot serve the file; the message says why."""


class Transient(Failed):
    """A retry of the same mirror may succeed."""


class FetchError(Exception):
    """No mirror served a file: the message names it, then each mirror and why, a line each."""


class TooSlow(BaseException):
    """The deadline passed: a BaseException, which no ``except Exception`` in a library eats."""


def write_verified(chunks: Iterable[bytes], file: Any, dest: Path, show: bool) -> None:
    """``chunks`` into a temporary file renamed onto ``dest`` only if they are exactly the
    file's size and sha256; the first byte past the size fails."""
    digest, done = hashlib.sha256(), 0
    with files.atomic_file(dest) as tmp, tmp.open("wb") as out:
        for chunk in chunks:
            if (done := done + len(chunk)) > file.size:
                raise Failed(f"sent more than the expected {file.size} bytes")
            digest.update(chunk)
            out.write(chunk)
        if done < file.size:
            raise Transient(f"body truncated at {done} of {file.size} bytes")
        if digest.hexdigest() != file.sha256:
            got = f", got {digest.hexdigest()}" if show else ""
            raise Failed(f"checksum mismatch: expected sha256 {file.sha256}{got}")


def get(session: requests.Session, url: str, file: Any, timeout: float, dest: Path) -> None:
    """One GET, redirects followed to http(s) only; a Content-Length other than the size fails
    before the body, and at most size + 1 bytes of it are read."""
    for _ in range(10):
        headers = {"Accept-Encoding": "identity"}  # the bytes as stored: no decoding
        response = session.get(
            url, stream=True, timeout=timeout, allow_redirects=False, headers=headers
        )
        if not response.is_redirect:
            break
        url = urllib.parse.urljoin(url, response.headers["Location"])
        if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
            raise Failed(f"redirected to {url}: only http(s) redirects are followed")
    if response.status_code >= 300:
        status = f"HTTP {response.status_code} {response.reason}".rstrip()
        raise (Transient if response.status_code >= 500 else Failed)(status)
    if (declared := response.headers.get("Content-Length", str(file.size))) != str(file.size):
        raise Failed(f"Content-Length {declared} differs from the expected {file.size} bytes")
    response.raw.enforce_content_length = False  # we count the bytes ourselves

    def body(done: int = 0) -> Iterable[bytes]:
        while chunk := response.raw.read(min(CHUNK, file.size + 1 - done), decode_content=False):
            done += len(chunk)
            yield chunk

    write_verified(body(), file, dest, show=True)


def fetch_http(url: str, file: Any, settings: Any, dest: Path) -> None:
    """One attempt, within the file's deadline (SIGALRM: main thread only)."""
    deadline = settings.timeout + file.size / settings.min_rate

    def too_slow(signum: int, frame: object) -> None:
        raise TooSlow

    previous = signal.signal(signal.SIGALRM, too_slow)
    try:
        signal.setitimer(signal.ITIMER_REAL, deadline)
        try:
            with requests.Session() as session:
                get(session, url, file, settings.timeout, dest)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
    except TooSlow:
        limit = f"download.timeout + {file.size} bytes / download.min_rate"
        raise Failed(f"not complete within {deadline:.1f} s ({limit})") from None
    except (requests.RequestException, urllib3.exceptions.HTTPError) as err:
        if isinstance(err, requests.Timeout | urllib3.exceptions.TimeoutError):
            raise Failed(f"timed out after {settings.timeout:g} s") from None
        cause: BaseException = err  # requests wraps urllib3's error, which wraps the socket's
        while isinstance(
            inner := getattr(cause, "reason", None) or cause.__context__, BaseException
        ):
            cause = inner
        if isinstance(cause, ConnectionRefusedError):
            raise Failed("connection refused") from None
        raise Transient("connection dropped") from None
    finally:
        signal.signal(signal.SIGALRM, previous)


def copy_local(path: Path, file: Any, dest: Path) -> None:
    """Copy a regular file of exactly the size (a device, a FIFO or another size fails at once);
    its digest is never printed, which could help guess a file a wrong path points at."""
    if not path.exists():
        raise Failed(f"no such file {path}")
    try:
        source = files.open_regular(path)
    except OSError as err:  # NotRegularFileError names the path and what stands there
        raise Failed(str(err) if err.errno is None else f"{path}: {err.strerror}") from None
    with source:
        if (actual := os.fstat(source.fileno()).st_size) != file.size:
            raise Failed(f"{path} is {actual} bytes, expected {file.size}")
        write_verified(iter(lambda: source.read(CHUNK), b""), file, dest, show=False)


def fetch_file(mirror: str, file: Any, settings: Any, dest: Path) -> None:
    """``file`` from one mirror into ``dest``; HTTP tried again after a Transient failure."""
    parts = urllib.parse.urlsplit(mirror)
    scheme = parts.scheme.lower() if "://" in mirror else ""
    if scheme in ("", "file"):
        folder = Path(urllib.request.url2pathname(parts.path) if scheme else mirror)
        return copy_local(folder / file.name, file, dest)
    if scheme not in ("http", "https"):
        raise Failed(f"unsupported URL scheme {scheme}:// (use a directory, file:// or http(s)://)")
    url = mirror.rstrip("/") + "/" + urllib.parse.quote(file.name)
    for attempt in range(1, settings.retries + 2):
        try:
            return fetch_http(url, file, settings, dest)
        except Transient as err:
            if attempt > settings.retries:
                raise Failed(
                    f"{err} (after {attempt} {'tries' if attempt > 1 else 'try'})"
                ) from None
            time.sleep(BACKOFF * attempt)


def download(params_file: Path, out: Path) -> None:
    """Every file of the selected dataset into ``out``, which appears only once all are."""
    params = load_params(params_file)
    with files.atomic_dir(out) as tmp:
        for file in params.dataset.files.values():
            started, failures = time.monotonic(), []
            for mirror in params.dataset.mirrors:
                try:
                    fetch_file(mirror, file, params.download, tmp / file.name)
                    break
                except Failed as err:
                    failures.append(f"\n  - {mirror}: {err}")
            else:
                where = "1 mirror" if len(failures) == 1 else f"any of {len(failures)} mirrors"
                raise FetchError(f"could not fetch {file.name} from {where}:{''.join(failures)}")
            seconds = time.monotonic() - started
            log.info("%s: %d bytes from %s in %.2f s", file.name, file.size, mirror, seconds)


def main(argv: list[str] | None = None) -> int:
    """Run the stage with the command line ``argv``; 0, or 1 after the error."""
    parser = argparse.ArgumentParser(
        prog="download",
        description="Fetch the selected dataset's four files, each from the first of its "
        "mirrors that serves its declared size and sha256 within download.timeout + size / "
        "download.min_rate seconds. OUT appears only when all four are verified.",
    )
    parser.add_argument("--params", type=Path, required=True, help="params.yaml")
    parser.add_argument("--out", type=Path, required=True, help="folder to write the files into")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    try:
        download(args.params, args.out)
    except (ParamsError, FetchError, files.OutputError) as err:
        print(f"download: error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
