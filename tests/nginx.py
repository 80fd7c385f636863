"""A real nginx in front of app processes, configured by the deployment example itself
(deploy/nginx/kuaichu.conf) with only its ports, certificate and log moved to the test's own."""

import datetime
import shutil
import socket
import subprocess
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from live import LiveServer, free_port, wait_until

EXAMPLE = Path(__file__).resolve().parent.parent / "deploy" / "nginx" / "kuaichu.conf"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
requires_nginx = pytest.mark.skipif(not Path(NGINX).exists(), reason="nginx not installed")


@dataclass
class Proxy:
    url: str
    access_log: Path

    def log_lines(self) -> list[str]:
        return self.access_log.read_text().splitlines() if self.access_log.exists() else []


def self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "kuaichu.crt", directory / "kuaichu.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


def site_config(directory: Path, apps: Sequence[LiveServer], http_port: int, https_port: int) -> Path:
    """The example, pointed at this test's processes, ports, certificate and log."""
    cert, key = self_signed_certificate(directory)
    config = EXAMPLE.read_text()
    for example_port, app in zip(("8001", "8002"), apps, strict=True):
        config = config.replace(f"127.0.0.1:{example_port}", app.url.removeprefix("http://"))
    for old, new in (
        ("listen 80;", f"listen 127.0.0.1:{http_port};"),
        ("listen 443 ssl http2;", f"listen 127.0.0.1:{https_port} ssl http2;"),
        ("/etc/nginx/tls/kuaichu.crt", str(cert)),
        ("/etc/nginx/tls/kuaichu.key", str(key)),
        ("/var/log/nginx/kuaichu.access.log", str(directory / "access.log")),
    ):
        assert old in config, f"the deployment example no longer has {old!r}"
        config = config.replace(old, new)
    site = directory / "kuaichu.conf"
    site.write_text(config)
    return site


@contextmanager
def nginx_in_front_of(directory: Path, apps: Sequence[LiveServer]) -> Iterator[Proxy]:
    directory.mkdir(parents=True, exist_ok=True)
    http_port, https_port = free_port(), free_port()
    site = site_config(directory, apps, http_port, https_port)
    # The main file a Debian install provides, reduced to what a non-daemon test run needs.
    main = directory / "nginx.conf"
    main.write_text(
        f"""user root;
worker_processes 1;
pid {directory}/nginx.pid;
error_log {directory}/error.log warn;
events {{ worker_connections 256; }}
http {{
    client_body_temp_path {directory}/body;
    proxy_temp_path {directory}/proxy;
    fastcgi_temp_path {directory}/fastcgi;
    uwsgi_temp_path {directory}/uwsgi;
    scgi_temp_path {directory}/scgi;
    include {site};
}}
"""
    )
    process = subprocess.Popen(
        [NGINX, "-p", str(directory), "-c", str(main), "-g", "daemon off;"],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        url = f"https://127.0.0.1:{https_port}"
        wait_until(lambda: _answers(https_port) or process.poll() is not None, what="nginx listening")
        if process.poll() is not None:
            raise RuntimeError(f"nginx did not start: {process.stderr.read() if process.stderr else ''}")
        yield Proxy(url, directory / "access.log")
    finally:
        process.terminate()
        process.wait(timeout=10)


def _answers(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0
