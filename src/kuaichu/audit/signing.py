"""The key that signs audit checkpoints: ECDSA P-256, kept in the data directory.

A deployment may point KUAICHU_AUDIT_KEY_FILE at its own PEM key; only the public half is
needed to verify.
"""

import base64
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec


class AuditSigner:
    def __init__(self, key: ec.EllipticCurvePrivateKey) -> None:
        self._key = key

    @classmethod
    def from_file(cls, path: Path) -> "AuditSigner":
        """Load the key, creating it (readable by the owner only) on first use."""
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            key = ec.generate_private_key(ec.SECP256R1())
            pem = key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
            path.write_bytes(pem)
            path.chmod(0o600)
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise ValueError(f"{path} is not an EC private key")
        return cls(key)

    def sign(self, message: bytes) -> str:
        return base64.b64encode(self._key.sign(message, ec.ECDSA(hashes.SHA256()))).decode()

    def verify(self, message: bytes, signature: str) -> bool:
        try:
            self._key.public_key().verify(base64.b64decode(signature), message, ec.ECDSA(hashes.SHA256()))
        except (InvalidSignature, ValueError):
            return False
        return True
