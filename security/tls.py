"""TLS for the service's own connections: to the mail server (SMTP with STARTTLS or implicit TLS)
and to Temporal (TLS, mutual TLS, an API key).

Each certificate or key file is read once, when the settings are read (:func:`pem_file`, the
settings' validator): a file that cannot be used is one line, which the settings prefix with its
variable. A server's certificate is always checked: for SMTP against the system's CAs and a
private CA's certificate if given (:func:`smtp_tls_context`); for Temporal against the CA given,
else the system's (:func:`temporal_tls_config`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import ssl

    from temporalio.service import TLSConfig

# cryptography, ssl and temporalio are imported where they are used: the settings import this
# module, and a `cme` command that reads no PEM file (most do not) starts without them.

__all__ = ["PemFile", "check_key_pair", "pem_file", "smtp_tls_context", "temporal_tls_config"]


@dataclass(frozen=True)
class PemFile:
    """A PEM file, read once: where it was (for messages) and what it holds."""

    path: Path
    data: bytes = field(repr=False)
    kind: str = "certificate"  # or "private key"

    def __str__(self) -> str:
        return str(self.path)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def read_pem(path: Path, kind: str = "certificate") -> bytes:
    """The PEM file at ``path`` (certificates, or a private key), checked: one line when it
    cannot be read or does not hold what it should."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ValueError(f"no such file: {path}") from None
    except PermissionError:
        raise ValueError(f"cannot be read (permission denied): {path}") from None
    except IsADirectoryError:
        raise ValueError(f"is a directory, not a {kind} file: {path}") from None
    except OSError as exc:
        raise ValueError(f"cannot be read: {path} ({_first_line(exc)})") from None
    if b"-----BEGIN " not in data:
        raise ValueError(f"not a PEM {kind} file (no -----BEGIN line): {path}")
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    try:
        if kind == "private key":
            serialization.load_pem_private_key(data, password=None)
        else:
            x509.load_pem_x509_certificates(data)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"not a usable PEM {kind} file: {path} ({_first_line(exc)})") from None
    return data


def pem_file(kind: str = "certificate") -> Any:
    """A settings validator: a path (``~`` expanded) read into a :class:`PemFile`; an empty value
    (as a compose file passes an unset one) is unset."""

    def validate(value: Any) -> PemFile | None:
        if value is None or isinstance(value, PemFile):
            return value
        if isinstance(value, str):
            value = value.strip()
            if not value:
                return None
        if not isinstance(value, str | Path):
            raise ValueError("must be the path of a file")
        path = Path(value).expanduser()
        return PemFile(path, read_pem(path, kind), kind)

    return validate


def check_key_pair(cert: PemFile, key: PemFile) -> None:
    """That ``key`` is the private key of ``cert``'s (first) certificate: one line if not."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    certificate = x509.load_pem_x509_certificates(cert.data)[0]
    private = serialization.load_pem_private_key(key.data, password=None)
    public = serialization.PublicFormat.SubjectPublicKeyInfo
    der = serialization.Encoding.DER
    if private.public_key().public_bytes(der, public) != certificate.public_key().public_bytes(
        der, public
    ):
        raise ValueError(f"{key.path} is not the private key of the certificate in {cert.path}")


def smtp_tls_context(ca: PemFile | bytes | None = None) -> ssl.SSLContext:
    """The mail client's TLS context, as aiosmtplib makes it by default (the system's CAs, the
    server's certificate and name checked, never skipped) with ``ca``'s certificates (a private
    CA) trusted too."""
    import ssl

    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    if ca is not None:
        data = ca.data if isinstance(ca, PemFile) else ca
        context.load_verify_locations(cadata=data.decode("ascii", errors="replace"))
    return context


def temporal_tls_config(
    *,
    ca: PemFile | None = None,
    cert: PemFile | None = None,
    key: PemFile | None = None,
    server_name: str | None = None,
) -> TLSConfig:
    """The Temporal client's TLS: the server's certificate checked against ``ca`` (else the
    system's CAs), for ``server_name`` when given (else the address's host), and this client's
    certificate and key for mutual TLS."""
    from temporalio.service import TLSConfig

    return TLSConfig(
        server_root_ca_cert=ca.data if ca is not None else None,
        domain=server_name or None,
        client_cert=cert.data if cert is not None else None,
        client_private_key=key.data if key is not None else None,
    )
