"""The simulator's self-signed TLS certificate (real hosts serve HTTPS with one too).

One key per process (an EC P-256 key takes milliseconds); the certificate is valid for
127.0.0.1, ::1, localhost and every host IP a simulator of this process served with TLS (each
`server_ssl_context(ips)` that needs a new IP re-issues it, same key and name, covering all IPs
seen so far). Clients either disable verification (as XO's `allowUnauthorized` does) or trust
`certificate_pem()` (the latest certificate: it covers every IP).
"""

from __future__ import annotations

import datetime
import functools
import ipaddress
import ssl
import tempfile
from collections.abc import Iterable
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

DEFAULT_IPS = frozenset({"127.0.0.1", "::1"})
_covered: set[str] = set(DEFAULT_IPS)


@functools.cache
def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@functools.cache
def _certificate_for(ips: frozenset[str]) -> tuple[bytes, bytes]:
    key = _key()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "xapi-sim")])
    now = datetime.datetime.now(datetime.UTC)
    addresses = sorted((ipaddress.ip_address(ip) for ip in ips), key=lambda a: (a.version, a))
    san = x509.SubjectAlternativeName(
        [x509.DNSName("localhost"), *(x509.IPAddress(address) for address in addresses)]
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=3650))
        .add_extension(san, critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return cert_pem, key_pem


def _certificate() -> tuple[bytes, bytes]:
    return _certificate_for(frozenset(_covered))


def certificate_pem() -> bytes:
    """The latest PEM certificate of this process (valid for every IP served so far)."""
    return _certificate()[0]


def server_ssl_context(ips: Iterable[str] = ()) -> ssl.SSLContext:
    """A server context presenting the process certificate, valid for `ips` too."""
    for ip in ips:
        try:
            _covered.add(str(ipaddress.ip_address(ip)))
        except ValueError:
            continue  # a host name: localhost is covered, others are not

    cert_pem, key_pem = _certificate()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    # load_cert_chain only reads files: write them to a private directory that vanishes at once.
    with tempfile.TemporaryDirectory(prefix="xo-sim-tls-") as directory:
        cert_path = Path(directory, "cert.pem")
        key_path = Path(directory, "key.pem")
        cert_path.write_bytes(cert_pem)
        key_path.write_bytes(key_pem)
        context.load_cert_chain(cert_path, key_path)
    return context


def client_ssl_context(*, verify: bool = True) -> ssl.SSLContext:
    """A client context that trusts the simulator's certificate (or verifies nothing)."""
    if not verify:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    return ssl.create_default_context(cadata=certificate_pem().decode())
