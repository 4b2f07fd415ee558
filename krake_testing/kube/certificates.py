"""A certificate authority per fake cluster, with its serving and client certificates.

Keys are ECDSA P-256 (fast to make; accepted by OpenSSL, urllib3 and aiohttp). The
serving certificate names the listening host (IP or DNS), `localhost` and `127.0.0.1`.
The client certificate has CN `krake-admin` and O `system:masters`, as a kubeadm
admin credential does. Everything is valid for ten years from a minute ago.
"""

from __future__ import annotations

import datetime
import ipaddress
import ssl
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


@dataclass(frozen=True, slots=True)
class Pair:
    """A PEM certificate and its PEM (PKCS#8, unencrypted) private key."""

    cert: bytes
    key: bytes


@dataclass(frozen=True, slots=True)
class Credentials:
    authority: Pair
    server: Pair
    client: Pair


def _name(common: str, organization: str | None = None) -> x509.Name:
    parts = [x509.NameAttribute(NameOID.COMMON_NAME, common)]
    if organization:
        parts.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization))
    return x509.Name(parts)


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _builder(
    subject: x509.Name, issuer: x509.Name, public: ec.EllipticCurvePublicKey
) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(days=3650))
    )


def _san(host: str) -> x509.SubjectAlternativeName:
    names: list[x509.GeneralName] = [x509.DNSName("localhost")]
    addresses = {ipaddress.ip_address("127.0.0.1")}
    try:
        addresses.add(ipaddress.ip_address(host))
    except ValueError:
        names.append(x509.DNSName(host))
    names += [x509.IPAddress(a) for a in sorted(addresses, key=str)]
    return x509.SubjectAlternativeName(names)


def make(cluster: str, host: str) -> Credentials:
    """A fresh CA for `cluster`, a serving certificate for `host`, an admin client."""
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name(f"{cluster}-ca")
    ca_cert = (
        _builder(ca_name, ca_name, ca_key.public_key())
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True
        )
        .sign(ca_key, hashes.SHA256())
    )

    def issue(subject: x509.Name, usage: x509.ObjectIdentifier, san: bool) -> Pair:
        key = ec.generate_private_key(ec.SECP256R1())
        builder = _builder(subject, ca_name, key.public_key()).add_extension(
            x509.ExtendedKeyUsage([usage]), critical=False
        )
        if san:
            builder = builder.add_extension(_san(host), critical=False)
        cert = builder.sign(ca_key, hashes.SHA256())
        return Pair(cert.public_bytes(serialization.Encoding.PEM), _pem_key(key))

    return Credentials(
        authority=Pair(ca_cert.public_bytes(serialization.Encoding.PEM), _pem_key(ca_key)),
        server=issue(_name(f"{cluster}-apiserver"), ExtendedKeyUsageOID.SERVER_AUTH, True),
        client=issue(
            _name("krake-admin", "system:masters"), ExtendedKeyUsageOID.CLIENT_AUTH, False
        ),
    )


def server_context(credentials: Credentials, directory: Path) -> ssl.SSLContext:
    """TLS for the server: its chain from files in `directory`, client certificates
    optional but, when sent, verified against the cluster's CA."""
    cert, key = directory / "apiserver.crt", directory / "apiserver.key"
    cert.write_bytes(credentials.server.cert)
    key.write_bytes(credentials.server.key)
    key.chmod(0o600)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)  # trusts no system CA for clients
    context.load_cert_chain(cert, key)
    context.load_verify_locations(cadata=credentials.authority.cert.decode())
    context.verify_mode = ssl.CERT_OPTIONAL
    return context
