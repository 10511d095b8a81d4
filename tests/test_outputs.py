"""What a stage does when it cannot or must not write its output: a full disk, the file-size
limit, a read-only folder, an output whose real path leaves the repository. Each gets one line
naming the output, exit 1, and nothing changed anywhere.

The disk tests mount a small tmpfs where the test may (root, as here and in CI); where mounting
is refused, the full-disk test uses the file-size limit (RLIMIT_FSIZE) instead and the
read-only test is skipped (root writes into any folder that is not on a read-only mount).
Every stage runs in a fresh Python bounded by STAGE_TIMEOUT: a hang fails the test.
"""

from __future__ import annotations

import resource
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml
from conftest import run_script, tree_state, write_fixture_dataset

from mnist_pipeline.params import CATALOGUE
from mnist_pipeline.plumbing.files import save_arrays

STAGE_TIMEOUT = 60
BODY = bytes(range(256)) * 1600
"""400 KiB per dataset file: four of them fill a 1 MB filesystem."""
FILE_SIZE_LIMIT = 100_000


@pytest.fixture
def mount_tmpfs() -> Iterator[Callable[..., bool]]:
    """``mount(path, size, read_only=False)`` mounts a tmpfs of ``size`` at ``path`` and says
    whether it could (unmounted when the test ends)."""
    mounted: list[Path] = []

    def mount(path: Path, size: str, *, read_only: bool = False) -> bool:
        path.mkdir(parents=True, exist_ok=True)
        options = f"size={size}" + (",ro" if read_only else "")
        try:
            done = subprocess.run(
                ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)],
                capture_output=True,
                timeout=30,
                check=False,
            )
        except FileNotFoundError:
            return False
        if done.returncode == 0:
            mounted.append(path)
        return done.returncode == 0

    yield mount
    for path in reversed(mounted):
        subprocess.run(["umount", "-l", str(path)], capture_output=True, timeout=30, check=False)


def limit_file_size() -> None:
    """In the stage's process: files may grow to FILE_SIZE_LIMIT bytes (``ulimit -f``)."""
    resource.setrlimit(resource.RLIMIT_FSIZE, (FILE_SIZE_LIMIT, resource.RLIM_INFINITY))


FILE_TOO_LARGE = (
    "cannot write: File too large (errno 27 EFBIG): a file of it exceeds the file-size limit "
    "of 0.1 MB (ulimit -f)"
)


def full_folder(
    mount_tmpfs: Callable[..., bool], folder: Path, size: str, free: str
) -> tuple[dict[str, object], str]:
    """A tmpfs of ``size`` (``free`` in the stage's words) mounted at ``folder``: the limits to
    run the stage with (none) and the end of its error line. Where no tmpfs can be mounted, the
    file-size limit stands in for the full disk."""
    if mount_tmpfs(folder, size):
        return {}, (
            "cannot write: No space left on device (errno 28 ENOSPC): it does not fit in the "
            f"{free} free there"
        )
    return {"preexec_fn": limit_file_size}, FILE_TOO_LARGE


def download(repo: Path, **limits: object) -> subprocess.CompletedProcess:
    return run_script(
        "download",
        "--params",
        "params.yaml",
        "--out",
        "stages/download",
        cwd=repo,
        timeout=STAGE_TIMEOUT,
        **limits,
    )


def test_a_full_disk_names_the_output_and_its_free_space_and_leaves_nothing(
    tmp_path: Path, mount_tmpfs
):
    repo = tmp_path / "repo"
    write_fixture_dataset(repo, BODY)
    limits, expected = full_folder(mount_tmpfs, repo / "stages", "300k", "0.3 MB")
    before = tree_state(repo)

    result = download(repo, **limits)

    assert result.returncode == 1
    assert result.stderr == f"download: error: stages/download: {expected}\n"
    assert tree_state(repo) == before


def test_the_file_size_limit_names_the_output_and_the_limit_and_leaves_nothing(tmp_path: Path):
    repo = tmp_path / "repo"
    write_fixture_dataset(repo, BODY)
    (repo / "stages").mkdir()
    before = tree_state(repo)

    result = download(repo, preexec_fn=limit_file_size)

    assert result.returncode == 1
    assert result.stderr == f"download: error: stages/download: {FILE_TOO_LARGE}\n"
    assert tree_state(repo) == before


def test_a_read_only_folder_names_the_output_and_the_errno(tmp_path: Path, mount_tmpfs):
    repo = tmp_path / "repo"
    write_fixture_dataset(repo, BODY)
    if not mount_tmpfs(repo / "stages", "1m", read_only=True):
        pytest.skip("cannot mount a read-only tmpfs here, and root writes into any other folder")
    before = tree_state(repo)

    result = download(repo)

    assert result.returncode == 1
    assert result.stderr == (
        "download: error: stages/download: cannot write: Read-only file system (errno 30 EROFS)\n"
    )
    assert tree_state(repo) == before


def test_a_full_disk_under_numpy_arrays_names_the_output_folder(
    tmp_path: Path, mount_tmpfs, mnist_slice
):
    """normalize writes .npz files through NumPy into its temporary folder: the error names the
    stage's output, not a file inside its temporary name."""
    repo = tmp_path / "repo"
    write_fixture_dataset(repo, BODY)
    for split in ("train", "test"):
        images, labels = mnist_slice[f"{split}_images"], mnist_slice[f"{split}_labels"]
        save_arrays(repo / "decoded" / f"{split}.npz", {"images": images, "labels": labels})
    limits, expected = full_folder(mount_tmpfs, repo / "stages", "1m", "1.0 MB")
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["split"]["validation"] = 200
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    before = tree_state(repo)

    result = run_script(
        "normalize",
        "--params",
        "params.yaml",
        "--in",
        "decoded",
        "--out",
        "stages/normalize",
        "--labels",
        "metrics/label_distribution.csv",
        cwd=repo,
        timeout=STAGE_TIMEOUT,
        **limits,
    )

    assert result.returncode == 1
    assert result.stderr == f"normalize: error: stages/normalize: {expected}\n"
    assert tree_state(repo) == before


def refusal(script: str, output: str, real: Path, repo: Path) -> str:
    """What ``script`` prints for an ``output`` whose real path ``real`` is outside ``repo``."""
    return (
        f"{script}: error: {output}: resolves to {real.resolve()}, outside the repository "
        f"{repo.resolve()}; nothing written\n"
    )


@pytest.mark.parametrize(
    ("script", "args", "output", "users_file"),
    [
        (
            "download",
            ("--params", "params.yaml", "--out", "stages/download"),
            "download",
            "download/notes.txt",
        ),
        (
            "plots_template",
            ("--out", "stages/plots/index.html"),
            "plots/index.html",
            "plots/index.html",
        ),
    ],
    ids=["folder", "file"],
)
def test_an_output_whose_real_path_leaves_the_repository_is_refused_and_its_files_kept(
    tmp_path: Path, script: str, args: tuple[str, ...], output: str, users_file: str
):
    """`stages` is a symlink to a folder outside the repository, which holds a user's file
    where the stage would write: the stage refuses before it writes or deletes anything."""
    repo, outside = tmp_path / "repo", tmp_path / "outside"
    write_fixture_dataset(repo, BODY)
    (outside / users_file).parent.mkdir(parents=True)
    (outside / users_file).write_text("a user's file, not the pipeline's\n")
    (repo / "stages").symlink_to(outside, target_is_directory=True)
    before = tree_state(repo, outside)

    result = run_script(script, *args, cwd=repo, timeout=STAGE_TIMEOUT)

    assert result.returncode == 1
    assert result.stderr == refusal(script, f"stages/{output}", outside / output, repo)
    assert tree_state(repo, outside) == before


def test_an_absolute_output_path_outside_the_repository_is_refused(tmp_path: Path):
    repo, elsewhere = tmp_path / "repo", tmp_path / "elsewhere"
    write_fixture_dataset(repo, BODY)
    elsewhere.mkdir()
    (elsewhere / "photo.jpg").write_bytes(b"\xff\xd8 not the pipeline's")
    before = tree_state(repo, elsewhere)

    result = run_script(
        "download", "--params", "params.yaml", "--out", elsewhere, cwd=repo, timeout=STAGE_TIMEOUT
    )

    assert result.returncode == 1
    assert result.stderr == refusal("download", str(elsewhere), elsewhere, repo)
    assert tree_state(repo, elsewhere) == before


def test_a_stage_writes_into_its_repository_from_any_current_folder(tmp_path: Path):
    """The repository is the params file's (a folder holding .dvc or .git, from there up), so
    a stage run from elsewhere, with paths into the repository, is not refused."""
    repo = tmp_path / "repo"
    write_fixture_dataset(repo, BODY, mirrors=(str(tmp_path / "repo" / "mirror"),))
    (repo / ".dvc").mkdir()
    (repo / "configs").mkdir()
    for name in ("params.yaml", CATALOGUE):
        (repo / name).rename(repo / "configs" / name)

    result = run_script(
        "download",
        "--params",
        repo / "configs" / "params.yaml",
        "--out",
        repo / "stages" / "download",
        cwd=tmp_path,
        timeout=STAGE_TIMEOUT,
    )

    assert result.returncode == 0, result.stderr
    written = {p.name: p.read_bytes() for p in (repo / "stages" / "download").iterdir()}
    assert written == {p.name: BODY for p in (repo / "mirror").iterdir()}
