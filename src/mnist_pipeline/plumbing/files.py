"""Outputs written whole or not at all (under a temporary name beside them, ``TEMP_PATTERN``,
ignored by git and DVC, then renamed), inputs opened only when they are regular files, and a
failed write reported as one line naming the output."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import stat
import tempfile
from collections.abc import Iterator, Mapping, Sequence
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
                free = shutil.disk_usage(Path(self.filename).parent).free / 1e6
                line += f": it does not fit in the {free:.1f} MB free there"
        return line


def open_regular(path: Path | str) -> BinaryIO:
    """Open ``path`` to read bytes if it is a regular file (non-blocking: a FIFO fails at once)."""
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
def _atomic(dest: Path, folder: bool) -> Iterator[Path]:
    """Yield a temporary file or folder beside ``dest`` that replaces it if the block succeeds;
    a failure to write (not an input's error) becomes an ``OutputError`` naming ``dest``."""
    tmp = old = None
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        names = {"prefix": f".{dest.name}.", "suffix": ".tmp", "dir": dest.parent}
        if folder:
            tmp = Path(tempfile.mkdtemp(**names))
        else:
            with tempfile.NamedTemporaryFile(delete=False, **names) as file:
                tmp = Path(file.name)
        old = tmp.with_name(tmp.name.removesuffix(".tmp") + ".old.tmp")
        yield tmp
        umask = os.umask(0)
        os.umask(umask)
        tmp.chmod((0o777 if folder else 0o666) & ~umask)  # mkstemp's 0600 is for tmp only
        if folder and dest.exists():  # moved aside first: a crash leaves one of the two whole
            os.replace(dest, old)
        os.replace(tmp, dest)
    except OSError as err:
        at = Path(err.filename) if err.filename is not None else None
        ours = at is None or tmp in (None, at, *at.parents)
        if isinstance(err, OutputError) or err.errno not in _WRITE_ERRNOS or not ours:
            raise
        raise OutputError(err.errno, err.strerror, str(dest)) from None
    finally:
        for path in (tmp, old):
            if path is not None and path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            elif path is not None:
                path.unlink(missing_ok=True)


def atomic_file(dest: Path) -> contextlib.AbstractContextManager[Path]:
    """Yield a temporary path beside ``dest``; it becomes ``dest`` if the block succeeds."""
    return _atomic(Path(dest), folder=False)


def atomic_dir(dest: Path) -> contextlib.AbstractContextManager[Path]:
    """Yield an empty temporary folder; it replaces ``dest`` whole if the block succeeds."""
    return _atomic(Path(dest), folder=True)


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


def save_arrays(dest: Path, arrays: Mapping[str, np.ndarray]) -> None:
    """Save named arrays as one ``.npz``, uncompressed: zlib cost more time than the disk saves."""
    import numpy as np  # here: download and plots_template never need NumPy

    with atomic_file(dest) as tmp, tmp.open("wb") as fh:
        np.savez(fh, **arrays)


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
