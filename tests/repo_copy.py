"""Temporary copies of the project as a user's fresh clone, and the environment to drive them
with dvc and git: shared by the tests (tests/conftest.py) and the benchmark (benchmarks/)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path


def tool_env(
    extra_path: Iterable[Path] = (),
    identity: str = "tests",
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """This process's environment for dvc, git and the stage scripts: ``extra_path`` then this
    interpreter's bin first on PATH (so that `python` in dvc.yaml's commands is one with the
    project installed), a git identity named ``identity`` unless one is set, dvc's analytics
    off, and ``extra`` on top."""
    env = dict(os.environ)
    path = [*map(str, extra_path), str(Path(sys.executable).parent), env.get("PATH", "")]
    env["PATH"] = os.pathsep.join(path)
    for role in ("AUTHOR", "COMMITTER"):
        env.setdefault(f"GIT_{role}_NAME", identity)
        env.setdefault(f"GIT_{role}_EMAIL", f"{identity}@example.invalid")
    env["DVC_NO_ANALYTICS"] = "1"
    env.update(extra or {})
    return env


def project_files(repo: Path) -> list[str]:
    """The working tree's project files, relative to ``repo``: tracked or not, but not
    git-ignored (so no stages/, DVC cache or virtual environment)."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=repo,
        capture_output=True,
        check=True,
    )
    return [name for name in listed.stdout.decode().split("\0") if (repo / name).is_file()]


def copy_repo(
    source: Path,
    dest: Path,
    *,
    leave_out: tuple[str, ...] = (),
    message: str = "copy of the working tree",
    identity: str = "tests",
) -> Path:
    """Copy ``source``'s project files, less those under the folders ``leave_out`` (e.g.
    ``("metrics", "plots")``), into ``dest`` and make it a git repository on branch main with
    one commit; return ``dest``. Raises ``subprocess.CalledProcessError`` if git fails."""
    prefixes = tuple(f"{folder.rstrip('/')}/" for folder in leave_out)
    dest.mkdir(parents=True, exist_ok=True)
    for name in project_files(source):
        if prefixes and name.startswith(prefixes):
            continue
        (dest / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source / name, dest / name)
    env = tool_env(identity=identity)
    for args in (
        ["git", "init", "-q", "-b", "main"],
        ["git", "add", "-A"],
        ["git", "commit", "-q", "-m", message],
    ):
        subprocess.run(args, cwd=dest, env=env, capture_output=True, check=True)
    return dest
