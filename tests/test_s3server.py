"""The local S3 server of the team workflow (`mnist_pipeline.tools.s3server`): it answers S3
over HTTP on 127.0.0.1, only to signed requests, keeps its secret off its command line, and
leaves no process behind."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from mnist_pipeline.tools.s3server import (
    Credentials,
    S3Server,
    rclone_binary,
    read_credentials_file,
    write_credentials_file,
)

botocore_session = pytest.importorskip("botocore.session", reason="no s3 extra")
botocore_exceptions = pytest.importorskip("botocore.exceptions", reason="no s3 extra")
try:
    rclone_binary()
except RuntimeError:
    pytest.skip("rclone (the s3 extra) is not installed", allow_module_level=True)


def s3_client(server: S3Server, secret: str | None = None) -> Any:
    """A botocore S3 client of the server, signing with its key and ``secret`` (or its own)."""
    return botocore_session.get_session().create_client(
        "s3",
        endpoint_url=server.endpoint,
        region_name="us-east-1",
        aws_access_key_id=server.credentials.access_key_id,
        aws_secret_access_key=secret or server.credentials.secret_access_key,
    )


def test_server_serves_a_signed_request_and_refuses_a_wrong_secret(tmp_path: Path):
    with S3Server(tmp_path / "data") as server:
        assert server.endpoint.startswith("http://127.0.0.1:")
        s3_client(server).put_object(Bucket=server.bucket, Key="a/b", Body=b"object")
        assert (server.bucket_dir / "a" / "b").read_bytes() == b"object"
        with pytest.raises(botocore_exceptions.ClientError) as refused:
            s3_client(server, secret="wrong").get_object(Bucket=server.bucket, Key="a/b")
        assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_stopped_server_leaves_no_process(tmp_path: Path):
    server = S3Server(tmp_path / "data").start()
    pid = server.pid
    server.stop()
    assert not server.running
    assert not Path(f"/proc/{pid}").exists()


def test_secret_is_not_on_the_server_command_line(tmp_path: Path):
    with S3Server(tmp_path / "data") as server:
        cmdline = Path(f"/proc/{server.pid}/cmdline").read_bytes()
        assert server.credentials.secret_access_key.encode() not in cmdline
        assert server.credentials.access_key_id.encode() not in cmdline


def test_restart_keeps_port_and_objects(tmp_path: Path):
    with S3Server(tmp_path / "data") as server:
        port = server.port
        (server.bucket_dir / "kept").write_text("kept")
        server.kill()
        server.start()
        assert server.port == port
        assert (server.bucket_dir / "kept").read_text() == "kept"


def test_generated_credentials_differ_each_time_and_repr_hides_the_secret():
    first, second = Credentials.generate(), Credentials.generate()
    assert first != second
    assert first.secret_access_key not in repr(first)


def test_credentials_file_is_private_and_reads_back(tmp_path: Path):
    credentials = Credentials.generate()
    path = tmp_path / "credentials"
    write_credentials_file(path, credentials)
    assert os.stat(path).st_mode & 0o777 == 0o600
    assert read_credentials_file(path) == credentials
