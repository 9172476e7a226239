"""The closed, documented list of signal events and of the values each may carry.

Nothing outside these lists can be stored: no free text, no ids, no names (docs/signals.md).
"""

from __future__ import annotations

from typing import Final

# Funnel stages, in order. A journey's stage is the furthest one reached.
STAGES: Final = ("started", "informed", "booking_started", "booked", "contacted")

TOPICS: Final = ("return_info", "support", "steps", "tailored", "faq", "contact", "screening")
OBSTACLES: Final = (
    "no_money", "no_documents", "debts", "afraid_home", "health", "family_belgium",
    "children_school", "no_trust", "stay_belgium", "other",
)
SCREENING_FLAGS: Final = ("minor", "trafficking", "medical", "pregnant", "children", "older_65")
CONTACT_MODES: Final = ("telegram", "phone", "visit")
# Belgian provinces and Brussels, as the postcode dataset codes them (referral_api.geo).
PROVINCES: Final = ("BRU", "VAN", "VBR", "VLI", "VOV", "VWV", "WBR", "WHT", "WLG", "WLX", "WNA")
FOLLOWUP_VALUES: Final = ("answered", "declined")

# event type -> (allowed values; None = the event carries no value, funnel stage reached or None)
EVENTS: Final[dict[str, tuple[tuple[str, ...] | None, str | None]]] = {
    "conversation_started": (None, "started"),
    "topic_viewed": (TOPICS, "informed"),
    "language_chosen": (None, None),
    "obstacle_named": (OBSTACLES, None),
    "screening_flag": (SCREENING_FLAGS, None),
    "booking_started": (None, "booking_started"),
    "booking_completed": (CONTACT_MODES, "booked"),
    "referral_accepted": (None, None),
    "referral_contacted": (None, "contacted"),
    "referral_closed": (None, None),
    "followup_answered": (FOLLOWUP_VALUES, None),
    "forget": (None, None),
}
# Events whose values are ranked in reports (each person counted once per value and month):
# event -> (the journey's bitmask column, its values; bit i = values[i]).
RANKED: Final[dict[str, tuple[str, tuple[str, ...]]]] = {
    "topic_viewed": ("topics", TOPICS),
    "obstacle_named": ("obstacles", OBSTACLES),
    "screening_flag": ("flags", SCREENING_FLAGS),
}


def bit_of(event: str, value: str | None) -> tuple[str, int] | None:
    """The journey column and bit of a ranked value, else None."""
    spec = RANKED.get(event)
    if spec is None or value not in spec[1]:
        return None
    return spec[0], 1 << spec[1].index(value)



def stage_rank(stage: str | None) -> int:
    """0 for no stage, 1 for `started` … 5 for `contacted`."""
    return STAGES.index(stage) + 1 if stage else 0


def validate(event: str, value: str | None) -> bool:
    spec = EVENTS.get(event)
    if spec is None:
        return False
    values = spec[0]
    if values is None:
        return value is None
    return value in values
