"""Atomic writes: what a kill leaves behind is invisible to git and to DVC, and the next run of
the same stage removes it.

The slow test kills (SIGKILL) the real download stage while its temporary file exists in a
git-tracked, DVC-dependency folder, then drives the real `dvc` and `git`.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from conftest import (
    REPO,
    read_params_files,
    run_script,
    run_tool,
    tool_env,
    tree_state,
    wait_for_temp_file,
    write_params_files,
)

from mnist_pipeline.plumbing.files import TEMP_PATTERN, atomic_file

BODY = b"fixture bytes\n" * 200
DRIP_SECONDS = 0.05


def test_temp_pattern_is_ignored_by_git_and_by_dvc():
    for ignore_file in (".gitignore", ".dvcignore"):
        assert TEMP_PATTERN in (REPO / ignore_file).read_text().splitlines(), ignore_file


def test_atomic_file_temp_name_matches_the_ignored_pattern(tmp_path: Path):
    with atomic_file(tmp_path / "metrics.json") as tmp:
        assert tmp.parent == tmp_path
        assert tmp.name.startswith(".metrics.json.") and tmp.name.endswith(".tmp")
        tmp.write_text("{}\n")
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.json"]


class _Drip(BaseHTTPRequestHandler):
    """Serves BODY one byte every DRIP_SECONDS, until the server stops."""

    server: _DripServer

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", str(len(BODY)))
        self.end_headers()
        for byte in BODY:
            if self.server.stopping.wait(DRIP_SECONDS):
                return
            self.wfile.write(bytes([byte]))
            self.wfile.flush()

    def log_message(self, format: str, *args: object) -> None:
        pass


class _DripServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Drip)
        self.stopping = threading.Event()

    def handle_error(self, request: object, client_address: object) -> None:
        """The killed client leaves a broken pipe: expected."""


@pytest.fixture
def drip_url() -> Iterator[str]:
    server = _DripServer()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.stopping.set()
        server.shutdown()
        server.server_close()
        thread.join()


def write_params(path: Path, mirror: str) -> None:
    """The repository's params, each dataset file being BODY, served by ``mirror``."""
    params = read_params_files(REPO)
    params["datasets"]["mnist"]["mirrors"] = [mirror]
    for entry in params["datasets"]["mnist"]["files"].values():
        entry.update(sha256=hashlib.sha256(BODY).hexdigest(), size=len(BODY))
    params["download"] = {"timeout": 5, "retries": 0, "min_rate": 100}
    write_params_files(path.parent, params, path.name)


DVC_YAML = f"""\
stages:
  download:
    cmd: python {REPO / "src" / "download.py"} --params params.yaml --out metrics/download
    params: [dataset, download]
    outs:
      - metrics/download:
          cache: false
  listing:
    cmd: find metrics | sort > listing.txt
    deps: [metrics]
    outs: [listing.txt]
"""


def small_project(repo: Path) -> Path:
    """A git + DVC project with the repository's ignore files, whose `download` stage writes
    into git-tracked metrics/ and whose `listing` stage depends on all of metrics/;
    reproduced and committed."""
    repo.mkdir()
    for name in (".gitignore", ".dvcignore"):
        shutil.copy(REPO / name, repo / name)
    mirror = repo / "mirror"
    mirror.mkdir()
    for entry in read_params_files(REPO)["datasets"]["mnist"]["files"].values():
        (mirror / entry["name"]).write_bytes(BODY)
    write_params(repo / "params.yaml", "mirror")
    (repo / "dvc.yaml").write_text(DVC_YAML)
    run_tool("git", "init", "-q", "-b", "main", cwd=repo)
    run_tool("dvc", "init", "-q", cwd=repo)
    run_tool("dvc", "repro", cwd=repo)
    run_tool("git", "add", "-A", cwd=repo)
    run_tool("git", "commit", "-q", "-m", "reproduced", cwd=repo)
    return repo


def start_download(repo: Path, params: str, out: str = "stages/download") -> subprocess.Popen:
    """The real download stage, started in ``repo``, its output silenced."""
    return subprocess.Popen(
        [sys.executable, str(REPO / "src" / "download.py"), "--params", params, "--out", out],
        cwd=repo,
        env=tool_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


@pytest.mark.slow
def test_kill_9_during_an_atomic_write_leaves_nothing_git_or_dvc_sees(
    tmp_path: Path, drip_url: str, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("DVC_SITE_CACHE_DIR", str(tmp_path / "dvc-site-cache"))
    repo = small_project(tmp_path / "repo")
    write_params(tmp_path / "drip.yaml", drip_url)
    stage = start_download(repo, str(tmp_path / "drip.yaml"), "metrics/download")
    try:
        left = wait_for_temp_file(repo / "metrics")
        os.kill(stage.pid, signal.SIGKILL)
        assert stage.wait(timeout=10) == -signal.SIGKILL
    finally:
        stage.kill()
    assert left.exists()

    repro = run_tool("dvc", "repro", cwd=repo)
    status = run_tool("dvc", "status", cwd=repo)
    git_status = run_tool("git", "status", "--porcelain", "--untracked-files=all", cwd=repo)

    assert "Data and pipelines are up to date." in repro.stdout
    assert status.stdout.strip() == "Data and pipelines are up to date."
    assert git_status.stdout == ""


def test_an_error_reading_an_input_inside_an_atomic_write_keeps_its_own_kind(tmp_path: Path):
    """Only a failure to write the output becomes an OutputError naming it."""
    denied = PermissionError(errno.EACCES, "Permission denied", str(tmp_path / "input.csv"))
    with pytest.raises(PermissionError) as raised, atomic_file(tmp_path / "out.csv"):
        raise denied
    assert raised.value is denied
    assert list(tmp_path.iterdir()) == []


def test_a_stage_removes_what_its_own_killed_runs_left_and_nothing_else(
    tmp_path: Path, drip_url: str
):
    repo = tmp_path / "repo"
    (repo / "mirror").mkdir(parents=True)
    for entry in read_params_files(REPO)["datasets"]["mnist"]["files"].values():
        (repo / "mirror" / entry["name"]).write_bytes(BODY)
    write_params(repo / "params.yaml", "mirror")
    run_tool("git", "init", "-q", cwd=repo)  # the repository the stage's outputs must lie in
    (repo / "drip").mkdir()  # its own folder: a params file's catalogue lies beside it
    write_params(repo / "drip" / "params.yaml", drip_url)
    stage = start_download(repo, "drip/params.yaml")
    try:
        killed = wait_for_temp_file(repo / "stages").parent  # the stage's temporary folder
        os.kill(stage.pid, signal.SIGKILL)
        assert stage.wait(timeout=10) == -signal.SIGKILL
    finally:
        stage.kill()
    stages = repo / "stages"
    live = stages / ".download.live0000.tmp"  # a concurrent run's, its lock held: kept
    live.mkdir()
    (stages / ".decode.abcd1234.tmp").mkdir()  # another output's leftover: kept
    (stages / ".download.notes.tmp").write_text("a user's file\n")  # not a temporary name
    held = os.open(live, os.O_RDONLY)
    try:
        fcntl.flock(held, fcntl.LOCK_EX)
        kept = {k: v for k, v in tree_state(repo).items() if not k.startswith(str(killed))}

        result = run_script(
            "download", "--params", "params.yaml", "--out", "stages/download", cwd=repo, timeout=60
        )
    finally:
        os.close(held)

    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines()[0] == (
        f"download: removed stages/{killed.name}, left by an earlier run that was killed"
    )
    assert sorted(p.name for p in stages.iterdir()) == [
        ".decode.abcd1234.tmp",
        ".download.live0000.tmp",
        ".download.notes.tmp",
        "download",
    ]
    download = str(stages / "download")
    assert {k: v for k, v in tree_state(repo).items() if not k.startswith(download)} == kept


@pytest.mark.parametrize("script", ["download", "plots_template"])
def test_the_stages_that_save_no_arrays_do_not_import_numpy(script: str):
    """download and plots_template use files.py for atomic writes only: no NumPy start-up
    (their imports all happen before --help is handled)."""
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    result = subprocess.run(
        [sys.executable, "-X", "importtime", str(REPO / "src" / f"{script}.py"), "--help"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    imported = [line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines()]
    assert result.returncode == 0 and "mnist_pipeline.plumbing.files" in imported, result.stderr
    assert "numpy" not in imported
