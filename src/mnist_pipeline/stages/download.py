"""The download stage: fetching the dataset files from a list of mirrors, each verified by
size and sha256 before it lands.

A mirror is a local directory (relative to the current directory), a ``file://`` URL or an
``http(s)://`` URL (``plumbing.http_fetch``). Each is tried in order; the file is streamed
into a temporary file beside ``dest`` while its sha256 is computed, and renamed onto ``dest``
only once the digest matches (``plumbing.verified``), so ``dest`` is either absent, the old
file, or a verified copy. No mirror writes more than the expected ``size`` bytes.
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

import logging
import os
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from mnist_pipeline.plumbing.files import NotRegularFileError, atomic_dir, open_regular
from mnist_pipeline.plumbing.http_fetch import HTTP_SCHEMES, fetch_http
from mnist_pipeline.plumbing.verified import (
    Expected,
    MirrorFailed,
    Transient,
    capped,
    write_verified,
)

if TYPE_CHECKING:
    from mnist_pipeline.plumbing.params import Dataset, Download

BACKOFF = 0.2
"""Seconds of wait before retry ``n`` is ``BACKOFF * n``: enough to ride out a blip."""
log = logging.getLogger("download")


class FetchError(RuntimeError):
    """No mirror served the file with the expected checksum."""


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
        except MirrorFailed as err:
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
        _with_retries(lambda: fetch_http(url, mirror, expected, dest, progress), retries)
    elif scheme == "file":
        _copy_local(_file_url_path(mirror) / expected.name, expected, dest)
    elif scheme:
        raise MirrorFailed(
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
        except Transient as err:
            if n == tries:
                plural = "try" if tries == 1 else "tries"
                raise MirrorFailed(f"{err} (after {tries} {plural})") from None
            time.sleep(BACKOFF * n)


def _file_url_path(url: str) -> Path:
    parts = urllib.parse.urlsplit(url)
    if parts.netloc not in ("", "localhost"):
        raise MirrorFailed(f"file:// URL with a remote host {parts.netloc!r} is not supported")
    return Path(urllib.request.url2pathname(parts.path))


def _copy_local(path: Path, expected: Expected, dest: Path) -> None:
    """Copy a regular file of exactly the expected size; a device, a FIFO or a file of
    another size fails before any byte is copied."""
    try:
        source = open_regular(path)
    except NotRegularFileError as err:
        raise MirrorFailed(str(err)) from None
    except FileNotFoundError:
        raise MirrorFailed(f"no such file {path}") from None
    except OSError as err:
        raise MirrorFailed(f"cannot read {path}: {err.strerror or err}") from None
    with source:
        actual = os.fstat(source.fileno()).st_size
        if actual != expected.size:
            raise MirrorFailed(f"{path} is {actual} bytes, expected {expected.size}")
        write_verified(capped(source.read, expected.size), expected, dest, show_digest=False)
