"""Atomic outputs (plumbing/files.py): a reader sees the old output or the whole new one."""

import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from conftest import REPO

from mnist_pipeline.plumbing.files import (
    TEMP_PATTERN,
    OutputError,
    atomic_dir,
    atomic_file,
    write_text,
)


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Callable[..., Path]]:
    """``mount(size, read_only=False)``: a tmpfs at tmp_path/disk, or a skip where none may be."""
    disk = tmp_path / "disk"
    disk.mkdir()

    def mount(size: str, read_only: bool = False) -> Path:
        options = f"size={size}" + (",ro" if read_only else "")
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", options, "tmpfs", disk], capture_output=True
        )
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
        return disk

    yield mount
    subprocess.run(["umount", "-l", disk], capture_output=True)


def test_the_temporary_names_are_ignored_by_git_and_by_dvc(tmp_path: Path):
    for ignore_file in (".gitignore", ".dvcignore"):
        assert TEMP_PATTERN in (REPO / ignore_file).read_text().splitlines(), ignore_file
    with atomic_file(tmp_path / "metrics.json") as tmp:
        assert tmp.parent == tmp_path and tmp.match(TEMP_PATTERN)
        tmp.write_text("{}\n")
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.json"]


def test_a_failed_block_leaves_the_old_folder_and_its_error_a_good_one_replaces_it(tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out/old.txt").write_text("old\n")
    denied = PermissionError(13, "Permission denied", str(tmp_path / "input.csv"))
    with pytest.raises(PermissionError) as raised, atomic_dir(tmp_path / "out") as tmp:
        (tmp / "new.txt").write_text("new\n")
        raise denied
    assert raised.value is denied
    assert [str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*")] == ["out", "out/old.txt"]
    with atomic_dir(tmp_path / "out") as tmp:
        (tmp / "new.txt").write_text("new\n")
    assert [str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*")] == ["out", "out/new.txt"]


FULL = "No space left on device (errno 28 ENOSPC): it does not fit in the 0.3 MB free there"


@pytest.mark.parametrize(
    ("size", "read_only", "why"),
    [("300k", False, FULL), ("1m", True, "Read-only file system (errno 30 EROFS)")],
    ids=["full-disk", "read-only"],
)
def test_a_full_disk_or_read_only_folder_is_one_line_naming_the_output(tmpfs, size, read_only, why):
    disk = tmpfs(size, read_only)
    with pytest.raises(OutputError) as err:
        write_text(disk / "big.txt", "x" * 1_000_000)
    assert str(err.value) == f"{disk / 'big.txt'}: cannot write: {why}"
    assert list(disk.iterdir()) == []
