"""Staff passwords: argon2id at argon2-cffi's default cost unless ARGON2_* say otherwise (the
tests lower it; see tests/conftest.py)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from referral_api.settings import Settings
from referral_api.staff.service import password_hasher
from tests.referral_api.factories import CHEAP_ARGON2

COST = ("ARGON2_TIME_COST", "ARGON2_MEMORY_COST", "ARGON2_PARALLELISM")


def test_unset_or_empty_cost_is_argon2_cffis_default(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in COST:
        monkeypatch.setenv(name, "")  # `ARGON2_TIME_COST=` in .env means "not set"
    hasher = password_hasher(Settings(_env_file=None))
    assert (hasher.time_cost, hasher.memory_cost, hasher.parallelism) == (3, 65536, 4)
    assert hasher.hash("a long staff password").startswith("$argon2id$v=19$m=65536,t=3,p=4$")


def test_the_cost_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in zip(COST, ("2", "1024", "2"), strict=True):
        monkeypatch.setenv(name, value)
    hashed = password_hasher(Settings(_env_file=None)).hash("a long staff password")
    assert hashed.startswith("$argon2id$v=19$m=1024,t=2,p=2$")


def test_the_test_settings_hash_cheaply_and_still_verify() -> None:
    hasher = password_hasher(Settings(_env_file=None, **CHEAP_ARGON2))
    hashed = hasher.hash("a long staff password")
    assert hashed.startswith("$argon2id$v=19$m=8,t=1,p=1$")
    assert hasher.verify(hashed, "a long staff password")


def test_too_little_memory_for_the_lanes_is_refused() -> None:
    with pytest.raises(ValidationError, match="8 KiB per lane"):
        Settings(_env_file=None, argon2_memory_cost=16, argon2_parallelism=4)
