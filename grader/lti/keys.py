"""The tool's own key: coursehub signs its OAuth2 client assertions with it, and
platforms read its public half from `GET api/v1/lti/jwks`.

An RSA key in a PEM file (`COURSEHUB_LTI_KEY_FILE`, by default
`<state dir>/lti-tool-key.pem`), made at first use with mode 0600. Several API replicas
must read the same file (a mounted secret): a platform knows the tool by one key set.
The private key never leaves this module's objects: not in a response, not in a log.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import threading
import uuid
from pathlib import Path

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa


def _b64(number: int) -> str:
    data = number.to_bytes((number.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


class ToolKey:
    """The key of ``path``, loaded (or made) on first use; thread-safe."""

    def __init__(self, path: str | Path, bits: int = 2048):
        self.path = Path(path)
        self.bits = bits
        self._lock = threading.Lock()
        self._private = None
        self._kid = None

    def _load(self):
        with self._lock:
            if self._private is None:
                pem = self._read_or_make()
                self._private = serialization.load_pem_private_key(pem, password=None)
                self._kid = self._thumbprint()
            return self._private

    def _read_or_make(self) -> bytes:
        try:
            return self.path.read_bytes()
        except FileNotFoundError:
            pass
        key = rsa.generate_private_key(public_exponent=65537, key_size=self.bits)
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # written whole under another name, then linked into place: a process starting
        # at the same time reads either nothing or the whole key, and the first link
        # wins (the other process's key is thrown away and it reads the winner's)
        temporary = self.path.with_name(f".{self.path.name}.{uuid.uuid4().hex}")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(pem)
            try:
                os.link(temporary, self.path)
            except FileExistsError:
                pass
        finally:
            temporary.unlink(missing_ok=True)
        return self.path.read_bytes()

    def _public_numbers(self):
        return self._private.public_key().public_numbers()

    def _thumbprint(self) -> str:
        """RFC 7638: the SHA-256 of the public key's required members, as its `kid`."""
        numbers = self._public_numbers()
        members = {"e": _b64(numbers.e), "kty": "RSA", "n": _b64(numbers.n)}
        canonical = json.dumps(members, separators=(",", ":"), sort_keys=True).encode()
        return base64.urlsafe_b64encode(hashlib.sha256(canonical).digest()).rstrip(b"=").decode()

    @property
    def kid(self) -> str:
        self._load()
        return self._kid

    def jwks(self) -> dict:
        """The public key set: what `GET api/v1/lti/jwks` answers."""
        self._load()
        numbers = self._public_numbers()
        return {
            "keys": [
                {
                    "kty": "RSA",
                    "alg": "RS256",
                    "use": "sig",
                    "kid": self._kid,
                    "n": _b64(numbers.n),
                    "e": _b64(numbers.e),
                }
            ]
        }

    def sign(self, claims: dict) -> str:
        """A JWT of ``claims``, RS256, with this key's `kid`."""
        key = self._load()
        return jwt.encode(claims, key, algorithm="RS256", headers={"kid": self._kid})
