"""The follow-up flow and the API's questionnaire share one vocabulary: every question the flow
saves is one the API knows, every answer id maps to a stored id, and the versions agree."""

from __future__ import annotations

from bot.engine.schema import QuestionNode
from bot.handlers.followup import ANSWER_KEYS, PAGE_BUTTONS
from bot.settings import PROJECT_DIR
from referral_api.followup import questionnaire as q
from tests.harness import flows_at


def test_flow_ids_are_the_questionnaires() -> None:
    flow = flows_at(PROJECT_DIR / "flows").flows["followup"]
    assert flow.version == q.VERSION
    saved: dict[str, set[str]] = {}
    for node in flow.nodes.values():
        if isinstance(node, QuestionNode):
            saved.setdefault(node.save_as, set()).update(c.id for c in node.choices if c.saves)
    assert set(saved) == set(ANSWER_KEYS)
    assert {q.stored(a) for a in saved[q.INFO_QUESTION]} == set(q.INFO_SOURCES)
    for key in q.REASON_QUESTIONS:
        answers = {q.stored(a) for a in saved[key]} - PAGE_BUTTONS - {q.NO_OTHER_REASON}
        assert answers == set(q.DECISION_FACTORS), key
    for question in q.DIMENSION_QUESTIONS:
        assert saved[question.id] == set(question.answers), question.id
