"""Outreach campaigns: codes, deep links, QR codes, and who may see which.

Scoping: coordinators and admins see every campaign; a counsellor (partner staff) sees and
creates only its own organisation's campaigns, and its reports cover only those.

A code is 6 characters from an alphabet without look-alikes (no 0/O, 1/I/L), easy to type
from a flyer; the bot accepts it typed in any case. It fits Telegram's deep-link payload
(at most 64 characters of A-Z a-z 0-9 _ -).
"""

from __future__ import annotations

import io
import logging
import re
import secrets
from dataclasses import dataclass
from datetime import datetime

import segno
from sqlalchemy import ColumnElement, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from referral_api.campaigns.models import CHANNELS, Campaign
from referral_api.errors import Forbidden, Invalid, NotFound
from referral_api.partners.models import Partner
from referral_api.schemas import no_controls
from referral_api.staff.models import StaffAccount
from referral_api.staff.service import audit

logger = logging.getLogger(__name__)

CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 6
CODE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")  # Telegram's deep-link payload
BOT_USERNAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{3,31}$")
CODE_ATTEMPTS = 10


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def normalize_code(text: str | None) -> str | None:
    """A typed or linked code as stored (upper case), or None when it cannot be one."""
    text = (text or "").strip()
    return text.upper() if CODE.fullmatch(text) else None


def deep_link(bot_username: str, code: str) -> str:
    return f"https://t.me/{bot_username}?start={code}"


def qr_svg(link: str) -> str:
    """The QR code as an SVG document (black on white, a quiet zone of 4 modules)."""
    out = io.BytesIO()
    segno.make(link, error="m", micro=False).save(
        out, kind="svg", scale=8, border=4, xmldecl=False, svgns=True,
        title="QR code", desc=link)
    return out.getvalue().decode("utf-8")


def qr_png(link: str, scale: int = 10) -> bytes:
    out = io.BytesIO()
    segno.make(link, error="m", micro=False).save(out, kind="png", scale=scale, border=4)
    return out.getvalue()


def sees_all(account: StaffAccount) -> bool:
    return account.role in ("coordinator", "admin")


@dataclass(frozen=True, slots=True)
class CampaignView:
    code: str
    partner_id: str | None
    partner_name: str | None
    city: str
    channel: str
    label: str
    created_at: datetime
    active: bool


def _clean(text: str, limit: int) -> str:
    """One line of at most `limit` characters, without control characters (whitespace is
    folded; other controls, which `split` keeps, make it empty: refused)."""
    folded = " ".join(text.split())[:limit]
    try:
        return no_controls(folded)
    except ValueError:
        return ""


class CampaignService:
    def __init__(self, session: AsyncSession, account: StaffAccount) -> None:
        self.session = session
        self.account = account

    def _scope(self) -> list[ColumnElement[bool]]:
        if sees_all(self.account):
            return []
        if self.account.partner_id is None:
            return [Campaign.code.is_(None)]  # nothing
        return [Campaign.partner_id == self.account.partner_id]

    async def all(self) -> list[CampaignView]:
        rows = await self.session.execute(
            select(Campaign, Partner.name).outerjoin(Partner, Partner.id == Campaign.partner_id)
            .where(*self._scope()).order_by(Campaign.created_at.desc(), Campaign.code))
        return [self._view(c, name) for c, name in rows]

    async def codes(self) -> tuple[str, ...] | None:
        """The campaigns this account's reports may cover; None = all (and people who came
        without a campaign)."""
        if sees_all(self.account):
            return None
        return tuple(c.code for c in await self.all())

    async def get(self, code: str) -> CampaignView:
        wanted = normalize_code(code)
        if wanted is None:
            raise NotFound("campaign")
        row = (await self.session.execute(
            select(Campaign, Partner.name).outerjoin(Partner, Partner.id == Campaign.partner_id)
            .where(Campaign.code == wanted, *self._scope()))).first()
        if row is None:
            raise NotFound("campaign")  # another organisation's campaign is 404 too
        return self._view(row[0], row[1])

    async def partner_choices(self) -> list[tuple[str, str]]:
        query = select(Partner.id, Partner.name).where(Partner.active.is_(True))
        if not sees_all(self.account):
            query = query.where(Partner.id == self.account.partner_id)
        return [(pid, name) for pid, name in await self.session.execute(query.order_by(
            Partner.name))]

    async def create(self, *, partner_id: str | None, city: str, channel: str,
                     label: str, now: datetime) -> CampaignView:
        if not sees_all(self.account):
            if self.account.partner_id is None:
                raise Forbidden("no_organisation")
            partner_id = self.account.partner_id  # partners create for themselves only
        partner_id = partner_id or None
        if partner_id is not None and await self.session.get(Partner, partner_id) is None:
            raise Invalid("invalid_partner")
        city, label = _clean(city, 100), _clean(label, 100)
        if not city:
            raise Invalid("invalid_city")
        if not label:
            raise Invalid("invalid_label")
        if channel not in CHANNELS:
            raise Invalid("invalid_channel")
        for _ in range(CODE_ATTEMPTS):
            campaign = Campaign(code=new_code(), partner_id=partner_id, city=city,
                                channel=channel, label=label, created_by=self.account.id,
                                created_at=now, active=True)
            try:
                async with self.session.begin_nested():
                    self.session.add(campaign)
            except IntegrityError:
                continue
            audit(self.session, self.account, "create_campaign", detail=campaign.code, now=now)
            await self.session.commit()
            logger.info("campaign created (%s)", channel)
            return await self.get(campaign.code)
        raise RuntimeError("no free campaign code")  # 31^6 codes: does not happen

    async def set_active(self, code: str, active: bool, now: datetime) -> CampaignView:
        """Stop (or restart) a campaign: the bot refuses a stopped code, typed or in a link;
        its signals stay in the reports. Scoped like `get` (another organisation's: 404)."""
        view = await self.get(code)
        campaign = await self.session.get(Campaign, view.code)
        assert campaign is not None
        if campaign.active != active:
            campaign.active = active
            audit(self.session, self.account,
                  "reactivate_campaign" if active else "deactivate_campaign",
                  detail=campaign.code, now=now)
            await self.session.commit()
            logger.info("campaign %s", "reactivated" if active else "deactivated")
        return await self.get(code)

    @staticmethod
    def _view(campaign: Campaign, partner_name: str | None) -> CampaignView:
        return CampaignView(code=campaign.code, partner_id=campaign.partner_id,
                            partner_name=partner_name, city=campaign.city,
                            channel=campaign.channel, label=campaign.label,
                            created_at=campaign.created_at, active=campaign.active)


async def campaign_is_active(session: AsyncSession, code: str) -> str | None:
    """The stored code when `code` (any case) is an active campaign, else None (the bot)."""
    wanted = normalize_code(code)
    if wanted is None:
        return None
    found = await session.scalar(select(Campaign.code).where(Campaign.code == wanted,
                                                             Campaign.active.is_(True)))
    return found
