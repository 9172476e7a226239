"""Multiple questions (tick several, then Done): schema rules, static checks, rendering."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.actions import create_action_registry
from bot.engine.callbacks import NodeCb
from bot.engine.check import DomainIndex, check_flows
from bot.engine.conversation import Conversation
from bot.engine.core import TOGGLE, Engine
from bot.engine.flows import FlowError, NodeRef, load_flows
from bot.settings import DEFAULT_FLOWS_DIR
from tests.flows.test_static import domain, edit, flows_copy  # noqa: F401 - fixtures
from tests.harness import flows_at

ASK = NodeRef("obstacles", "ask")


def cb(choice: str) -> NodeCb:
    return NodeCb(f="obstacles", n="ask", c=choice, v=1)


def test_ticks_toggle_in_catalogue_order_and_done_goes_on() -> None:
    flows = flows_at(DEFAULT_FLOWS_DIR)
    engine = Engine(flows, create_action_registry(), lambda msgid, locale: msgid)
    conv = Conversation()
    for choice in ("debts", "no_money", "health", "health"):
        assert engine.lookup_press(cb(choice)) == TOGGLE
        engine.record_answer(conv, cb(choice))
    assert conv.answers["obstacles"] == "no_money,debts"  # health ticked, then unticked
    labels = [b.text for row in engine.show(conv, ASK, "en").markup.inline_keyboard
              for b in row]
    assert labels[:3] == ["✅ No money for the journey", "No passport or documents", "✅ Debts"]
    assert "✔️ Done" in labels and "🏠 Main menu" in labels
    assert engine.lookup_press(cb("done")) == "record"
    assert engine.lookup_press(cb("not_a_choice")) is None  # forged


def test_a_multiple_question_needs_next_and_no_go(flows_copy: Path) -> None:  # noqa: F811
    edit(flows_copy, "obstacles", lambda d: d["nodes"]["ask"].pop("next"))
    with pytest.raises(FlowError, match="multiple question"):
        load_flows(flows_copy)


def test_a_choice_of_a_multiple_question_cannot_have_go(flows_copy: Path) -> None:  # noqa: F811
    edit(flows_copy, "obstacles",
         lambda d: d["nodes"]["ask"]["choices"][0].update(go="thanks"))
    with pytest.raises(FlowError, match="multiple question"):
        load_flows(flows_copy)


def test_branching_on_a_multiple_answer_is_refused(flows_copy: Path,  # noqa: F811
                                                   domain: DomainIndex) -> None:  # noqa: F811
    edit(flows_copy, "obstacles", lambda d: d["nodes"].update(
        split={"branch": "obstacles", "cases": {"debts": "thanks"}, "default": "thanks"}) or
        d["nodes"]["thanks"]["buttons"].append({"id": "split", "label": "x", "go": "split"}))
    problems = check_flows(load_flows(flows_copy), domain, create_action_registry())
    assert any("branch on 'obstacles', which no question saves" in p for p in problems)
