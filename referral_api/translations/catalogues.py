"""Write the reviews back into the catalogues (``python -m referral_api translations import``,
``make i18n-import-reviews``): each reviewed entry gets the approved or corrected text and a
translator comment ``reviewed: <name> <date>``, which ``make i18n-report`` counts. The team
commits the catalogues; the bot shows the change once they are compiled.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from babel.messages.pofile import read_po
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.catalogue_rules import REVIEWED, translation_source, write_catalogue
from referral_api.staff.models import StaffAccount
from referral_api.translations.models import TranslationReview


@dataclass
class Imported:
    updated: int = 0
    unchanged: int = 0
    unknown: int = 0  # reviews of a string the catalogue no longer has
    stale: int = 0  # approvals of a text the catalogue has changed since: not applied


def reviewer_name(account: StaffAccount) -> str:
    """What the catalogue says of the reviewer: their display name, else their role and id
    (never the e-mail address)."""
    return (account.display_name or f"{account.role} #{account.id}").replace("\n", " ").strip()


async def import_reviews(sessionmaker: async_sessionmaker[AsyncSession],
                         locales_dir: Path) -> dict[str, Imported]:
    async with sessionmaker() as session:
        rows = (await session.execute(
            select(TranslationReview, StaffAccount)
            .join(StaffAccount, StaffAccount.id == TranslationReview.account_id)
            .order_by(TranslationReview.locale, TranslationReview.id))).all()
    by_locale: dict[str, list[tuple[TranslationReview, StaffAccount]]] = {}
    for review, account in rows:
        by_locale.setdefault(review.locale, []).append((review, account))
    results: dict[str, Imported] = {}
    for locale, reviews in by_locale.items():
        path = locales_dir / locale / "LC_MESSAGES" / "messages.po"
        if not path.exists():
            continue
        results[locale] = write_reviews(path, reviews)
    return results


def write_reviews(path: Path, reviews: list[tuple[TranslationReview, StaffAccount]]) -> Imported:
    source = translation_source(path) or "machine"
    with path.open("rb") as handle:
        catalog = read_po(handle)
    result = Imported()
    for review, account in reviews:
        message = catalog.get(review.msgid)
        if message is None:
            result.unknown += 1
            continue
        if review.verdict == "approved" and message.string != review.text:
            result.stale += 1  # approved what the catalogue said then: a newer fix stays
            continue
        stamp = f"reviewed: {reviewer_name(account)} {review.at.date().isoformat()}"
        comments = [c for c in message.user_comments if not REVIEWED.match(c)] + [stamp]
        if message.string == review.text and message.user_comments == comments:
            result.unchanged += 1
            continue
        message.string = review.text
        message.user_comments = comments
        message.flags.discard("fuzzy")
        result.updated += 1
    write_catalogue(path, catalog, source)
    return result
