"""Right-to-left languages: numbers, phone numbers, references and Latin names keep their order
(Unicode isolates), and the Back button sits on the right."""

from __future__ import annotations

import pytest

from bot.engine.flows import NodeRef
from bot.i18n import FSI, PDI
from tests.harness import Harness

RTL = ["ar", "fa", "fa_AF", "ps", "ckb"]


@pytest.mark.parametrize("locale", RTL)
async def test_phone_numbers_are_isolated(harness: Harness, locale: str) -> None:
    engine = harness.dp["engine"]
    screen = engine.render(NodeRef("contact", "phone"), locale, can_go_back=True)
    assert f"{FSI}0800 327 45{PDI}" in screen.text
    latin = engine.render(NodeRef("contact", "phone"), "fr", can_go_back=True)
    assert FSI not in latin.text


@pytest.mark.parametrize("locale", RTL)
async def test_back_is_on_the_right_and_points_right(harness: Harness, locale: str) -> None:
    engine = harness.dp["engine"]
    screen = engine.render(NodeRef("support", "journey"), locale, can_go_back=True)
    nav = screen.markup.inline_keyboard[-1]
    assert nav[-1].text.startswith("➡️")  # Back, read last from the left = first from right
    assert "back" in nav[-1].callback_data
    ltr = engine.render(NodeRef("support", "journey"), "nl", can_go_back=True)
    assert ltr.markup.inline_keyboard[-1][0].text.startswith("⬅️")
