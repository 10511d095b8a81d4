"""Stage download: each of the dataset's files from the first mirror (directory, file:// or
http(s)://) that serves its declared size and sha256; nothing is written on failure, and each
HTTP request, redirects included, must end by download.timeout + size / download.min_rate s."""

import argparse
import hashlib
import logging
import os
import signal
import sys
import time
import urllib.parse
from collections.abc import Iterable
from pathlib import Path

import requests
import urllib3

from mnist_pipeline.params import DatasetFile, Download, ParamsError, load_params
from mnist_pipeline.plumbing import files

CHUNK = 64 * 1024
log = logging.getLogger("download")


class Failed(Exception):
    """This mirror (or, from ``download``, every mirror) cannot serve the file; says why."""


class Transient(Failed):
    """A retry of the same mirror may succeed (a 5xx, a dropped connection, a short body)."""


class TooSlow(BaseException):
    """The deadline passed: a BaseException, which no ``except Exception`` in a library eats."""


def _write_verified(chunks: Iterable[bytes], file: DatasetFile, dest: Path, show: bool) -> None:
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


def _get(url: str, file: DatasetFile, timeout: float, dest: Path) -> None:
    with requests.Session() as session:
        session.headers["Accept-Encoding"] = "identity"  # the bytes as stored, not decoded
        for _ in range(10):  # redirects one by one: only http(s) ones are followed
            response = session.get(url, stream=True, timeout=timeout, allow_redirects=False)
            if not response.is_redirect:
                break
            url = urllib.parse.urljoin(url, response.headers["Location"])
            if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
                raise Failed(f"redirected to {url}: only http(s) redirects are followed")
        if response.status_code >= 300:
            status = f"HTTP {response.status_code} {response.reason}".rstrip()
            raise (Transient if response.status_code >= 500 else Failed)(status)
        if (length := response.headers.get("Content-Length", str(file.size))) != str(file.size):
            raise Failed(f"Content-Length {length} differs from the expected {file.size} bytes")
        response.raw.enforce_content_length = False  # we count the bytes ourselves
        chunks = iter(lambda: response.raw.read(CHUNK, decode_content=False), b"")
        _write_verified(chunks, file, dest, show=True)


def _fetch_http(url: str, file: DatasetFile, settings: Download, dest: Path) -> None:
    # SIGALRM (main thread only): a server dripping bytes never trips a socket timeout.
    deadline = settings.timeout + file.size / settings.min_rate

    def too_slow(signum: int, frame: object) -> None:
        raise TooSlow

    previous = signal.signal(signal.SIGALRM, too_slow)
    try:
        signal.setitimer(signal.ITIMER_REAL, deadline)
        try:
            _get(url, file, settings.timeout, dest)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
    except TooSlow:
        limit = f"download.timeout + {file.size} bytes / download.min_rate"
        raise Failed(f"not complete within {deadline:.1f} s ({limit})") from None
    except (requests.RequestException, urllib3.exceptions.HTTPError) as err:
        if isinstance(err, requests.Timeout | urllib3.exceptions.TimeoutError):
            raise Failed(f"timed out after {settings.timeout:g} s") from None
        cause: BaseException = err  # requests wraps urllib3's error, which wraps the socket's
        while cause.__context__ is not None:
            cause = cause.__context__
        if isinstance(cause, ConnectionRefusedError):
            raise Failed("connection refused") from None
        raise Transient("connection dropped") from None
    finally:
        signal.signal(signal.SIGALRM, previous)


def _copy_local(path: Path, file: DatasetFile, dest: Path) -> None:
    try:
        source = files.open_regular(path)
    except FileNotFoundError as err:  # NotRegularFileError names the path and what stands there
        raise Failed(str(err) if err.errno is None else f"no such file {path}") from None
    except OSError as err:
        raise Failed(f"{path}: {err.strerror}") from None
    with source:
        if (actual := os.fstat(source.fileno()).st_size) != file.size:
            raise Failed(f"{path} is {actual} bytes, expected {file.size}")
        chunks = iter(lambda: source.read(CHUNK), b"")
        _write_verified(chunks, file, dest, show=False)  # a digest could reveal the file read


def fetch_file(mirror: str, file: DatasetFile, settings: Download, dest: Path) -> None:
    """``file`` from one mirror into ``dest``; HTTP tried again after a Transient failure."""
    parts = urllib.parse.urlsplit(mirror)
    scheme = parts.scheme.lower() if "://" in mirror else ""
    if scheme in ("", "file"):
        folder = Path(urllib.parse.unquote(parts.path) if scheme else mirror)
        return _copy_local(folder / file.name, file, dest)
    if scheme not in ("http", "https"):
        raise Failed(f"unsupported URL scheme {scheme}:// (use a directory, file:// or http(s)://)")
    url = mirror.rstrip("/") + "/" + urllib.parse.quote(file.name)
    for attempt in range(1, settings.retries + 2):
        try:
            return _fetch_http(url, file, settings, dest)
        except Transient as err:
            if attempt > settings.retries:
                raise Failed(f"{err} (after {attempt} tr{'ies' if attempt > 1 else 'y'})") from None
            time.sleep(0.2 * attempt)  # enough to ride out a blip


def main(argv: list[str] | None = None) -> int:
    """Run the stage with the command line ``argv``; 0, or 1 after the error."""
    parser = argparse.ArgumentParser(prog="download", description=__doc__)
    parser.add_argument("--params", type=Path, required=True, help="params.yaml")
    parser.add_argument("--out", type=Path, required=True, help="folder to write the files into")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    try:
        params = load_params(args.params)
        mirrors = params.dataset.mirrors
        with files.atomic_dir(args.out) as tmp:  # OUT appears only once every file is there
            for file in params.dataset.files.values():
                started, failures = time.monotonic(), ""
                for mirror in mirrors:
                    try:
                        fetch_file(mirror, file, params.download, tmp / file.name)
                        break
                    except Failed as err:
                        failures += f"\n  - {mirror}: {err}"
                else:
                    where = "1 mirror" if len(mirrors) == 1 else f"any of {len(mirrors)} mirrors"
                    raise Failed(f"could not fetch {file.name} from {where}:{failures}")
                seconds = time.monotonic() - started
                log.info("%s: %d bytes from %s in %.2f s", file.name, file.size, mirror, seconds)
    except (ParamsError, Failed, files.OutputError) as err:
        print(f"download: error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
