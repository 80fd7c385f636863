"""The issuing authority's signature on determination documents (PAdES, pyHanko).

ECDSA P-256: a signature costs about 15 ms where RSA-2048 costs about 70. At set-up a key
and a self-signed authority certificate are created in the data directory; a real deployment
points the settings at its own key and certificate (issued under the national PKI).
"""

import fcntl
import hashlib
import warnings
from dataclasses import dataclass
from datetime import datetime, timedelta
from io import BytesIO
from pathlib import Path

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.misc import PdfReadError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import fields, signers
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext

CERT_YEARS = 10
# A P-256 CMS container with its certificate fits easily (about 1.5 KB; a national PKI chain more).
SIGNATURE_BYTES_RESERVED = 16384


def create_authority_key(key_file: Path, cert_file: Path, authority: str, now: datetime) -> None:
    """A P-256 key and a self-signed certificate naming the issuing authority."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, authority),
            x509.NameAttribute(NameOID.COMMON_NAME, f"{authority}事故认定书签章"),
        ]
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=365 * CERT_YEARS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=True,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )
    key_file.parent.mkdir(parents=True, exist_ok=True)
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    key_file.chmod(0o600)
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


@dataclass(frozen=True)
class SignatureCheck:
    """What the signature says about a PDF: made by our authority, and covering every byte."""

    signed_by_authority: bool
    intact: bool
    covers_whole_file: bool
    signed_at: datetime | None

    @property
    def valid(self) -> bool:
        return self.signed_by_authority and self.intact and self.covers_whole_file


class DocumentSigner:
    def __init__(self, key_file: Path, cert_file: Path) -> None:
        signer = signers.SimpleSigner.load(str(key_file), str(cert_file))
        if signer is None:
            raise ValueError("document signing key or certificate could not be read")
        self._signer = signer
        self.certificate: asn1_x509.Certificate = signer.signing_cert
        self.fingerprint = hashlib.sha256(self.certificate.dump()).hexdigest()

    @classmethod
    def at_set_up(cls, key_file: Path, cert_file: Path, authority: str, now: datetime) -> "DocumentSigner":
        """Load the authority's key, creating key and certificate on first start."""
        key_file.parent.mkdir(parents=True, exist_ok=True)
        # Server processes sharing a data directory start together: one creates, the others wait.
        with open(key_file.with_name(key_file.name + ".lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not key_file.exists() and not cert_file.exists():
                create_authority_key(key_file, cert_file, authority, now)
        return cls(key_file, cert_file)

    def sign(self, pdf: bytes, reason: str, location: str) -> bytes:
        metadata = signers.PdfSignatureMetadata(
            field_name="AuthoritySignature",
            subfilter=fields.SigSeedSubFilter.PADES,
            md_algorithm="sha256",
            reason=reason,
            location=location,
        )
        # A fixed reservation spares pyHanko a trial signature to measure the container.
        output = signers.sign_pdf(
            IncrementalPdfFileWriter(BytesIO(pdf)),
            metadata,
            signer=self._signer,
            bytes_reserved=SIGNATURE_BYTES_RESERVED,
        )
        return output.getvalue()

    def check(self, pdf: bytes) -> SignatureCheck:
        """Validate the PDF's signature against our authority certificate alone."""
        broken = SignatureCheck(False, False, False, None)
        try:
            reader = PdfFileReader(BytesIO(pdf), strict=False)
            embedded = reader.embedded_signatures
        except (PdfReadError, ValueError, KeyError, TypeError, IndexError):
            return broken
        if len(embedded) != 1:
            return broken
        signature = embedded[0]
        context = ValidationContext(trust_roots=[self.certificate], allow_fetching=False)
        try:
            with warnings.catch_warnings():
                # pyHanko nudges towards its async API; the sync one is right in a worker thread.
                warnings.simplefilter("ignore", DeprecationWarning)
                status = validate_pdf_signature(signature, context)
        except Exception:
            # A mangled signature can fail anywhere inside pyHanko: it is simply not valid.
            return broken
        return SignatureCheck(
            signed_by_authority=status.signing_cert.dump() == self.certificate.dump() and status.trusted,
            intact=status.intact and status.valid,
            covers_whole_file=status.coverage.name == "ENTIRE_FILE",
            signed_at=status.signer_reported_dt,
        )
