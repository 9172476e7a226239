"""Admin endpoints: partners, counsellors, weekly availability."""

from __future__ import annotations

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from referral_api.partners.models import PartnerAvailability, PartnerCounsellor
from tests.referral_api.factories import make_partner

NEW_PARTNER = {"id": "leuven-ocmw", "name": "OCMW Leuven", "kind": "city_partner",
               "city": "Leuven", "postal_code": "3000"}


async def test_create_partner_fills_place_from_the_postcode(admin: httpx.AsyncClient,
                                                            client: httpx.AsyncClient) -> None:
    response = await admin.post("/v1/admin/partners", json=NEW_PARTNER)
    assert response.status_code == 201
    partner = response.json()
    assert partner["province"] == "VBR"
    assert (partner["lat"], partner["lon"]) == (50.8812533, 4.69299032)  # the centroid
    assert partner["services"] == ["general"]
    assert partner["languages"] == []
    assert partner["active"] is True
    assert partner["slot_minutes"] == 30
    assert partner["capacity_per_slot"] == 1
    assert partner["notification_chat_id"] is None
    public = await client.get("/v1/partners/leuven-ocmw")
    assert public.status_code == 200
    assert "notification_chat_id" not in public.json()


async def test_create_partner_errors(admin: httpx.AsyncClient) -> None:
    assert (await admin.post("/v1/admin/partners", json=NEW_PARTNER)).status_code == 201
    duplicate = await admin.post("/v1/admin/partners", json=NEW_PARTNER)
    assert duplicate.status_code == 409
    assert duplicate.json() == {"detail": {"code": "partner_exists"}}

    unknown = await admin.post("/v1/admin/partners",
                               json={**NEW_PARTNER, "id": "x", "postal_code": "9999"})
    assert unknown.status_code == 422
    assert unknown.json() == {"detail": {"code": "unknown_postcode"}}

    abroad = await admin.post("/v1/admin/partners",
                              json={**NEW_PARTNER, "id": "y", "lat": 48.85, "lon": 2.35})
    assert abroad.status_code == 422
    assert abroad.json() == {"detail": {"code": "outside_belgium"}}

    for bad in ({"id": "Not A Slug"}, {"kind": "shop"}, {"services": ["haircut"]},
                {"lat": 50.9}, {"capacity_per_slot": 0}, {"languages": ["not a code"]}):
        response = await admin.post("/v1/admin/partners", json={**NEW_PARTNER, "id": "z", **bad})
        assert response.status_code == 422, bad


async def test_update_partner(admin: httpx.AsyncClient) -> None:
    await admin.post("/v1/admin/partners", json=NEW_PARTNER)
    response = await admin.put("/v1/admin/partners/leuven-ocmw",
                               json={"notification_chat_id": -100777, "capacity_per_slot": 3,
                                     "languages": ["nl", "pt_BR"], "address": "Grote Markt 9"})
    assert response.status_code == 200
    partner = response.json()
    assert partner["notification_chat_id"] == -100777
    assert partner["capacity_per_slot"] == 3
    assert partner["languages"] == ["nl", "pt_BR"]
    assert partner["address"] == "Grote Markt 9"
    assert partner["name"] == "OCMW Leuven"  # untouched

    moved = (await admin.put("/v1/admin/partners/leuven-ocmw",
                             json={"postal_code": "9000", "city": "Gent"})).json()
    assert moved["province"] == "VOV"
    assert (moved["lat"], moved["lon"]) == (51.0397129, 3.7141549)

    cleared = (await admin.put("/v1/admin/partners/leuven-ocmw", json={"address": None})).json()
    assert cleared["address"] is None

    assert (await admin.put("/v1/admin/partners/leuven-ocmw",
                            json={"name": None})).status_code == 422
    assert (await admin.put("/v1/admin/partners/leuven-ocmw",
                            json={"colour": "red"})).status_code == 422
    assert (await admin.put("/v1/admin/partners/nobody", json={})).status_code == 404


async def test_deactivate_partner(admin: httpx.AsyncClient, client: httpx.AsyncClient) -> None:
    await admin.post("/v1/admin/partners", json=NEW_PARTNER)
    response = await admin.delete("/v1/admin/partners/leuven-ocmw")
    assert response.status_code == 200
    assert response.json()["active"] is False
    assert (await client.get("/v1/partners/leuven-ocmw")).status_code == 404
    assert (await admin.delete("/v1/admin/partners/nobody")).status_code == 404
    reactivated = await admin.put("/v1/admin/partners/leuven-ocmw", json={"active": True})
    assert reactivated.json()["active"] is True
    assert (await client.get("/v1/partners/leuven-ocmw")).status_code == 200


async def test_counsellors(admin: httpx.AsyncClient, session: AsyncSession) -> None:
    await admin.post("/v1/admin/partners", json=NEW_PARTNER)
    url = "/v1/admin/partners/leuven-ocmw/counsellors"
    first = await admin.post(url, json={"telegram_user_id": 42})
    assert first.status_code == 201
    assert first.json() == {"partner_id": "leuven-ocmw", "telegram_user_id": 42}
    again = await admin.post(url, json={"telegram_user_id": 42})
    assert again.status_code == 200  # idempotent
    assert await session.scalar(select(func.count()).select_from(PartnerCounsellor)) == 1

    assert (await admin.post(url, json={"telegram_user_id": 0})).status_code == 422
    assert (await admin.post("/v1/admin/partners/nobody/counsellors",
                             json={"telegram_user_id": 42})).status_code == 404

    assert (await admin.delete(f"{url}/42")).status_code == 204
    assert (await admin.delete(f"{url}/42")).status_code == 404
    assert await session.scalar(select(func.count()).select_from(PartnerCounsellor)) == 0


async def test_availability_is_replaced(admin: httpx.AsyncClient, client: httpx.AsyncClient,
                                        session: AsyncSession) -> None:
    await make_partner(admin)
    url = "/v1/admin/partners/test-desk/availability"
    response = await admin.put(url, json=[{"weekday": 5, "start": "10:00", "end": "11:00"},
                                          {"weekday": 2, "start": "14:00", "end": "15:00"}])
    assert response.status_code == 200
    assert response.json() == [{"weekday": 2, "start": "14:00:00", "end": "15:00:00"},
                               {"weekday": 5, "start": "10:00:00", "end": "11:00:00"}]
    assert await session.scalar(select(func.count()).select_from(PartnerAvailability)) == 2

    for bad in ([{"weekday": 7, "start": "10:00", "end": "11:00"}],
                [{"weekday": 1, "start": "11:00", "end": "10:00"}],
                [{"weekday": 1, "start": "10:00+02:00", "end": "11:00+02:00"}],
                {"weekday": 1}):
        assert (await admin.put(url, json=bad)).status_code == 422, bad
    assert (await admin.put("/v1/admin/partners/nobody/availability",
                            json=[])).status_code == 404

    assert (await admin.put(url, json=[])).status_code == 200
    assert (await client.get("/v1/partners/test-desk/slots")).json() == {"slots": []}
