"""Reference codes: 8 characters without look-alikes (no I, O, 0, 1), shown as XXXX-XXXX."""

from __future__ import annotations

import secrets

ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
LENGTH = 8


def new_reference() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))


def normalize_reference(text: str) -> str | None:
    """'abcd-efgh', 'ABCDEFGH', ' abcd efgh ' → 'ABCDEFGH'; anything else → None."""
    code = text.strip().upper().replace("-", "").replace(" ", "")
    if len(code) != LENGTH or any(ch not in ALPHABET for ch in code):
        return None
    return code


def format_reference(code: str) -> str:
    return f"{code[:4]}-{code[4:]}"
