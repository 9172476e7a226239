"""Encryption of personal fields at rest, and the keyed `chat_key` used to find a person.

Everything personal (Telegram chat id, phone, name, relayed texts, outbox payloads) is stored as
a Fernet token made with DATA_KEY. DATA_KEY may hold several keys, comma-separated, newest
first (`DATA_KEY=new,old`): tokens are written with the first and read with any
(`MultiFernet`), so a key can be rotated (`python -m referral_api rotate-keys`,
docs/operations.md).

`chat_key` is an HMAC-SHA256 of the chat id with a lookup secret, so a person's referrals can be
found without decrypting anything, and the chat id cannot be recovered from it without the
secret. The lookup secret must not move when DATA_KEY rotates (stored chat keys are indexed):
it is LOOKUP_KEY when set, else derived (HKDF) from the last (oldest) key of DATA_KEY — with a
single key exactly as before keys could rotate. `python -m referral_api lookup-key` prints the
value to pin as LOOKUP_KEY before that oldest key is removed.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Sequence
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

__all__ = ["DataVault", "InvalidToken", "decode_lookup_key",
           "derive_lookup_secret", "encode_lookup_key", "generate_data_key", "parse_data_keys"]

_CHAT_KEY_INFO = b"conex/referral_api/chat_key/v1"
LOOKUP_SECRET_BYTES = 32


def generate_data_key() -> str:
    """A new DATA_KEY (urlsafe base64 of 32 random bytes), for .env."""
    return Fernet.generate_key().decode("ascii")


def parse_data_keys(value: bytes | str) -> list[bytes]:
    """The keys of DATA_KEY, newest first (comma-separated; spaces around a key are ignored).
    Raises ValueError naming the position of a malformed key, never the key itself."""
    text = value.decode("ascii", errors="replace") if isinstance(value, bytes) else value
    parts = [part.strip() for part in text.split(",")]
    keys: list[bytes] = []
    for position, part in enumerate(parts, start=1):
        where = f"DATA_KEY: key {position} of {len(parts)}"
        if not part:
            raise ValueError(f"{where} is empty (keys are comma-separated, newest first)")
        try:
            key = part.encode("ascii")
            Fernet(key)
        except (ValueError, TypeError):
            raise ValueError(f"{where} is not a Fernet key (urlsafe base64 of 32 bytes; "
                             "make one with python -c \"from cryptography.fernet import "
                             "Fernet; print(Fernet.generate_key().decode())\")") from None
        keys.append(key)
    return keys


def derive_lookup_secret(data_key: bytes) -> bytes:
    """The chat-key secret derived from one Fernet key (as written in DATA_KEY): what every
    chat_key was made with before LOOKUP_KEY existed."""
    return HKDF(algorithm=hashes.SHA256(), length=LOOKUP_SECRET_BYTES, salt=None,
                info=_CHAT_KEY_INFO).derive(data_key)


def encode_lookup_key(secret: bytes) -> str:
    """The LOOKUP_KEY value of a lookup secret (urlsafe base64)."""
    return base64.urlsafe_b64encode(secret).decode("ascii")


def decode_lookup_key(value: str) -> bytes:
    """The lookup secret of a LOOKUP_KEY value. Raises ValueError (without the value)."""
    try:
        secret = base64.b64decode(value.strip().encode("ascii"), altchars=b"-_", validate=True)
    except (ValueError, binascii.Error):
        secret = b""
    if len(secret) != LOOKUP_SECRET_BYTES:
        raise ValueError("LOOKUP_KEY is not a lookup key (urlsafe base64 of 32 bytes, as "
                         "printed by python -m referral_api lookup-key)")
    return secret


class DataVault:
    """Encrypts personal fields with the newest key of DATA_KEY, decrypts them with any."""

    def __init__(self, data_key: bytes | str | Sequence[bytes], *,
                 lookup_secret: bytes | None = None) -> None:
        keys = (parse_data_keys(data_key) if isinstance(data_key, bytes | str)
                else list(data_key))  # raises ValueError for a malformed key
        if not keys:
            raise ValueError("DATA_KEY holds no key")
        self._primary = Fernet(keys[0])
        self._fernet = MultiFernet([Fernet(key) for key in keys])
        self.key_count = len(keys)
        if lookup_secret is None:
            lookup_secret = derive_lookup_secret(keys[-1])
        if len(lookup_secret) != LOOKUP_SECRET_BYTES:
            raise ValueError("the lookup secret must be 32 bytes")
        self._chat_key_secret = lookup_secret

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

    def is_current(self, token: str) -> bool:
        """Whether the newest key alone reads this token (nothing to rotate)."""
        try:
            self._primary.decrypt(token.encode("ascii"))
        except InvalidToken:
            return False
        return True

    def rotate(self, token: str) -> str:
        """The token re-encrypted with the newest key. Raises InvalidToken when no key reads it."""
        return self._fernet.rotate(token.encode("ascii")).decode("ascii")

    def lookup_key(self) -> str:
        """The LOOKUP_KEY value that keeps every chat_key as it is now."""
        return encode_lookup_key(self._chat_key_secret)

    def chat_key(self, chat_id: int) -> str:
        """HMAC-SHA256 (hex) of the chat id with the lookup secret: indexed in `referrals`,
        `followup_enrolments` and `outbox`; it does not change when DATA_KEY rotates."""
        return hmac.new(self._chat_key_secret, str(chat_id).encode("ascii"),
                        hashlib.sha256).hexdigest()

