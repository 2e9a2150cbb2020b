"""Dependencies of the marriage service beyond the chassis: the e-certificate signer."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

from nameko.exceptions import ConfigurationError
from nameko.extensions import DependencyProvider


class CertificateSigner:
    """Signs electronic certificates (电子证照) so anyone authorised can check one offline.

    HMAC-SHA256 with the bureau's key stands in for the national e-licence platform's SM2 seal;
    the document format and the verify path stay the same when the seal changes.
    """

    def __init__(self, key: bytes, key_id: str):
        self._key = key
        self.key_id = key_id

    def _mac(self, document: dict) -> str:
        canonical = json.dumps(document, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        digest = hmac.new(self._key, canonical.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")

    def sign(self, document: dict) -> dict:
        return {"document": document, "key_id": self.key_id, "signature": self._mac(document)}

    def verify(self, signed: dict) -> bool:
        return hmac.compare_digest(self._mac(signed.get("document", {})), str(signed.get("signature", "")))


class ECertificates(DependencyProvider):
    def setup(self):
        config = self.container.config
        if len(config.get("E_CERTIFICATE_KEY") or "") < 16:  # fail closed: no well-known default key
            raise ConfigurationError("E_CERTIFICATE_KEY must be set to at least 16 characters")
        self.signer = CertificateSigner(config["E_CERTIFICATE_KEY"].encode(), config.get("E_CERTIFICATE_KEY_ID", "dev"))

    def get_dependency(self, worker_ctx):
        return self.signer
