import shutil
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from bot.catalogue_rules import write_catalogue
from bot.i18n import FSI, PDI, isolate, native_name, negotiate, normalise
from bot.i18n_check import check_language, read, read_allowlist, read_glossary
from bot.settings import DEFAULT_LOCALES_DIR

AVAILABLE = ["nl", "fr", "en", "pt_BR", "ar"]


@pytest.mark.parametrize(("preferred", "hint", "expected"), [
    ("fr", "nl", "fr"),          # an explicit choice beats the app
    (None, "nl", "nl"),
    (None, "nl-BE", "nl"),       # regional variant of a shipped language
    (None, "pt-br", "pt_BR"),    # Telegram's spelling of a regional code
    (None, "pt", "pt_BR"),       # base language of a regional catalogue
    (None, "sw", "en"),          # not shipped: the default
    (None, None, "en"),
    ("xx", None, "en"),          # a stored choice we no longer ship
])
def test_negotiate(preferred: str | None, hint: str | None, expected: str) -> None:
    assert negotiate(preferred, hint, AVAILABLE, "en") == expected


def test_normalise() -> None:
    assert normalise("PT-br") == "pt_BR"
    assert normalise("") is None


def test_isolates_only_in_right_to_left_languages() -> None:
    assert isolate("0800 327 45", "ar") == f"{FSI}0800 327 45{PDI}"
    assert isolate("0800 327 45", "fr") == "0800 327 45"


def test_native_names() -> None:
    assert native_name("nl") == "Nederlands"
    assert native_name("fr") == "Français"
    assert native_name("ka") == "ქართული"  # no capital letters in Georgian


def test_the_new_languages_have_their_own_names_in_the_picker() -> None:
    assert [native_name(c) for c in ("fa_AF", "kmr", "ff", "sr_Latn", "zh_Hans", "ti", "ln")] \
        == ["دری", "Kurdî (Kurmancî)", "Pular", "Srpski", "简体中文", "ትግርኛ", "Lingála"]


def test_the_glossary_flags_another_word_for_a_programme_term(tmp_path: Path) -> None:
    """Dutch says "mensenhandel" for trafficking: a catalogue that says "smokkel" (smuggling)
    in a string about trafficking fails the check; reviewed entries are counted."""
    locales = tmp_path / "locales"
    shutil.copytree(DEFAULT_LOCALES_DIR / "nl", locales / "nl")
    shutil.copy(DEFAULT_LOCALES_DIR / "glossary.yaml", locales / "glossary.yaml")
    po = locales / "nl" / "LC_MESSAGES" / "messages.po"
    template = read(DEFAULT_LOCALES_DIR / "messages.pot")
    allowed = read_allowlist(DEFAULT_LOCALES_DIR)
    coverage, problems = check_language(template, po, allowed, glossary=read_glossary(locales))
    assert problems == [] and coverage.reviewed == 0
    with po.open("rb") as handle:
        catalog = read_po(handle)
    msgid = next(m.id for m in catalog if m.id and "trafficking" in str(m.id)
                 and "mensenhandel" in str(m.string))
    entry = catalog.get(msgid)
    entry.string = str(entry.string).replace("mensenhandel", "smokkel")
    entry.user_comments = ["reviewed: Amina (mediator) 2026-12-05"]
    write_catalogue(po, catalog, "machine")
    coverage, problems = check_language(template, po, allowed, glossary=read_glossary(locales))
    assert problems == [f"nl: 'trafficking' is not said with the glossary's word "
                        f"(mensenhandel) in {msgid[:60]!r}"]
    assert coverage.reviewed == 1
