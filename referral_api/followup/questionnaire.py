"""The follow-up questionnaire's stable vocabulary: question ids, answer ids, version.

The bot asks it as the flow `flows/followup.yaml`; its answers arrive as (question id, answer
id). Answer ids of "how did you hear" and of the decision factors are those of the pilot file
(../shared/data/followup_pilot_responses.csv), so that imported and bot answers are analysed
together. Two pilot ids are longer than a flow choice id may be (24 characters, the 64-byte
callback data); the flow uses a short id and `FLOW_TO_STORED` maps it explicitly.

Bump `VERSION` on any change that renames or removes an id; keep old ids readable.
"""

from __future__ import annotations

from dataclasses import dataclass

VERSION = 1

INFO_SOURCES = ("word_of_mouth", "reception_social_worker", "return_desk", "ngo_or_city_partner",
                "immigration_office", "website", "freephone", "other")
DECISION_FACTORS = ("negative_asylum_decision", "no_prospect_of_legal_stay",
                    "cannot_work_in_belgium", "living_conditions_in_belgium",
                    "family_reasons_at_home", "homesickness", "health", "debts_or_money",
                    "safety_improved_at_home", "other")
NO_OTHER_REASON = "no_other"  # second / third reason: "no other reason"
PREFER_NOT = "skip"  # "I prefer not to say" on every dimension question

# Flow choice id -> stored (pilot) id, where they differ.
FLOW_TO_STORED = {
    "no_legal_stay": "no_prospect_of_legal_stay",
    "living_conditions": "living_conditions_in_belgium",
}

INFO_QUESTION = "info_source"
REASON_QUESTIONS = ("reason_1", "reason_2", "reason_3")


@dataclass(frozen=True)
class DimensionQuestion:
    id: str
    dimension: str  # economic | social | psychosocial | support
    label: str  # English, for the coordinators' report
    answers: tuple[str, ...]  # in the order of the scale, best first where there is one


DIMENSIONS = ("economic", "social", "psychosocial", "support")
DIMENSION_QUESTIONS = (
    DimensionQuestion("income", "economic", "Regular income",
                      ("yes", "irregular", "no", PREFER_NOT)),
    DimensionQuestion("basic_needs", "economic", "Basic needs covered",
                      ("fully", "partly", "not", PREFER_NOT)),
    DimensionQuestion("housing", "social", "Housing",
                      ("good", "acceptable", "poor", "no_stable", PREFER_NOT)),
    DimensionQuestion("health_care", "social", "Access to health care",
                      ("yes", "with_difficulty", "no", PREFER_NOT)),
    DimensionQuestion("school", "social", "Children in school",
                      ("all", "some", "none", "no_children", PREFER_NOT)),
    DimensionQuestion("belonging", "psychosocial", "Feeling part of the community",
                      ("yes", "partly", "no", PREFER_NOT)),
    DimensionQuestion("remigrate", "psychosocial", "Wish to migrate again",
                      ("no", "not_sure", "yes", PREFER_NOT)),
    DimensionQuestion("satisfaction", "support", "Satisfaction with the support",
                      ("very_satisfied", "satisfied", "neutral", "dissatisfied",
                       "very_dissatisfied", PREFER_NOT)),
)
QUESTIONS = {q.id: q for q in DIMENSION_QUESTIONS}


class InvalidAnswers(ValueError):
    """Answers that do not fit the questionnaire; `code` names the first problem."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass(frozen=True)
class CleanAnswers:
    info_source: str | None
    decisions: tuple[str | None, str | None, str | None]
    dimensions: dict[str, str]


def stored(answer: str) -> str:
    return FLOW_TO_STORED.get(answer, answer)


def clean(answers: dict[str, str]) -> CleanAnswers:
    """Validate a completed questionnaire (question id -> answer id, flow or stored ids).
    Unknown questions or answers raise InvalidAnswers; reasons are ordered, without repeats,
    and stop at the first "no other reason"."""
    unknown = set(answers) - {INFO_QUESTION, *REASON_QUESTIONS, *QUESTIONS}
    if unknown:
        raise InvalidAnswers("unknown_question")
    info = answers.get(INFO_QUESTION)
    if info is not None and stored(info) not in INFO_SOURCES:
        raise InvalidAnswers("invalid_answer")
    reasons: list[str] = []
    for key in REASON_QUESTIONS:
        value = answers.get(key)
        if value is None or value == NO_OTHER_REASON:
            break
        value = stored(value)
        if value not in DECISION_FACTORS:
            raise InvalidAnswers("invalid_answer")
        if value in reasons:
            raise InvalidAnswers("repeated_reason")
        reasons.append(value)
    padded = (*reasons, None, None, None)[:3]
    dimensions: dict[str, str] = {}
    for question in DIMENSION_QUESTIONS:
        value = answers.get(question.id)
        if value is None:
            continue
        if value not in question.answers:
            raise InvalidAnswers("invalid_answer")
        dimensions[question.id] = value
    return CleanAnswers(None if info is None else stored(info),
                        (padded[0], padded[1], padded[2]), dimensions)
