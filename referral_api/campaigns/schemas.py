"""Campaign schema of the bot's API (service token): pydantic only (the bot imports it)."""

from __future__ import annotations

from pydantic import BaseModel


class CampaignPublic(BaseModel):
    code: str
