import pytest

from bot.i18n import FSI, PDI, isolate, native_name, negotiate, normalise

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
