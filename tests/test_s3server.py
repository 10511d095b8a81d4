"""The tests' S3 server (tests/s3server.py): it stores what a signed request puts, refuses a
wrong secret (else the team tests' credentials would prove nothing) and leaves no process."""

from pathlib import Path

import pytest
from s3server import S3Server

session = pytest.importorskip("botocore.session", reason="no s3 extra")
exceptions = pytest.importorskip("botocore.exceptions", reason="no s3 extra")


def test_server_stores_a_signed_put_refuses_a_wrong_secret_and_stops(tmp_path: Path):
    with S3Server(tmp_path / "data") as server:
        key, secret = server.access_key, server.secret
        s3 = {"endpoint_url": server.endpoint, "region_name": "us-east-1", "aws_access_key_id": key}
        client = session.get_session().create_client("s3", **s3, aws_secret_access_key=secret)
        client.put_object(Bucket="dvc", Key="a/b", Body=b"object")
        assert (server.bucket_dir / "a" / "b").read_bytes() == b"object"
        wrong = session.get_session().create_client("s3", **s3, aws_secret_access_key="wrong")
        with pytest.raises(exceptions.ClientError) as refused:
            wrong.get_object(Bucket="dvc", Key="a/b")
        assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
        assert secret.encode() not in Path(f"/proc/{server.process.pid}/cmdline").read_bytes()
    assert server.process.poll() is not None
