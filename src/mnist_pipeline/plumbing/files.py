"""Writing outputs so that a crash never leaves a half-written file behind, opening inputs so
that a FIFO or device in place of a file is refused instead of read forever, and turning a
full disk, a file-size limit or a read-only folder into one line naming the output.

Every output is written under a temporary name in the same directory and renamed into
place only when complete: a reader (the next stage, DVC, a user) sees the old file, no
file, or the whole new one. Every temporary name is ``.<output name>.<8 characters>.tmp``
and matches ``TEMP_PATTERN`` (``.*.tmp``), which both ``.gitignore`` and ``.dvcignore`` list:
what a ``kill -9`` leaves behind is neither shown by ``git status`` nor part of any folder DVC
hashes as a dependency. Its writer holds an exclusive ``flock`` on it while it lives, so the
next writer of the same output removes what a killed run left (``remove_stale_temps``) and
never a temporary name of another output, nor one that a running process still holds.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import re
import resource
import shutil
import stat
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

if TYPE_CHECKING:
    import numpy as np

TEMP_PATTERN = ".*.tmp"
"""The gitignore-style pattern every temporary name matches (listed in .gitignore and
.dvcignore)."""
_WRITE_ERRNOS = frozenset(
    {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS, errno.EACCES, errno.EPERM}
)
"""The errors of writing that no retry fixes: a full disk or quota, the file-size limit, a
read-only or forbidden folder."""
_FILE_KINDS = {
    stat.S_IFDIR: "a directory",
    stat.S_IFIFO: "a FIFO",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFSOCK: "a socket",
}


class NotRegularFileError(FileNotFoundError):
    """A directory, FIFO, device or socket stands where a regular file is expected.

    A ``FileNotFoundError``, so that every stage reports it as it reports a missing input.
    """

    def __init__(self, path: Path | str, kind: str) -> None:
        super().__init__(f"{path}: expected a regular file, got {kind}")
        self.kind = kind


def open_regular(path: Path | str) -> BinaryIO:
    """Open ``path`` for binary reading if it is a regular file (symlinks are followed).

    Never blocks: the file is opened non-blocking, so a FIFO with no writer is refused at
    once like a directory or a device. Raises ``FileNotFoundError`` if there is nothing at
    ``path`` and ``NotRegularFileError`` (one line naming the path) if it is not a file.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            kind = _FILE_KINDS.get(stat.S_IFMT(mode), "not a file")
            raise NotRegularFileError(path, kind)
        os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return os.fdopen(fd, "rb")


class OutputError(OSError):
    """An output could not be written: a full disk or quota, the file-size limit (``ulimit
    -f``), a read-only or forbidden folder. ``str()`` is one line naming the output (not its
    temporary name), the errno, and the free space or the limit where that is what ran out."""

    def __init__(self, dest: Path, err: OSError) -> None:
        code = err.errno or 0
        super().__init__(code, err.strerror or os.strerror(code), str(dest))
        self.detail = _shortage(code, dest)

    def __str__(self) -> str:
        code = f"errno {self.errno} {errno.errorcode.get(self.errno, '?')}"
        return f"{self.filename}: cannot write: {self.strerror} ({code}){self.detail}"


class OutsideRepositoryError(ValueError):
    """An output's real path (symlinks followed) is not inside the repository."""


def _megabytes(size: int) -> str:
    return f"{size / 1e6:.1f} MB"


def _shortage(code: int, dest: Path) -> str:
    """What ran out, for ``OutputError``: the space left where ``dest`` goes (measured after
    the partial output was removed), or the process's file-size limit."""
    if code in (errno.ENOSPC, errno.EDQUOT):
        folder = Path(os.path.abspath(dest))
        while not folder.exists() and folder != folder.parent:
            folder = folder.parent
        with contextlib.suppress(OSError):
            fs = os.statvfs(folder)
            return f": it does not fit in the {_megabytes(fs.f_bavail * fs.f_frsize)} free there"
    if code == errno.EFBIG:
        limit = resource.getrlimit(resource.RLIMIT_FSIZE)[0]
        if limit != resource.RLIM_INFINITY:
            return f": a file of it exceeds the file-size limit of {_megabytes(limit)} (ulimit -f)"
    return ""


def _failed_writing(err: OSError, tmp: Path | None) -> bool:
    """``err`` is a failure to write the output whose temporary name is ``tmp`` (None: not yet
    created), not one of reading an input inside the ``with`` block."""
    if isinstance(err, OutputError):
        return True
    if err.errno not in _WRITE_ERRNOS:
        return False
    if err.filename is None or tmp is None:
        return True
    path = Path(err.filename)
    return path == tmp or tmp in path.parents


@contextlib.contextmanager
def _naming_the_output(dest: Path, tmp: Callable[[], Path | None]) -> Iterator[None]:
    """Re-raise a failure to write ``dest`` (``_failed_writing``) as an ``OutputError`` naming
    it; ``tmp()`` is its temporary name by then."""
    try:
        yield
    except OSError as err:
        if not _failed_writing(err, tmp()):
            raise
        raise OutputError(dest, err) from None


def check_inside(path: Path | str, repository: Path | str) -> None:
    """Refuse (``OutsideRepositoryError``, one line) an output ``path`` whose real path, every
    symlink followed, is not inside ``repository``: replacing it would replace a folder, and
    delete the files, that the repository does not own."""
    real, top = Path(os.path.realpath(path)), Path(os.path.realpath(repository))
    if top not in real.parents:
        raise OutsideRepositoryError(
            f"{path}: resolves to {real}, outside the repository {top}; nothing written"
        )


def _temp_names(dest: Path) -> re.Pattern[str]:
    """The temporary names ``atomic_file`` and ``atomic_dir`` give ``dest`` (and the
    ``.old.tmp`` name of the folder it replaces), and no other output's."""
    return re.compile(rf"\.{re.escape(dest.name)}\.[a-z0-9_]{{8}}(?:\.old)?\.tmp")


def _hold(fd: int) -> int:
    """Take the exclusive lock that marks a temporary name as its writer's while it lives."""
    fcntl.flock(fd, fcntl.LOCK_EX)
    return fd


def remove_stale_temps(dest: Path | str) -> list[Path]:
    """Remove the temporary names of ``dest`` that earlier, killed writers left beside it;
    return them. A name whose lock a live process holds (a concurrent run) is kept, and so is
    anything not named as ``dest``'s temporaries are, or not a plain file or folder. Best
    effort: what cannot be removed stays, and the atomic write goes on beside it."""
    dest = Path(dest)
    pattern = _temp_names(dest)
    try:
        names = sorted(entry.name for entry in os.scandir(dest.parent))
    except OSError:
        return []
    removed = []
    for name in names:
        path = dest.parent / name
        if pattern.fullmatch(name) and _remove_if_unheld(path):
            removed.append(path)
    return removed


def _remove_if_unheld(path: Path) -> bool:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        mode = os.fstat(fd).st_mode
        if not (stat.S_ISDIR(mode) or stat.S_ISREG(mode)):
            return False
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        if stat.S_ISDIR(mode):
            shutil.rmtree(path)
        else:
            path.unlink()
        return True
    except OSError:  # held by a live writer (BlockingIOError), or not removable
        return False
    finally:
        os.close(fd)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_file(dest: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``dest``; rename it onto ``dest`` if the block succeeds.
    A failure to write it (``OutputError``) names ``dest``; nothing is left behind."""
    dest = Path(dest)
    tmp: Path | None = None
    with _naming_the_output(dest, lambda: tmp):
        remove_stale_temps(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
        tmp = Path(tmp_name)
        try:
            _hold(fd)
            yield tmp
            tmp.chmod(0o666 & ~_umask())  # mkstemp's 0600 is for the temporary name only
            os.replace(tmp, dest)
        finally:
            tmp.unlink(missing_ok=True)
            os.close(fd)


@contextlib.contextmanager
def atomic_dir(dest: Path) -> Iterator[Path]:
    """Yield an empty temporary directory; it replaces ``dest`` whole if the block succeeds.
    A failure to write it (``OutputError``) names ``dest``; nothing is left behind."""
    dest = Path(dest)
    tmp: Path | None = None
    with _naming_the_output(dest, lambda: tmp):
        remove_stale_temps(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent))
        fd = os.open(tmp, os.O_RDONLY | os.O_CLOEXEC)
        try:
            _hold(fd)
            yield tmp
            tmp.chmod(0o777 & ~_umask())
            # Move the old folder aside before the new one takes its name, and delete it only
            # then: a crash leaves the old folder or the new one whole, never half of either.
            old = tmp.with_name(f"{tmp.name.removesuffix('.tmp')}.old.tmp")
            if dest.exists():
                os.replace(dest, old)
            os.replace(tmp, dest)
            shutil.rmtree(old, ignore_errors=True)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp)
            os.close(fd)


def write_text(dest: Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``dest`` atomically: a temporary file, then a rename."""
    with atomic_file(dest) as tmp:
        tmp.write_text(text, encoding="utf-8")


def csv_text(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """Comma-separated lines with a header and a final newline (values are plain names and
    numbers, never quoted)."""
    return "".join(",".join(map(str, line)) + "\n" for line in [header, *rows])


def write_json(dest: Path, data: object) -> None:
    """Write JSON with sorted keys and a trailing newline: same data, same bytes."""
    write_text(dest, json.dumps(data, indent=2, sort_keys=True) + "\n")


def save_arrays(dest: Path, arrays: Mapping[str, np.ndarray], *, compress: bool = False) -> None:
    """Save named arrays as one ``.npz`` (compressed for integer images, plain for floats).

    NumPy is imported here, not with this module: ``download`` and ``plots_template`` use the
    atomic writes alone and so never import it (~0.04 s of their start-up); every stage that
    saves or loads arrays has imported it already, for its own computations."""
    import numpy as np

    with atomic_file(dest) as tmp, tmp.open("wb") as fh:
        (np.savez_compressed if compress else np.savez)(fh, **arrays)


def load_arrays(path: Path, names: tuple[str, ...]) -> dict[str, np.ndarray]:
    """Load the named arrays from an ``.npz`` (never unpickling), naming what is missing.
    NumPy is imported here, as in ``save_arrays``."""
    import numpy as np

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file (did the previous stage run?)")
    with open_regular(path) as fh, np.load(fh, allow_pickle=False) as npz:
        missing = [name for name in names if name not in npz.files]
        if missing:
            raise ValueError(f"{path}: missing arrays {missing}; it holds {sorted(npz.files)}")
        return {name: npz[name] for name in names}
