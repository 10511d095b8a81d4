"""Outputs written whole or not at all, inputs opened only when they are regular files, and a
failed write reported as one line naming the output (not its temporary name).

Each output is written under a temporary name beside it (``.<name>.<random>.tmp``, ignored by
git and DVC: ``TEMP_PATTERN``) and renamed into place only when complete, so a reader sees the
old output or the whole new one.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import stat
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

if TYPE_CHECKING:
    import numpy as np

TEMP_PATTERN = ".*.tmp"
# Failures of writing that no retry fixes: a full disk or quota, the file-size limit, a
# read-only or forbidden folder.
_WRITE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS, errno.EACCES, errno.EPERM}
_KINDS = {stat.S_IFDIR: "a directory", stat.S_IFIFO: "a FIFO", stat.S_IFSOCK: "a socket"}
_KINDS |= {stat.S_IFCHR: "a character device", stat.S_IFBLK: "a block device"}


class NotRegularFileError(FileNotFoundError):
    """A directory, FIFO, device or socket stands where a regular file is expected."""


class OutputError(OSError):
    """An output could not be written; ``str()`` is one line naming it and what ran out."""

    def __str__(self) -> str:
        line = f"{self.filename}: cannot write: {self.strerror} "
        line += f"(errno {self.errno} {errno.errorcode.get(self.errno, '?')})"
        if self.errno in (errno.ENOSPC, errno.EDQUOT):
            with contextlib.suppress(OSError):
                fs = os.statvfs(Path(self.filename).parent)
                free = fs.f_bavail * fs.f_frsize / 1e6
                line += f": it does not fit in the {free:.1f} MB free there"
        return line


def open_regular(path: Path | str) -> BinaryIO:
    """Open ``path`` for binary reading if it is a regular file; a FIFO with no writer is
    refused at once (opened non-blocking), like a folder or a device."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        if not stat.S_ISREG(mode := os.fstat(fd).st_mode):
            kind = _KINDS.get(stat.S_IFMT(mode), "not a file")
            raise NotRegularFileError(f"{path}: expected a regular file, got {kind}")
        os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return os.fdopen(fd, "rb")


@contextlib.contextmanager
def _naming(dest: Path, tmp: Path) -> Iterator[None]:
    """Re-raise a failure to write under ``tmp`` as an ``OutputError`` naming ``dest``; an
    error of reading an input inside the block keeps its own message."""
    try:
        yield
    except OSError as err:
        ours = err.filename is None or Path(err.filename) in (tmp, *Path(err.filename).parents)
        if isinstance(err, OutputError) or err.errno not in _WRITE_ERRNOS or not ours:
            raise
        raise OutputError(err.errno, err.strerror, str(dest)) from None


def _temporary(dest: Path, make: Callable[..., str] | None = None) -> Path:
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        if make is not None:
            return Path(make(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent))
        fd, name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
        os.close(fd)
        return Path(name)
    except OSError as err:
        if err.errno not in _WRITE_ERRNOS:
            raise
        raise OutputError(err.errno, err.strerror, str(dest)) from None


def _mode(full: int) -> int:
    mask = os.umask(0)
    os.umask(mask)
    return full & ~mask


@contextlib.contextmanager
def atomic_file(dest: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``dest``; it becomes ``dest`` if the block succeeds."""
    dest = Path(dest)
    tmp = _temporary(dest)
    try:
        with _naming(dest, tmp):
            yield tmp
            tmp.chmod(_mode(0o666))  # mkstemp's 0600 is for the temporary name only
            os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_dir(dest: Path) -> Iterator[Path]:
    """Yield an empty temporary folder; it replaces ``dest`` whole if the block succeeds."""
    dest = Path(dest)
    tmp = _temporary(dest, tempfile.mkdtemp)
    old = tmp.with_name(tmp.name.removesuffix(".tmp") + ".old.tmp")
    try:
        with _naming(dest, tmp):
            yield tmp
            tmp.chmod(_mode(0o777))
            # The old folder moves aside first: a crash leaves one of the two whole.
            if dest.exists():
                os.replace(dest, old)
            os.replace(tmp, dest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)


def write_text(dest: Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``dest`` whole."""
    with atomic_file(dest) as tmp:
        tmp.write_text(text, encoding="utf-8")


def csv_text(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """Comma-separated lines with a header (plain names and numbers, never quoted)."""
    return "".join(",".join(map(str, line)) + "\n" for line in [header, *rows])


def write_json(dest: Path, data: object) -> None:
    """Write JSON with sorted keys and a final newline: same data, same bytes."""
    write_text(dest, json.dumps(data, indent=2, sort_keys=True) + "\n")


def save_arrays(dest: Path, arrays: Mapping[str, np.ndarray], *, compress: bool = False) -> None:
    """Save named arrays as one ``.npz`` (compressed for integer images)."""
    import numpy as np  # here: download and plots_template never need NumPy

    with atomic_file(dest) as tmp, tmp.open("wb") as fh:
        (np.savez_compressed if compress else np.savez)(fh, **arrays)


def load_arrays(path: Path, names: tuple[str, ...]) -> dict[str, np.ndarray]:
    """Load the named arrays of an ``.npz`` (never unpickling), naming what is missing."""
    import numpy as np

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file (did the previous stage run?)")
    with open_regular(path) as fh, np.load(fh, allow_pickle=False) as npz:
        if missing := [name for name in names if name not in npz.files]:
            raise ValueError(f"{path}: missing arrays {missing}; it holds {sorted(npz.files)}")
        return {name: npz[name] for name in names}
