"""Partners for the bot: nearest search, cities, one partner, free slots."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from referral_api.partners.schemas import SeedResult
from tests.referral_api.factories import BRUSSELS, book, future_slot, make_partner, parse_time

pytestmark = pytest.mark.usefixtures("seeded")


async def nearest(client: httpx.AsyncClient, **params: object) -> httpx.Response:
    return await client.post("/v1/partners/nearest", json=params)


def ids(response: httpx.Response) -> list[str]:
    return [p["id"] for p in response.json()["partners"]]


async def test_by_postcode_9000_the_ghent_desk_comes_first(client: httpx.AsyncClient) -> None:
    response = await nearest(client, postcode="9000")
    assert response.status_code == 200
    body = response.json()
    assert body["origin"] == {"label": "Gent", "province": "VOV"}
    assert ids(response)[:2] == ["fedasil-gent", "gent-stad"]  # same place: the desk first
    assert len(body["partners"]) == 5  # the default limit
    first = body["partners"][0]
    assert first["distance_km"] == 0.0
    assert first["province"] == "VOV"
    assert first["kind"] == "return_desk"
    assert "notification_chat_id" not in first
    distances = [p["distance_km"] for p in body["partners"]]
    assert distances == sorted(distances)


@pytest.mark.parametrize("postcode", ["B-9000", " 9000 ", "BE9000"])
async def test_postcode_spellings(client: httpx.AsyncClient, postcode: str) -> None:
    assert ids(await nearest(client, postcode=postcode, limit=1)) == ["fedasil-gent"]


async def test_by_lat_lon_in_brussels(client: httpx.AsyncClient) -> None:
    response = await nearest(client, lat=50.8466, lon=4.3528, limit=4)  # Grand-Place
    assert response.status_code == 200
    body = response.json()
    assert body["origin"]["province"] == "BRU"
    assert body["origin"]["label"] == "Bruxelles"  # a coarse label, not the point
    assert set(ids(response)[:2]) == {"fedasil-brussels", "caritas-international"}
    assert ids(response)[0] == "fedasil-brussels"  # same centroid: the return desk first
    assert all(p["province"] == "BRU" for p in body["partners"])


async def test_service_filter_prefers_partners_offering_it(client: httpx.AsyncClient) -> None:
    from_brussels = await nearest(client, postcode="1000", service="shelter")
    assert ids(from_brussels)[0] == "gent-stad"  # the only one with shelter, 45 km away
    assert ids(from_brussels)[1] == "fedasil-brussels"  # then by distance

    trafficking = await nearest(client, postcode="9000", service="trafficking", limit=3)
    offering = {"fedasil-brussels", "iom-belgium"}
    assert set(ids(trafficking)[:2]) == offering
    assert ids(trafficking)[2] not in offering

    unknown = await nearest(client, postcode="9000", service="haircut")
    assert unknown.status_code == 422


async def test_language_filter_prefers_partners_speaking_it(
        client: httpx.AsyncClient, admin: httpx.AsyncClient) -> None:
    updated = await admin.put("/v1/admin/partners/eupen-rotes-kreuz", json={"languages": ["de"]})
    assert updated.status_code == 200
    response = await nearest(client, postcode="9000", language="de-BE", limit=2)
    assert ids(response) == ["eupen-rotes-kreuz", "fedasil-gent"]


async def test_by_city(client: httpx.AsyncClient) -> None:
    for city, first in [("Gent", "fedasil-gent"), ("ghent", "fedasil-gent"),
                        ("Liège", "fedasil-liege"), ("LIEGE", "fedasil-liege"),
                        ("Brussel", "fedasil-brussels"), ("Bruxelles", "fedasil-brussels"),
                        ("Oostende", "oostende-stad")]:
        response = await nearest(client, city=city, limit=1)
        assert response.status_code == 200, city
        assert ids(response) == [first], city


@pytest.mark.parametrize(("params", "code"), [
    ({"lat": 48.8566, "lon": 2.3522}, "outside_belgium"),  # Paris
    ({"lat": 52.37, "lon": 4.89}, "outside_belgium"),  # Amsterdam
    ({"lat": 50.85}, "missing_location"),
    ({}, "missing_location"),
    ({"postcode": "9999"}, "unknown_postcode"),
    ({"postcode": "75001"}, "unknown_postcode"),
    ({"postcode": "abcd"}, "unknown_postcode"),
    ({"city": "Atlantis"}, "unknown_city"),
])
async def test_unusable_locations_are_422(client: httpx.AsyncClient, params: dict[str, object],
                                          code: str) -> None:
    response = await nearest(client, **params)
    assert response.status_code == 422
    assert response.json() == {"detail": {"code": code}}


async def test_inactive_partners_never_appear(client: httpx.AsyncClient,
                                              admin: httpx.AsyncClient) -> None:
    assert (await admin.delete("/v1/admin/partners/fedasil-gent")).status_code == 200
    found = ids(await nearest(client, postcode="9000", limit=50))
    assert "fedasil-gent" not in found
    assert found[0] == "gent-stad"
    assert (await client.get("/v1/partners/fedasil-gent")).status_code == 404
    assert (await client.get("/v1/partners/fedasil-gent/slots")).status_code == 404
    cities = (await client.get("/v1/partners/cities")).json()
    assert {"city": "Gent", "postal_code": "9000", "count": 1} in cities


async def test_limit(client: httpx.AsyncClient, seeded: SeedResult) -> None:
    assert len(ids(await nearest(client, postcode="9000", limit=1))) == 1
    assert len(ids(await nearest(client, postcode="9000", limit=50))) == seeded.created
    assert (await nearest(client, postcode="9000", limit=0)).status_code == 422


async def test_cities(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/partners/cities")
    assert response.status_code == 200
    cities = response.json()
    assert {"city": "Gent", "postal_code": "9000", "count": 2} in cities
    assert {"city": "Brussel / Bruxelles", "postal_code": "1000", "count": 2} in cities
    assert {"city": "Brussel / Bruxelles", "postal_code": "1040", "count": 1} in cities
    assert sum(c["count"] for c in cities) == 14


async def test_one_partner(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/partners/oostende-stad")
    assert response.status_code == 200
    partner = response.json()
    assert partner["name"] == "Stad Oostende, Onthaal Welzijn"
    assert partner["phone"] == "059 59 21 21"
    assert partner["languages"] == []
    assert partner["province"] == "VWV"
    assert partner["verified"] is False
    missing = await client.get("/v1/partners/no-such-partner")
    assert missing.status_code == 404
    assert missing.json() == {"detail": {"code": "not_found"}}


async def test_slots_are_free_bookable_and_in_brussels_time(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/partners/fedasil-gent/slots")
    assert response.status_code == 200
    slots = response.json()["slots"]
    assert len(slots) == 12
    earliest = datetime.now(UTC) + timedelta(hours=2)
    previous = None
    for text in slots:
        local = datetime.fromisoformat(text)
        assert local.utcoffset() == local.astimezone(BRUSSELS).utcoffset()  # +01:00 / +02:00
        brussels = local.astimezone(BRUSSELS)
        assert brussels.weekday() < 5
        assert brussels.minute in (0, 30)
        assert 9 <= brussels.hour < 12 or 13 <= brussels.hour < 16
        assert parse_time(text) >= earliest - timedelta(seconds=5)
        assert previous is None or parse_time(text) > previous
        previous = parse_time(text)


async def test_a_full_slot_is_not_offered(client: httpx.AsyncClient,
                                          admin: httpx.AsyncClient) -> None:
    await make_partner(admin)
    slot = future_slot()
    before = (await client.get("/v1/partners/test-desk/slots", params={"days": 30})).json()
    await book(client, contact_mode="visit", slot_start=slot)
    after = (await client.get("/v1/partners/test-desk/slots", params={"days": 30})).json()
    assert parse_time(slot) not in {parse_time(s) for s in after["slots"]}
    assert len(after["slots"]) == len(before["slots"]) == 12


async def test_slots_days_window(client: httpx.AsyncClient, admin: httpx.AsyncClient) -> None:
    await make_partner(admin, availability=[{"weekday": day, "start": "10:00", "end": "11:00"}
                                            for day in range(7)])
    one_day = (await client.get("/v1/partners/test-desk/slots", params={"days": 1})).json()
    latest = datetime.now(UTC) + timedelta(days=1)
    assert all(parse_time(s) <= latest for s in one_day["slots"])
    assert len(one_day["slots"]) <= 4
    assert (await client.get("/v1/partners/test-desk/slots",
                             params={"days": 0})).status_code == 422
    assert (await client.get("/v1/partners/test-desk/slots",
                             params={"days": 61})).status_code == 422


async def test_a_partner_without_hours_has_no_slots(client: httpx.AsyncClient,
                                                    admin: httpx.AsyncClient) -> None:
    await make_partner(admin, availability=[])
    response = await client.get("/v1/partners/test-desk/slots")
    assert response.json() == {"slots": []}
