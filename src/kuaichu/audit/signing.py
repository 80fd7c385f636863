"""The key that signs audit checkpoints: ECDSA P-256.

The private key lives outside the data directory (KUAICHU_AUDIT_KEY_FILE): whoever can
write the database and the data directory must not also be able to re-sign a rewritten
chain. Verifying needs only the public half (KUAICHU_AUDIT_PUBLIC_KEY_FILE), and a deployment
pins its fingerprint (KUAICHU_AUDIT_PUBLIC_KEY_SHA256) so a chain re-signed under another key,
with that key's public half put in place of the real one, still fails.
"""

import base64
import hashlib
import logging
import os
import shutil
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

log = logging.getLogger(__name__)


class AuditKeyError(Exception):
    """The audit key is missing, unreadable, or not the one this deployment pinned."""


def _fingerprint(key: ec.EllipticCurvePublicKey) -> str:
    der = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(der).hexdigest()


def _public_pem(key: ec.EllipticCurvePublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


class AuditVerifier:
    """Checks checkpoint signatures with the public key alone."""

    def __init__(self, key: ec.EllipticCurvePublicKey) -> None:
        self._key = key

    @classmethod
    def from_file(cls, path: Path, pinned_sha256: str = "") -> "AuditVerifier":
        if not path.exists():
            raise AuditKeyError(f"no audit public key at {path} (KUAICHU_AUDIT_PUBLIC_KEY_FILE)")
        key = serialization.load_pem_public_key(path.read_bytes())
        if not isinstance(key, ec.EllipticCurvePublicKey):
            raise AuditKeyError(f"{path} is not an EC public key")
        verifier = cls(key)
        verifier.check_pin(pinned_sha256)
        return verifier

    @property
    def fingerprint(self) -> str:
        """SHA-256 of the DER SubjectPublicKeyInfo, hex: what KUAICHU_AUDIT_PUBLIC_KEY_SHA256 pins."""
        return _fingerprint(self._key)

    @property
    def public_pem(self) -> bytes:
        return _public_pem(self._key)

    def check_pin(self, pinned_sha256: str) -> None:
        if pinned_sha256 and pinned_sha256.strip().lower() != self.fingerprint:
            raise AuditKeyError(
                f"the audit public key {self.fingerprint} is not the pinned key {pinned_sha256}"
            )

    def verify(self, message: bytes, signature: str) -> bool:
        try:
            self._key.verify(base64.b64decode(signature), message, ec.ECDSA(hashes.SHA256()))
        except (InvalidSignature, ValueError):
            return False
        return True


class AuditSigner:
    def __init__(self, key: ec.EllipticCurvePrivateKey) -> None:
        self._key = key
        self.verifier = AuditVerifier(key.public_key())

    @classmethod
    def from_file(cls, path: Path) -> "AuditSigner":
        """Load the key, creating it (readable by the owner only) on first use."""
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            key = ec.generate_private_key(ec.SECP256R1())
            pem = key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "wb") as target:
                target.write(pem)
            log.warning(
                "created the audit signing key %s; pin its public key with "
                "KUAICHU_AUDIT_PUBLIC_KEY_SHA256=%s",
                path,
                _fingerprint(key.public_key()),
            )
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise AuditKeyError(f"{path} is not an EC private key")
        return cls(key)

    @classmethod
    def at_set_up(
        cls, key_file: Path, public_key_file: Path, data_dir: Path, pinned_sha256: str = ""
    ) -> "AuditSigner":
        """The server's signer: the private key outside the data directory, its public half
        written where `kuaichu audit verify` finds it, and the pin (if set) honoured."""
        data_dir, key_file = data_dir.resolve(), key_file.resolve()
        if key_file.is_relative_to(data_dir):
            raise AuditKeyError(
                f"the audit signing key {key_file} must not be inside the data directory {data_dir}"
            )
        legacy = data_dir / "audit-key.pem"
        if legacy.exists() and not key_file.exists():
            # Earlier versions kept the key in the data directory: move it out, so the
            # checkpoints it signed still verify.
            key_file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            shutil.move(legacy, key_file)
            log.warning("moved the audit signing key out of the data directory to %s", key_file)
        signer = cls.from_file(key_file)
        signer.verifier.check_pin(pinned_sha256)
        pem = _public_pem(signer._key.public_key())
        if not public_key_file.exists():
            public_key_file.parent.mkdir(parents=True, exist_ok=True)
            public_key_file.write_bytes(pem)
        elif public_key_file.read_bytes() != pem:
            raise AuditKeyError(
                f"{public_key_file} is not the public half of the audit signing key {key_file}"
            )
        return signer

    @property
    def fingerprint(self) -> str:
        return self.verifier.fingerprint

    def sign(self, message: bytes) -> str:
        return base64.b64encode(self._key.sign(message, ec.ECDSA(hashes.SHA256()))).decode()

    def verify(self, message: bytes, signature: str) -> bool:
        return self.verifier.verify(message, signature)
