"""The Ed25519 key that signs audit-trail checkpoints. It lives outside the database
(`settings.MES_AUDIT_SIGNING_KEY_FILE`, PEM, mode 0600): someone who rewrites the trail in the
database cannot forge a checkpoint without it.

In development (DEBUG, or the embedded SQLite database, or `MES_AUDIT_GENERATE_KEY = True`) a
missing key is generated on first use. In production provision it from the secrets store
(`manage.py checkpoint_audit_trail --generate-key` writes a new one) and keep a copy of its
public key where the verifier runs (`MES_AUDIT_PUBLIC_KEY_FILE`, optional; otherwise the public
key is derived from the private key file). Old public keys that signed earlier checkpoints stay
trusted when listed in `MES_AUDIT_TRUSTED_PUBLIC_KEYS` (base64 strings).
"""

import base64
import logging
import os
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from django.conf import settings

from mes.audit.exceptions import SigningKeyMissing

logger = logging.getLogger(__name__)


def _may_generate() -> bool:
    default = settings.DEBUG or not settings.MES_DATABASE_IS_GMP_GRADE
    return bool(getattr(settings, "MES_AUDIT_GENERATE_KEY", default))


def generate_key_file(path: Path | None = None) -> Ed25519PrivateKey:
    """Write a new private key (refuses to overwrite an existing one)."""
    path = Path(path or settings.MES_AUDIT_SIGNING_KEY_FILE)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
    logger.warning("audit: generated a new checkpoint signing key at %s", path)
    return key


def signing_key() -> Ed25519PrivateKey:
    path = Path(settings.MES_AUDIT_SIGNING_KEY_FILE)
    if not path.exists():
        if not _may_generate():
            raise SigningKeyMissing(
                f"No audit checkpoint signing key at {path}: provision one "
                "(manage.py checkpoint_audit_trail --generate-key)."
            )
        return generate_key_file(path)
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise SigningKeyMissing(f"{path} is not an Ed25519 private key.")
    return key


def public_key_text(key: Ed25519PublicKey) -> str:
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode()


def _load_public(text: str) -> Ed25519PublicKey:
    return Ed25519PublicKey.from_public_bytes(base64.b64decode(text))


def trusted_public_keys() -> dict[str, Ed25519PublicKey]:
    """The public keys a checkpoint may be signed with (base64 text -> key). Empty when no key
    is configured."""
    texts: list[str] = list(getattr(settings, "MES_AUDIT_TRUSTED_PUBLIC_KEYS", []))
    public_file = getattr(settings, "MES_AUDIT_PUBLIC_KEY_FILE", None)
    if public_file and Path(public_file).exists():
        texts.append(Path(public_file).read_text().strip())
    else:
        path = Path(settings.MES_AUDIT_SIGNING_KEY_FILE)
        if path.exists():
            key = serialization.load_pem_private_key(path.read_bytes(), password=None)
            if isinstance(key, Ed25519PrivateKey):
                texts.append(public_key_text(key.public_key()))
    return {text: _load_public(text) for text in texts}


def signature_is_valid(key: Ed25519PublicKey, signature_b64: str, message: bytes) -> bool:
    try:
        key.verify(base64.b64decode(signature_b64), message)
    except (InvalidSignature, ValueError):
        return False
    return True
