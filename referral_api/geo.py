"""Places in Belgium: postcodes, cities, distances.

Postcodes come from the PyPI package `countrystatecity_postal_codes` (centroid, locality name and
province code of each Belgian postcode). Nothing is loaded at import time; the postcode list is
read once, on first use.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache

from countrystatecity_postal_codes import get_postcode_by_code, get_postcodes_of_country

COUNTRY = "BE"
# Belgium's bounding box (generous by a few km on every side).
LAT_MIN, LAT_MAX = 49.4, 51.6
LON_MIN, LON_MAX = 2.5, 6.5
EARTH_RADIUS_KM = 6371.0088

_POSTCODE = re.compile(r"^(?:B(?:E)?[-\s]?)?(\d{4})$")

# Names people type that are not the dataset's locality name of the main postcode
# (exonyms and the other language of bilingual cities), folded as by `fold()`.
CITY_ALIASES: dict[str, str] = {
    "brussels": "1000", "brussel": "1000", "bruxelles": "1000", "brussel / bruxelles": "1000",
    "bruessel": "1000", "ghent": "9000", "gand": "9000", "antwerp": "2000", "anvers": "2000",
    "liege": "4000", "luik": "4000", "luttich": "4000", "namur": "5000", "namen": "5000",
    "bruges": "8000", "ostend": "8400", "ostende": "8400", "louvain": "3000", "bergen": "7000",
    "malines": "2800", "courtrai": "8500", "doornik": "7500",
}


@dataclass(frozen=True, slots=True)
class Place:
    label: str  # a locality name, never the exact point someone gave
    province: str | None  # state code of the postcode dataset, e.g. BRU, VOV
    lat: float
    lon: float
    postal_code: str | None = None


def in_belgium(lat: float, lon: float) -> bool:
    return LAT_MIN <= lat <= LAT_MAX and LON_MIN <= lon <= LON_MAX


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi = phi2 - phi1
    dlambda = math.radians(lon2 - lon1)
    a = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlambda / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


def normalize_postcode(text: str) -> str | None:
    """'9000', ' 9000 ', 'B-9000', 'BE9000' → '9000'; anything else → None."""
    match = _POSTCODE.match(text.strip().upper())
    return match.group(1) if match else None


def place_by_postcode(text: str) -> Place | None:
    code = normalize_postcode(text)
    if code is None:
        return None
    found = get_postcode_by_code(COUNTRY, code)
    if found is None or found.latitude is None or found.longitude is None:
        return None
    return Place(label=found.localityName or code, province=found.stateCode,
                 lat=found.latitude, lon=found.longitude, postal_code=code)


def province_of_postcode(text: str) -> str | None:
    place = place_by_postcode(text)
    return place.province if place else None


def fold(text: str) -> str:
    """Case- and accent-insensitive form of a name: 'Liège ' → 'liege'."""
    decomposed = unicodedata.normalize("NFKD", text.strip().casefold())
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return re.sub(r"\s+", " ", stripped)


@dataclass(frozen=True, slots=True)
class _Locality:
    name: str
    code: str
    province: str | None
    lat: float
    lon: float


@cache
def _localities() -> tuple[_Locality, ...]:
    return tuple(
        _Locality(p.localityName or p.code, p.code, p.stateCode, p.latitude, p.longitude)
        for p in get_postcodes_of_country(COUNTRY)
        if p.latitude is not None and p.longitude is not None
    )


def place_by_city(name: str, known: Iterable[tuple[str, str]] = ()) -> Place | None:
    """A city by name: a locality of the dataset, a known alias, or one of `known`
    (`(city, postal_code)` pairs, e.g. the partners' own city names such as
    "Brussel / Bruxelles"; each side of a "/" counts as a name)."""
    wanted = fold(name)
    if not wanted:
        return None
    for locality in _localities():  # lowest postcode first: the main one of a city
        if fold(locality.name) == wanted:
            return Place(locality.name, locality.province, locality.lat, locality.lon,
                         locality.code)
    code = CITY_ALIASES.get(wanted)
    if code is None:
        for city, postal_code in known:
            names = {fold(city), *(fold(part) for part in city.split("/"))}
            if wanted in names:
                code = postal_code
                break
    if code is None:
        return None
    place = place_by_postcode(code)
    if place is None:
        return None
    return Place(name.strip(), place.province, place.lat, place.lon, code)


def nearest_locality(lat: float, lon: float) -> Place:
    """The postcode centroid nearest to a point: a coarse label and the province."""
    best = min(_localities(), key=lambda loc: haversine_km(lat, lon, loc.lat, loc.lon))
    return Place(best.name, best.province, best.lat, best.lon, best.code)
