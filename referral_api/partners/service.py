"""Partner use cases: nearest search, cities, slots, admin changes and the seed upsert.

When a change gives a partner a Telegram group (or another one), the referral cards held for
want of a group are released to it in the same transaction: by the `ReleaseCards` the caller
gives (partner administration, `admin.service`, gives `referrals.held.release_partner_cards`;
the partners domain knows no referral).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from datetime import time, timedelta
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from referral_api import geo
from referral_api.clock import Clock
from referral_api.errors import Conflict, Invalid, NotFound
from referral_api.partners.models import Partner, PartnerAvailability, PartnerCounsellor
from referral_api.partners.schedule import Window, free_slots, to_local
from referral_api.partners.schemas import (
    AvailabilityWindow,
    CityPartners,
    CounsellorPublic,
    NearestPartners,
    Origin,
    PartnerAdmin,
    PartnerCreate,
    PartnerNearby,
    PartnerPublic,
    PartnerUpdate,
    SeedResult,
    SlotList,
)
from referral_api.settings import Settings

# Monday–Friday 9:00–12:00 and 13:00–16:00: what a seeded partner without hours gets.
DEFAULT_WINDOWS = tuple(
    Window(day, start, end)
    for day in range(5)
    for start, end in ((time(9), time(12)), (time(13), time(16)))
)
# Equal distances (partners sharing a postcode centroid): the return desk first.
KIND_ORDER = {"return_desk": 0, "city_partner": 1, "ngo": 2, "intl_org": 3}
SEED_FIELDS = ("name", "kind", "city", "postal_code", "address", "lat", "lon", "phone", "hours",
               "access", "opening", "opening_as_of", "interpreter", "accessible", "notes",
               "languages", "services", "province", "source", "verified")
SEED_OPTIONAL_FIELDS = ("notification_chat_id", "slot_minutes", "capacity_per_slot", "active")

# Sends the partner's held referral cards to its Telegram group, if it has one (with
# `new_group`, also the cards that failed for want of a working chat), in the caller's
# transaction; how many cards were released. (partner, new_group) -> count.
ReleaseCards = Callable[[Partner, bool], Awaitable[int]]


def _base_language(code: str) -> str:
    """'pt_BR', 'pt-br', 'PT' → 'pt'."""
    return code.replace("_", "-").split("-", 1)[0].lower()


def _resolve_location(postal_code: str, lat: float | None,
                      lon: float | None) -> tuple[float, float, str | None]:
    """(lat, lon, province) of a partner: its own point, else the postcode's centroid."""
    place = geo.place_by_postcode(postal_code)
    if place is None:
        raise Invalid("unknown_postcode")
    if lat is None or lon is None:
        return place.lat, place.lon, place.province
    if not geo.in_belgium(lat, lon):
        raise Invalid("outside_belgium")
    return lat, lon, place.province


class PartnerService:
    def __init__(self, session: AsyncSession, settings: Settings, clock: Clock) -> None:
        self.session = session
        self.settings = settings
        self.clock = clock

    # --- lookups --------------------------------------------------------------------------

    async def get(self, partner_id: str, *, active_only: bool = True) -> Partner:
        partner = await self.session.get(Partner, partner_id)
        if partner is None or (active_only and not partner.active):
            raise NotFound()
        return partner

    async def public(self, partner_id: str) -> PartnerPublic:
        return PartnerPublic.model_validate(await self.get(partner_id))

    async def nearest(self, *, lat: float | None = None, lon: float | None = None,
                      postcode: str | None = None, city: str | None = None,
                      service: str | None = None, language: str | None = None,
                      limit: int = 5) -> NearestPartners:
        """Active partners by distance; those offering `service`, then those speaking
        `language`, first when given. The location given is neither stored nor logged."""
        partners = list(await self.session.scalars(select(Partner).where(Partner.active)))
        origin = self._origin(lat, lon, postcode, city, partners)
        wanted_language = _base_language(language) if language else None

        def rank(item: tuple[Partner, float]) -> tuple[bool, bool, float, int, str]:
            partner, distance = item
            no_service = service is not None and service not in partner.services
            no_language = wanted_language is not None and wanted_language not in {
                _base_language(code) for code in partner.languages
            }
            return (no_service, no_language, distance, KIND_ORDER.get(partner.kind, 9),
                    partner.id)

        ranked = sorted(
            ((p, geo.haversine_km(origin.lat, origin.lon, p.lat, p.lon)) for p in partners),
            key=rank,
        )[:limit]
        return NearestPartners(
            origin=Origin(label=origin.label, province=origin.province),
            partners=[
                PartnerNearby(**PartnerPublic.model_validate(p).model_dump(),
                              distance_km=round(distance, 1))
                for p, distance in ranked
            ],
        )

    @staticmethod
    def _origin(lat: float | None, lon: float | None, postcode: str | None, city: str | None,
                partners: Iterable[Partner]) -> geo.Place:
        if lat is not None or lon is not None:
            if lat is None or lon is None:
                raise Invalid("missing_location")
            if not geo.in_belgium(lat, lon):
                raise Invalid("outside_belgium")
            return geo.nearest_locality(lat, lon)
        if postcode:
            place = geo.place_by_postcode(postcode)
            if place is None:
                raise Invalid("unknown_postcode")
            return place
        if city:
            place = geo.place_by_city(city, known=[(p.city, p.postal_code) for p in partners])
            if place is None:
                raise Invalid("unknown_city")
            return place
        raise Invalid("missing_location")

    async def cities(self) -> list[CityPartners]:
        rows = await self.session.execute(
            select(Partner.city, Partner.postal_code, func.count())
            .where(Partner.active)
            .group_by(Partner.city, Partner.postal_code)
            .order_by(Partner.city, Partner.postal_code)
        )
        return [CityPartners(city=city, postal_code=code, count=count)
                for city, code, count in rows]

    async def slots(self, partner_id: str, days: int) -> SlotList:
        partner = await self.get(partner_id)
        now = self.clock()
        slots = await free_slots(
            self.session, partner,
            first=now + timedelta(hours=self.settings.slot_lead_hours),
            last=now + timedelta(days=days),
            limit=self.settings.slot_list_limit,
        )
        return SlotList(slots=[to_local(s) for s in slots])

    # --- admin ----------------------------------------------------------------------------

    async def create(self, data: PartnerCreate) -> PartnerAdmin:
        if await self.session.get(Partner, data.id) is not None:
            raise Conflict("partner_exists")
        lat, lon, province = _resolve_location(data.postal_code, data.lat, data.lon)
        now = self.clock()
        partner = Partner(**data.model_dump(exclude={"lat", "lon"}), lat=lat, lon=lon,
                          province=province, created_at=now, updated_at=now)
        self.session.add(partner)
        try:
            await self.session.commit()
        except IntegrityError:
            await self.session.rollback()
            raise Conflict("partner_exists") from None
        return PartnerAdmin.model_validate(partner)

    async def update(self, partner_id: str, data: PartnerUpdate,
                     release: ReleaseCards) -> PartnerAdmin:
        partner, _ = await self.update_releasing(partner_id, data, release)
        return PartnerAdmin.model_validate(partner)

    async def update_releasing(self, partner_id: str, data: PartnerUpdate,
                               release: ReleaseCards, *,
                               resend_failed: bool = False) -> tuple[Partner, int]:
        """Change the fields sent; commits. With a Telegram group after the change, the
        partner's held referral cards are released to it (`release`) in the same transaction
        (also when the group did not change: a card held by a booking that raced the change
        goes out at the next save); cards that failed for want of a working chat too when the
        group changed or with `resend_failed`. Returns the partner and how many cards were
        released."""
        partner = await self.get(partner_id, active_only=False)
        changes: dict[str, Any] = data.model_dump(exclude_unset=True)
        if {"postal_code", "lat", "lon"} & changes.keys():
            postal_code = changes.get("postal_code", partner.postal_code)
            if "lat" in changes:
                lat, lon = changes["lat"], changes["lon"]
            elif "postal_code" in changes:
                lat = lon = None  # moved: the new postcode's centroid
            else:
                lat, lon = partner.lat, partner.lon
            changes["lat"], changes["lon"], changes["province"] = _resolve_location(
                postal_code, lat, lon)
        old_group = partner.notification_chat_id
        for field, value in changes.items():
            setattr(partner, field, value)
        partner.updated_at = self.clock()
        released = await release(
            partner, resend_failed or partner.notification_chat_id != old_group)
        await self.session.commit()
        return partner, released

    async def deactivate(self, partner_id: str) -> PartnerAdmin:
        partner = await self.get(partner_id, active_only=False)
        partner.active = False
        partner.updated_at = self.clock()
        await self.session.commit()
        return PartnerAdmin.model_validate(partner)

    async def add_counsellor(self, partner_id: str,
                             telegram_user_id: int) -> tuple[CounsellorPublic, bool]:
        """Register a counsellor; (counsellor, created). Adding one twice changes nothing."""
        await self.get(partner_id, active_only=False)
        result = CounsellorPublic(partner_id=partner_id, telegram_user_id=telegram_user_id)
        if await self._counsellor(partner_id, telegram_user_id) is not None:
            return result, False
        self.session.add(PartnerCounsellor(partner_id=partner_id,
                                           telegram_user_id=telegram_user_id))
        try:
            await self.session.commit()
        except IntegrityError:  # added concurrently
            await self.session.rollback()
            return result, False
        return result, True

    async def remove_counsellor(self, partner_id: str, telegram_user_id: int) -> None:
        counsellor = await self._counsellor(partner_id, telegram_user_id)
        if counsellor is None:
            raise NotFound()
        await self.session.delete(counsellor)
        await self.session.commit()

    async def _counsellor(self, partner_id: str,
                          telegram_user_id: int) -> PartnerCounsellor | None:
        result = await self.session.scalars(
            select(PartnerCounsellor).where(PartnerCounsellor.partner_id == partner_id,
                                            PartnerCounsellor.telegram_user_id == telegram_user_id)
        )
        return result.first()

    async def set_availability(self, partner_id: str,
                               windows: list[AvailabilityWindow]) -> list[AvailabilityWindow]:
        """Replace the partner's weekly windows (Europe/Brussels local times)."""
        partner = await self.get(partner_id, active_only=False)
        await self.session.execute(
            delete(PartnerAvailability).where(PartnerAvailability.partner_id == partner_id)
        )
        ordered = sorted(windows, key=lambda w: (w.weekday, w.start, w.end))
        self.session.add_all(
            PartnerAvailability(partner_id=partner_id, weekday=w.weekday, start=w.start,
                                end=w.end)
            for w in ordered
        )
        partner.updated_at = self.clock()
        await self.session.commit()
        return ordered

    # --- seed -----------------------------------------------------------------------------

    async def seed(self, records: Iterable[Mapping[str, Any]],
                   release: ReleaseCards | None = None) -> SeedResult:
        """Upsert partners by id from seed records (the `partners:` list of partners.yaml).

        Fields the file does not give keep their current value (notification chat, slot
        length, capacity, active); `languages` absent means unknown (empty). A partner without
        weekly windows gets DEFAULT_WINDOWS. An existing partner given a (new) Telegram group
        gets its held referral cards (`release`, when given). One transaction for the whole
        file.
        """
        parsed = [PartnerCreate.model_validate(record) for record in records]
        ids = {data.id for data in parsed}
        partners = {p.id: p for p in await self.session.scalars(
            select(Partner).where(Partner.id.in_(ids)))}
        with_windows = set(await self.session.scalars(
            select(PartnerAvailability.partner_id).distinct()
            .where(PartnerAvailability.partner_id.in_(ids))))
        created = updated = unchanged = 0
        now = self.clock()
        windows: list[PartnerAvailability] = []
        new_groups: list[Partner] = []  # existing partners given a (new) Telegram group
        for data in parsed:
            try:
                lat, lon, province = _resolve_location(data.postal_code, data.lat, data.lon)
            except Invalid as exc:
                raise Invalid(exc.code, partner_id=data.id) from None
            values: dict[str, Any] = {
                **data.model_dump(include=set(SEED_FIELDS)),
                "lat": lat, "lon": lon, "province": province,
            }
            given = set(SEED_OPTIONAL_FIELDS) & data.model_fields_set
            values.update(data.model_dump(include=given))
            partner = partners.get(data.id)
            if partner is None:
                defaults = data.model_dump(include=set(SEED_OPTIONAL_FIELDS))
                partner = Partner(id=data.id, created_at=now, updated_at=now,
                                  **{**defaults, **values})
                self.session.add(partner)
                partners[data.id] = partner
                created += 1
            elif any(getattr(partner, field) != value for field, value in values.items()):
                if values.get("notification_chat_id", partner.notification_chat_id) not in (
                        None, partner.notification_chat_id):
                    new_groups.append(partner)
                for field, value in values.items():
                    setattr(partner, field, value)
                partner.updated_at = now
                updated += 1
            else:
                unchanged += 1
            if data.id not in with_windows:
                with_windows.add(data.id)
                windows.extend(
                    PartnerAvailability(partner_id=data.id, weekday=w.weekday, start=w.start,
                                        end=w.end)
                    for w in DEFAULT_WINDOWS
                )
        await self.session.flush()  # the partners first: the windows refer to them
        self.session.add_all(windows)
        if release is not None:
            for partner in new_groups:
                await release(partner, True)
        await self.session.commit()
        return SeedResult(created=created, updated=updated, unchanged=unchanged)

