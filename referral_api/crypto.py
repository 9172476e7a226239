"""Encryption of personal fields at rest, and the keyed `chat_key` used to find a person.

Everything personal (Telegram chat id, phone, name, relayed texts, outbox payloads) is stored as
a Fernet token made with DATA_KEY. `chat_key` is an HMAC-SHA256 of the chat id with a key
derived from DATA_KEY (HKDF), so a person's referrals can be found without decrypting anything,
and the chat id cannot be recovered from it without the key.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

__all__ = ["DataVault", "InvalidToken", "generate_data_key"]

_CHAT_KEY_INFO = b"conex/referral_api/chat_key/v1"


def generate_data_key() -> str:
    """A new DATA_KEY (urlsafe base64 of 32 random bytes), for .env."""
    return Fernet.generate_key().decode("ascii")


class DataVault:
    """Encrypts and decrypts personal fields with one DATA_KEY."""

    def __init__(self, data_key: bytes | str) -> None:
        key = data_key.encode("ascii") if isinstance(data_key, str) else data_key
        self._fernet = Fernet(key)  # raises ValueError for a malformed key
        self._chat_key_secret = HKDF(
            algorithm=hashes.SHA256(), length=32, salt=None, info=_CHAT_KEY_INFO
        ).derive(key)

    def encrypt(self, text: str) -> str:
        return self._fernet.encrypt(text.encode("utf-8")).decode("ascii")

    def decrypt(self, token: str) -> str:
        return self._fernet.decrypt(token.encode("ascii")).decode("utf-8")

    def encrypt_optional(self, text: str | None) -> str | None:
        return None if text is None else self.encrypt(text)

    def decrypt_optional(self, token: str | None) -> str | None:
        return None if token is None else self.decrypt(token)

    def encrypt_chat_id(self, chat_id: int) -> str:
        return self.encrypt(str(chat_id))

    def decrypt_chat_id(self, token: str) -> int:
        return int(self.decrypt(token))

    def encrypt_json(self, value: dict[str, Any]) -> str:
        return self.encrypt(json.dumps(value, ensure_ascii=False, separators=(",", ":")))

    def decrypt_json(self, token: str) -> dict[str, Any]:
        value = json.loads(self.decrypt(token))
        if not isinstance(value, dict):
            raise ValueError("the encrypted payload is not a JSON object")
        return value

    def chat_key(self, chat_id: int) -> str:
        """HMAC-SHA256 (hex) of the chat id: stable for one DATA_KEY, indexed in `referrals`."""
        return hmac.new(self._chat_key_secret, str(chat_id).encode("ascii"),
                        hashlib.sha256).hexdigest()
