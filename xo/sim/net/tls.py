"""The simulator's self-signed TLS certificate (real hosts serve HTTPS with one too).

Generated once per process (an EC P-256 key takes milliseconds), valid for 127.0.0.1, ::1 and
localhost, so clients either disable verification (as XO's `allowUnauthorized` does) or trust
`certificate_pem()`.
"""

from __future__ import annotations

import datetime
import functools
import ipaddress
import ssl
import tempfile
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


@functools.cache
def _certificate() -> tuple[bytes, bytes]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "xapi-sim")])
    now = datetime.datetime.now(datetime.UTC)
    san = x509.SubjectAlternativeName(
        [
            x509.DNSName("localhost"),
            x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
            x509.IPAddress(ipaddress.ip_address("::1")),
        ]
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


def certificate_pem() -> bytes:
    """The PEM certificate every TLS host of this process presents."""
    return _certificate()[0]


def server_ssl_context() -> ssl.SSLContext:
    """A server context presenting the process certificate."""
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
