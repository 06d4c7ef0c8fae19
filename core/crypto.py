"""Secrets at rest: Fernet encryption for values we must read back, keyed hashes for ones we only verify."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


class SecretBox:
    """Encrypts and decrypts short secrets (provider keys, router passwords, webhook secrets)."""

    def __init__(self, key: str) -> None:
        self._fernet = Fernet(key.encode() if isinstance(key, str) else key)

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode()

    def decrypt(self, token: str) -> str:
        """Return the plaintext; raises ValueError when the token is not ours or was altered."""
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken as exc:
            raise ValueError("secret cannot be decrypted with the configured ENCRYPTION_KEY") from exc


def app_secret_box() -> SecretBox:
    """The SecretBox of the running app's ENCRYPTION_KEY (inside an app context)."""
    from flask import current_app  # core stays importable by the microservices, which have no app context here

    return SecretBox(current_app.config["ENCRYPTION_KEY"])


def keyed_hash(key: str, value: str) -> str:
    """HMAC-SHA256 hex of a machine-generated, high-entropy secret (API secrets, callback tokens)."""
    return hmac.new(key.encode(), value.encode(), hashlib.sha256).hexdigest()


def constant_time_equal(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def new_token(nbytes: int = 32) -> str:
    """An unguessable URL-safe token."""
    return secrets.token_urlsafe(nbytes)


def derive_key(master: str, purpose: str) -> str:
    """A 32-byte key (hex) for one purpose, derived from the master secret with HKDF-SHA256: a leak or misuse
    of one purpose's key (e.g. a JWT signing oracle) says nothing about the others."""
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=f"mospay/{purpose}".encode())
    return hkdf.derive(master.encode()).hex()
