"""A Dask cluster, a git origin and a record of every network address they use, all on 127.0.0.1,
for the cluster tests (tests/test_cluster.py) and the benchmark (benchmarks/cluster.py).

- `GitDaemon`: `git daemon` with receive-pack over a folder of bare repositories, reached as
  ``git://127.0.0.1:<port>/<name>``, as workers on other machines would reach an origin.
- `DaskScheduler` and `DaskWorker`: the real `dask scheduler` and `dask worker` commands,
  every address given as 127.0.0.1 (host, listen and contact address), no dashboard, no
  nanny; each worker with its own scratch folder, HOME, git identity and DVC site cache.
- `NetworkAudit`: a ``sitecustomize`` put on PYTHONPATH of those processes (and so of the dvc
  and stage processes they start) that appends to a file every socket connect, bind or send
  to an address other than 127.0.0.1: the test asserts the file stays empty.
- `publish_team`, `running_cluster`, `run_local_queue`: what the tests and the benchmark set up.

Every port is probed free at start; a process whose port was taken meanwhile is started again
on another. Each process runs in its own session, so that `kill` (SIGKILL to the whole group)
is a machine dying, and `stop` leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path

from repo_copy import tool_env

from mnist_pipeline.tools.s3server import S3Server, free_port

START_TIMEOUT = 60.0
STOP_TIMEOUT = 15.0
TOOL_TIMEOUT = 900.0
LOOPBACK = "127.0.0.1"

AUDIT_HOOK = '''\
"""Appends every socket connect or send to an address other than 127.0.0.1, and every bind to
one other than 127.0.0.1 or ::1, to the file named by MNIST_NETWORK_AUDIT
(tests/loopback_cluster.py)."""
import os
import sys

_LOG = os.environ.get("MNIST_NETWORK_AUDIT")
_EVENTS = {"socket.connect", "socket.bind", "socket.sendto", "socket.sendmsg"}


def _hook(event, args):
    if _LOG and event in _EVENTS:
        address = args[1]
        # A bind to IPv6's loopback reaches nothing (urllib3 binds one to learn whether the
        # machine has IPv6); any other address but 127.0.0.1, and "" (every interface), counts.
        allowed = ("127.0.0.1", "::1") if event == "socket.bind" else ("127.0.0.1",)
        if isinstance(address, tuple) and address and address[0] not in allowed:
            with open(_LOG, "a") as log:
                log.write(f"{os.getpid()} {event} {address!r} {' '.join(sys.argv)[:200]}\\n")


sys.addaudithook(_hook)
'''


def answers(port: int) -> bool:
    """Whether something accepts TCP connections on 127.0.0.1:``port``."""
    try:
        with socket.create_connection((LOOPBACK, port), timeout=1):
            return True
    except OSError:
        return False


class NetworkAudit:
    """The sitecustomize folder to put on PYTHONPATH and the log it writes."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / "sitecustomize.py").write_text(AUDIT_HOOK)
        self.log = self.folder / "addresses.log"
        self.log.touch()

    def env(self) -> dict[str, str]:
        """The variables that make a Python process (and its children) audit its sockets."""
        path = os.pathsep.join(filter(None, [str(self.folder), os.environ.get("PYTHONPATH")]))
        return {"PYTHONPATH": path, "MNIST_NETWORK_AUDIT": str(self.log)}

    def foreign_addresses(self) -> list[str]:
        """The lines logged: sockets aimed at an address other than 127.0.0.1."""
        return self.log.read_text().splitlines()


class _Process:
    """A command in its own session, its output in ``log``."""

    def __init__(self, log: Path) -> None:
        self.log = log
        self.process: subprocess.Popen | None = None

    def _spawn(self, args: list[str], env: dict[str, str], cwd: Path) -> None:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log, "ab") as out, open(os.devnull, "rb") as stdin:
            output = {"stdout": out, "stderr": subprocess.STDOUT, "start_new_session": True}
            self.process = subprocess.Popen(args, cwd=cwd, env=env, stdin=stdin, **output)

    def kill(self) -> None:
        """SIGKILL to the process and everything it started, as a machine dying."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=STOP_TIMEOUT)

    def stop(self) -> None:
        """SIGTERM to the group, SIGKILL if it does not exit in time."""
        if self.process is None or self.process.poll() is not None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.kill()
        except ProcessLookupError:
            pass
        with contextlib.suppress(ProcessLookupError):  # what the group's leader left running
            os.killpg(self.process.pid, signal.SIGKILL)

    def _wait_for_port(self, port: int) -> bool:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                return False
            if answers(port):
                return True
            time.sleep(0.1)
        raise RuntimeError(f"nothing answered on port {port} in {START_TIMEOUT:.0f} s: {self.log}")

    def _start_on_free_port(
        self, command: Callable[[], list[str]], env: dict[str, str], cwd: Path
    ) -> None:
        """Spawn ``command()`` (built after ``self.port`` is set to a free port) until it
        answers there; a port taken meanwhile makes it exit, and the next try picks another."""
        for _ in range(5):
            self.port = free_port()
            self._spawn(command(), env, cwd)
            if self._wait_for_port(self.port):
                return
        raise RuntimeError(f"{command()[0]} did not start; see {self.log}")

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


class GitDaemon(_Process):
    """`git daemon` serving the bare repositories under ``base`` (push enabled)."""

    def __init__(self, base: Path) -> None:
        super().__init__(base.with_name(f"{base.name}.git-daemon.log"))
        self.base = base
        self.port = 0

    def url(self, name: str) -> str:
        """The git:// URL of repository ``name`` under ``base``."""
        return f"git://{LOOPBACK}:{self.port}/{name}"

    def start(self) -> GitDaemon:
        """Start it on a free port; return once it accepts connections."""
        self._start_on_free_port(
            lambda: [
                *("git", "daemon", "--reuseaddr", "--export-all", "--enable=receive-pack"),
                *("--informative-errors", f"--base-path={self.base}", f"--listen={LOOPBACK}"),
                *(f"--port={self.port}", str(self.base)),
            ],
            dict(os.environ),
            self.base,
        )
        return self

    def __enter__(self) -> GitDaemon:
        return self.start()


def dask_command(name: str) -> str:
    """The `dask` executable beside this interpreter (the project's venv)."""
    beside = Path(sys.executable).parent / "dask"
    return str(beside) if beside.is_file() else "dask"


SCHEDULER_CONFIG = {
    # A worker of one thread holds one task at a time (the default 1.1 sends it two), so that
    # "running" is what runs and a dying worker takes only its own task with it.
    "DASK_DISTRIBUTED__SCHEDULER__WORKER_SATURATION": "1.0",
    # A dashboard would need bokeh and a port; none.
    "DASK_DISTRIBUTED__DASHBOARD__LINK": "",
}


class DaskScheduler(_Process):
    """`dask scheduler` on 127.0.0.1, no dashboard; ``idle_timeout`` seconds without clients
    or tasks end it, so a forgotten one does not live for ever."""

    def __init__(self, folder: Path, env: dict[str, str], idle_timeout: float = 900) -> None:
        super().__init__(folder / "scheduler.log")
        self.folder = folder
        self.env = env
        self.idle_timeout = idle_timeout
        self.port = 0

    @property
    def address(self) -> str:
        """The address workers and clients use."""
        return f"tcp://{LOOPBACK}:{self.port}"

    def start(self) -> DaskScheduler:
        """Start it on a free port; return once it accepts connections."""
        self._start_on_free_port(
            lambda: [
                *(dask_command("scheduler"), "scheduler", "--no-dashboard", "--no-jupyter"),
                *("--host", LOOPBACK, "--port", str(self.port)),
                *("--idle-timeout", f"{self.idle_timeout:.0f}s"),
                # Without a dashboard the scheduler still serves its HTTP routes (health,
                # metrics), by default on 0.0.0.0:8787.
                *("--dashboard-address", f"{LOOPBACK}:0"),
            ],
            {**self.env, **SCHEDULER_CONFIG},
            self.folder,
        )
        return self

    def __enter__(self) -> DaskScheduler:
        return self.start()


class DaskWorker(_Process):
    """`dask worker` of one thread, no nanny, no dashboard, on 127.0.0.1, as a machine of its
    own: ``folder`` holds its HOME (with its git identity), its scratch folder
    (MNIST_CLUSTER_SCRATCH) and Dask's local directory; ``env`` adds the rest (credentials)."""

    def __init__(self, name: str, folder: Path, scheduler: str, env: dict[str, str]) -> None:
        super().__init__(folder / "worker.log")
        self.name = name
        self.folder = folder
        self.scheduler = scheduler
        self.env = env
        self.port = 0

    @property
    def scratch(self) -> Path:
        """Its scratch folder: the DVC cache, task clones and logs of cluster_task."""
        return self.folder / "scratch"

    @property
    def address(self) -> str:
        """The address it is known by."""
        return f"tcp://{LOOPBACK}:{self.port}"

    def start(self) -> DaskWorker:
        """Start it; return once it listens (it then registers with the scheduler)."""
        home = self.folder / "home"
        home.mkdir(parents=True, exist_ok=True)
        (home / ".gitconfig").write_text(
            f"[user]\n\tname = worker {self.name}\n\temail = {self.name}@example.invalid\n"
        )
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("AWS_", "GIT_AUTHOR", "GIT_COMMITTER"))
        }
        env.update(
            HOME=str(home),
            MNIST_CLUSTER_SCRATCH=str(self.scratch),
            DVC_SITE_CACHE_DIR=str(self.folder / "dvc-site"),
            DVC_NO_ANALYTICS="1",
            PATH=os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]]),
        )
        env.update(self.env)
        self._start_on_free_port(
            lambda: [
                *(dask_command("worker"), "worker", self.scheduler, "--name", self.name),
                *("--nthreads", "1", "--no-nanny", "--no-dashboard"),
                *("--dashboard-address", f"{LOOPBACK}:0", "--death-timeout", "60"),
                *("--listen-address", self.address, "--contact-address", self.address),
                *("--local-directory", str(self.folder / "dask")),
            ],
            env,
            self.folder,
        )
        return self

    def __enter__(self) -> DaskWorker:
        return self.start()


def wait_for_workers(scheduler: str, count: int, timeout: float = START_TIMEOUT) -> None:
    """Return once ``count`` workers are registered with the scheduler."""
    from distributed import Client

    with Client(scheduler, timeout=timeout, set_as_default=False) as client:
        client.wait_for_workers(count, timeout=timeout)


@contextlib.contextmanager
def running_cluster(
    folder: Path, names: Iterable[str], env: dict[str, str], worker_env: dict[str, str]
) -> Iterator[tuple[DaskScheduler, dict[str, DaskWorker]]]:
    """A scheduler in folder/scheduler and a registered worker per name in folder/<name>."""
    scheduler, workers = DaskScheduler(folder / "scheduler", env).start(), {}
    try:
        for name in names:
            workers[name] = DaskWorker(name, folder / name, scheduler.address, worker_env).start()
        wait_for_workers(scheduler.address, len(workers))
        yield scheduler, workers
    finally:
        for worker in workers.values():
            worker.stop()
        scheduler.stop()


def tool(cwd: Path, *args: str, env: Mapping[str, str] = {}, timeout: float = TOOL_TIMEOUT) -> str:
    """``args`` run in ``cwd``, ``env`` over `tool_env()`: its stdout; RuntimeError if it fails."""
    done = subprocess.run(
        args, cwd=cwd, env={**tool_env(), **env}, capture_output=True, text=True, timeout=timeout
    )
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} exited {done.returncode}\n{done.stdout}{done.stderr}")
    return done.stdout


def publish_team(
    a: Path, base: Path, server: S3Server, daemon: GitDaemon, timeout: float = TOOL_TIMEOUT
) -> dict:
    """Machine A (``a``, a git copy of the project) reproduced with the S3 remote, committed,
    pushed (`dvc push --run-cache`, the credentials in that command only) and on a bare origin
    under ``daemon``; the laptop: its clone in base/laptop. Paths, origin, baseline, seconds."""
    tool(a, "dvc", "remote", "add", "-d", "team", server.url())
    tool(a, "dvc", "remote", "modify", "team", "endpointurl", server.endpoint)
    tool(a, "git", "commit", "-q", "-m", "the team's S3 remote", ".dvc/config")
    started = time.monotonic()
    tool(a, "dvc", "repro", timeout=timeout)
    repro, started = time.monotonic() - started, time.monotonic()
    tool(a, "git", "add", "-A")  # dvc's autostage added dvc.lock, not the `cache: false` files
    tool(a, "git", "commit", "-q", "-m", "the baseline's results")
    tool(a, "dvc", "push", "--run-cache", env=server.credentials_env(), timeout=timeout)
    push = time.monotonic() - started
    tool(daemon.base, "git", "init", "-q", "--bare", "-b", "main", "origin.git")
    tool(a, "git", "remote", "add", "origin", origin := daemon.url("origin.git"))
    tool(a, "git", "push", "-q", "origin", "main")
    tool(base, "git", "clone", "-q", origin, str(base / "laptop"))
    baseline = tool(a, "git", "rev-parse", "HEAD").strip()
    team = {"a": a, "laptop": base / "laptop", "origin": origin, "baseline": baseline}
    return {**team, "repro_seconds": round(repro, 1), "push_seconds": round(push, 1)}


def run_local_queue(a: Path, setting: str, timeout: float = TOOL_TIMEOUT) -> dict:
    """`dvc exp run --queue -S setting`, `dvc queue start -j 2` in ``a`` until all ended (else
    TimeoutError), `dvc queue stop`: the names queued, seconds from the start, last status."""

    def wait_while(busy: str) -> str:
        while re.search(busy, status := tool(a, "dvc", "queue", "status")):
            if time.monotonic() - started > timeout:
                raise TimeoutError(f"dvc queue, after {timeout:.0f} s:\n{status}")
            time.sleep(1)
        return status

    queued = tool(a, "dvc", "exp", "run", "--queue", "-S", setting)
    started, quiet = time.monotonic(), {"stdout": subprocess.DEVNULL, "stderr": subprocess.STDOUT}
    # Not a pipe: the workers' launcher holds it while they live (for ever if one's monitor dies).
    subprocess.run(["dvc", "queue", "start", "-j", "2"], cwd=a, env=tool_env(), check=True, **quiet)
    try:
        status = wait_while(r"\b(Queued|Running)\b")
        seconds = time.monotonic() - started
    finally:
        with contextlib.suppress(RuntimeError):
            tool(a, "dvc", "queue", "stop")
        wait_while(r"Worker status: (?!0 active, 0 idle)")
    names = re.findall(r"^Queued experiment '([^']+)'", queued, re.MULTILINE)
    return {"names": names, "seconds": round(seconds, 1), "status": status}


def processes_under(folder: Path) -> list[str]:
    """Processes whose working directory or command line is under ``folder``: leftovers."""
    found, mine = [], str(folder)
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            cwd = os.readlink(entry / "cwd")
            args = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if int(entry.name) != os.getpid() and (cwd.startswith(mine) or mine in args):
            found.append(f"{entry.name}: {args[:200]} (cwd {cwd})")
    return found


def summary_of(path: Path) -> dict:
    """The JSON summary src/cluster.py wrote with --summary."""
    return json.loads(path.read_text())
