"""From the optional screening answers (choice ids) to referral flags and partner routing.

| answer (save_as = id)              | flag          | partner service preferred |
|------------------------------------|---------------|---------------------------|
| scr_minor = yes                    | minor         | minors                    |
| scr_safety = yes                   | trafficking   | trafficking               |
| scr_medical = yes or emergency     | medical       | medical                   |
| scr_pregnant = yes                 | pregnant      | medical                   |
| scr_children = yes                 | children      | families                  |
| scr_child_count = one/two/three_plus | children_1/children_2/children_3plus | — |
| scr_child_ages = under_6/age_6_12/age_13_17/mixed | children_under_6/… | — |
| scr_older = yes                    | older_65      | general                   |

The first row that applies decides the service (minors and trafficking before medical before
families). Skipped questions give nothing.
"""

from __future__ import annotations

from collections.abc import Mapping

from referral_api.signals.schemas import SCREENING_FLAGS

RULES: tuple[tuple[str, tuple[str, ...], str, str | None], ...] = (
    ("scr_minor", ("yes",), "minor", "minors"),
    ("scr_safety", ("yes",), "trafficking", "trafficking"),
    ("scr_medical", ("yes", "emergency"), "medical", "medical"),
    ("scr_pregnant", ("yes",), "pregnant", "medical"),
    ("scr_children", ("yes",), "children", "families"),
    ("scr_older", ("yes",), "older_65", None),
)
DETAIL = {
    "scr_child_count": {"one": "children_1", "two": "children_2",
                        "three_plus": "children_3plus"},
    "scr_child_ages": {"under_6": "children_under_6", "age_6_12": "children_6_12",
                       "age_13_17": "children_13_17", "mixed": "children_mixed_ages"},
}
# Flags that are health data (GDPR art. 9) or as sensitive; all of ours are treated alike.
# They are the main flags (not the details), counted as `screening_flag` signals: the API's
# closed list. tests/contract checks that every RULES flag is in it.
SENSITIVE = frozenset(SCREENING_FLAGS)


def flags_from(answers: Mapping[str, str]) -> list[str]:
    flags = [flag for key, values, flag, _ in RULES if answers.get(key) in values]
    if "children" in flags:
        for key, mapping in DETAIL.items():
            if answers.get(key) in mapping:
                flags.append(mapping[answers[key]])
    return flags


def service_for(answers: Mapping[str, str]) -> str | None:
    for key, values, _flag, service in RULES:
        if answers.get(key) in values and service:
            return service
    return None
