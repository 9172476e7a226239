"""The time source of services: injected, so that tests can fix "now"."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from referral_api.db.base import utcnow

Clock = Callable[[], datetime]  # returns an aware datetime in UTC

system_clock: Clock = utcnow
