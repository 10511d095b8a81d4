"""Writing outputs so that a crash never leaves a half-written file behind, and opening inputs
so that a FIFO or device in place of a file is refused instead of read forever.

Every output is written under a temporary name in the same directory and renamed into
place only when complete: a reader (the next stage, DVC, a user) sees the old file, no
file, or the whole new one. Every temporary name matches ``TEMP_PATTERN`` (``.*.tmp``),
which both ``.gitignore`` and ``.dvcignore`` list: what a ``kill -9`` leaves behind is
neither shown by ``git status`` nor part of any folder DVC hashes as a dependency.
"""

from __future__ import annotations

import contextlib
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
"""The gitignore-style pattern every temporary name matches (listed in .gitignore and
.dvcignore)."""
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


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_file(dest: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``dest``; rename it onto ``dest`` if the block succeeds."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        tmp.chmod(0o666 & ~_umask())  # mkstemp's 0600 is for the temporary name only
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_dir(dest: Path) -> Iterator[Path]:
    """Yield an empty temporary directory; it replaces ``dest`` whole if the block succeeds."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent))
    try:
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
