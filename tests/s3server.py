"""Servers on 127.0.0.1 for the team and cluster tests: `rclone serve s3`, and start and stop."""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

LIFETIME = 900  # seconds: no server outlives a test run, even one whose test died
START_TIMEOUT = 30.0


def free_port() -> int:
    """A TCP port of 127.0.0.1 that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start(args: list[str], port: int, log: Path, **popen: object) -> subprocess.Popen:
    """``args`` under `timeout LIFETIME` in a session of its own; returned once ``port`` answers."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        process = subprocess.Popen(
            ["timeout", str(LIFETIME), *args],
            **{"stdin": subprocess.DEVNULL, "stdout": out, "stderr": out, **popen},
            start_new_session=True,
        )
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline and process.poll() is None:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return process
        except OSError:
            time.sleep(0.1)
    stop(process)
    raise RuntimeError(f"{args[0]} did not answer on port {port}: {log.read_text()[-2000:]}")


def stop(process: subprocess.Popen, sig: int = signal.SIGTERM) -> None:
    """Send ``sig`` to the process's whole group (SIGKILL: a machine dying); wait for it."""
    try:
        os.killpg(process.pid, sig)
        process.wait(timeout=10)
    except ProcessLookupError:
        pass
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


class S3Server:
    """`rclone serve s3` of ``root`` on 127.0.0.1, answering only its fresh credentials."""

    def __init__(self, root: Path, bucket: str = "dvc") -> None:
        self.root, self.bucket, self.port = Path(root), bucket, free_port()
        self.access_key, self.secret = f"team-{secrets.token_hex(6)}", secrets.token_hex(24)
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.bucket_dir = self.root / bucket

    def url(self, prefix: str = "store") -> str:
        """The s3:// URL `dvc remote add` takes."""
        return f"s3://{self.bucket}/{prefix}"

    def credentials_env(self) -> dict[str, str]:
        """The variables through which DVC's S3 client finds the credentials."""
        return {
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret,
            "AWS_DEFAULT_REGION": "us-east-1",
        }

    def __enter__(self) -> S3Server:
        self.bucket_dir.mkdir(parents=True, exist_ok=True)
        rclone = Path(sys.executable).with_name("rclone")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "RCLONE_"))}
        # Quoted: rclone reads a list flag from its environment as CSV.
        env.update(RCLONE_AUTH_KEY=f'"{self.access_key},{self.secret}"', RCLONE_CONFIG=os.devnull)
        args = [str(rclone) if rclone.is_file() else shutil.which("rclone") or "rclone"]
        args += ["serve", "s3", str(self.root), "--addr", f"127.0.0.1:{self.port}"]
        log = self.root.with_name(f"{self.root.name}.rclone.log")
        self.process = start(args, self.port, log, env=env)
        return self

    def __exit__(self, *exc_info: object) -> None:
        stop(self.process)
