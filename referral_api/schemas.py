"""Types shared by the domains' schema modules (pydantic only, like them: the bot imports
these through the API's schemas)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

ChatId = Annotated[int, Field(ge=-(10**15), le=10**15)]  # a Telegram chat id
