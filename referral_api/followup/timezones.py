"""The time zone of a country of return, from the country (never from a phone number).

Source: the IANA tz database's country table `zone.tab` (the system's /usr/share/zoneinfo,
else the `tzdata` package). A country with one zone gets it. For a country with several zones,
`PREFERRED` names the zone of its capital / most populous region; any other multi-zone country
gets the first zone `zone.tab` lists for it. `EXTRA` names the zone of codes `zone.tab` has no
row for (Kosovo, XK: a common country of return). Unknown codes fall back to UTC.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

SYSTEM_ZONE_TAB = Path("/usr/share/zoneinfo/zone.tab")
PREFERRED = {
    "AR": "America/Argentina/Buenos_Aires", "AU": "Australia/Sydney", "BR": "America/Sao_Paulo",
    "CA": "America/Toronto", "CD": "Africa/Kinshasa", "CL": "America/Santiago",
    "CN": "Asia/Shanghai", "EC": "America/Guayaquil", "ES": "Europe/Madrid",
    "ID": "Asia/Jakarta", "KZ": "Asia/Almaty", "MN": "Asia/Ulaanbaatar",
    "MX": "America/Mexico_City", "PT": "Europe/Lisbon", "RU": "Europe/Moscow",
    "UA": "Europe/Kyiv", "US": "America/New_York", "UZ": "Asia/Tashkent",
}

EXTRA = {"XK": "Europe/Belgrade"}  # used even when zone.tab has no row for the code


def _zone_tab_text() -> str:
    if SYSTEM_ZONE_TAB.exists():
        return SYSTEM_ZONE_TAB.read_text(encoding="utf-8")
    return resources.files("tzdata").joinpath("zoneinfo", "zone.tab").read_text(encoding="utf-8")


@lru_cache(maxsize=1)
def country_zones() -> dict[str, tuple[str, ...]]:
    zones: dict[str, list[str]] = {}
    for line in _zone_tab_text().splitlines():
        if not line or line.startswith("#"):
            continue
        fields = line.split("\t")
        if len(fields) >= 3:
            zones.setdefault(fields[0], []).append(fields[2])
    return {code: tuple(names) for code, names in zones.items()}


@lru_cache(maxsize=512)
def country_timezone(country: str) -> ZoneInfo:
    code = country.upper()
    if code in EXTRA:
        return ZoneInfo(EXTRA[code])
    zones = country_zones().get(code, ())
    name = PREFERRED.get(code) if PREFERRED.get(code) in zones else (zones[0] if zones else "UTC")
    try:
        return ZoneInfo(name or "UTC")
    except ZoneInfoNotFoundError:
        return ZoneInfo("UTC")
