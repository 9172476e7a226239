"""Types shared by the domains' schema modules (pydantic only, like them: the bot imports
these through the API's schemas).

Text that is stored or shown (issue 17, item 5) carries one of two markers: `OneLine` (no
control character at all: names, addresses, codes) or `Lines` (line breaks and tabs allowed:
notes, messages). NUL is also refused for every request at the door (web/strict.py).
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, Field

_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_CONTROLS_BUT_LINES = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def no_controls(value: str) -> str:
    """One line of text: a control character (a line break included) is refused."""
    if _CONTROLS.search(value):
        raise ValueError("control characters are not allowed")
    return value


def no_controls_but_lines(value: str) -> str:
    """Text of several lines: line breaks and tabs are kept, other controls refused."""
    if _CONTROLS_BUT_LINES.search(value):
        raise ValueError("control characters are not allowed")
    return value


OneLine = AfterValidator(no_controls)
Lines = AfterValidator(no_controls_but_lines)

# A chat id: Telegram's (at most 52 significant bits) or the web chat's (2^52 … 2^53 - 1,
# bot.channels); strict: JSON `false` or `1.0` is not a chat id (it was taken for 0).
ChatId = Annotated[int, Field(strict=True, ge=-(2**53 - 1), le=2**53 - 1)]
