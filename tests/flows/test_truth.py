"""The facts table and the plain-language rules, and proof that their checks can fail."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest
import yaml

from bot.actions import create_action_registry
from bot.engine.check import DomainIndex, check_flows, fact_warnings, facts_report
from bot.engine.flows import FlowError, load_flows
from bot.settings import DEFAULT_DOMAIN_DIR, DEFAULT_FLOWS_DIR


@pytest.fixture
def flows_copy(tmp_path: Path) -> Path:
    target = tmp_path / "flows"
    shutil.copytree(DEFAULT_FLOWS_DIR, target)
    return target


def problems_of(flows_dir: Path) -> list[str]:
    return check_flows(load_flows(flows_dir), DomainIndex.load(DEFAULT_DOMAIN_DIR),
                       create_action_registry())


def edit(path: Path, change) -> None:  # type: ignore[no-untyped-def]
    data = yaml.safe_load(path.read_text())
    change(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True))


def test_every_fact_says_how_far_it_can_be_trusted() -> None:
    facts = load_flows(DEFAULT_FLOWS_DIR).facts
    assert {f.status for f in facts.facts.values()} <= {"V", "DATED", "U"}
    assert all(f.dated for f in facts.facts.values() if f.status == "DATED")
    assert facts.facts["premium_visa_adult"].status == "DATED"
    assert facts.countries["MD"].premium == "none" and facts.countries["BR"].premium == "none"
    assert not facts.countries["SY"].no_entry_ban_claim


def test_a_dated_fact_without_its_year_is_refused(flows_copy: Path) -> None:
    """The 2022 premium amounts stated as if they were today's rules."""
    edit(flows_copy / "support.yaml", lambda d: d["nodes"]["money_rules"].update(
        say=d["nodes"]["money_rules"]["say"].replace("Under the rules of 2022, it was:",
                                                     "It is:")))
    assert any("support.money_rules: states 'premium_visa_adult' (DATED 2022) without saying "
               "2022" in p for p in problems_of(flows_copy))


def test_an_unverified_fact_must_be_left_to_the_counsellor(flows_copy: Path) -> None:
    edit(flows_copy / "facts.yaml", lambda d: d["facts"]["reintegration_months"].update(
        status="U"))
    problems = problems_of(flows_copy)
    assert any("states 'reintegration_months' (not verified) without leaving it to the "
               "counsellor" in p for p in problems)


def test_a_dated_fact_must_name_its_year(flows_copy: Path) -> None:
    edit(flows_copy / "facts.yaml", lambda d: d["facts"]["freephone"].update(status="DATED"))
    with pytest.raises(FlowError, match="names its year"):
        load_flows(flows_copy)


def test_old_reviews_are_warned_and_the_report_lists_what_to_recheck() -> None:
    flows = load_flows(DEFAULT_FLOWS_DIR)
    assert fact_warnings(flows, date(2026, 12, 6)) == []
    later = fact_warnings(flows, date(2027, 12, 6))
    assert any(w.startswith("facts.yaml freephone: reviewed on 2026-12-05") for w in later)
    report = facts_report(flows, date(2026, 12, 6))
    assert report[0].startswith("SY: U")  # the unverified first
    assert any(r.startswith("freephone: checked against programme-facts only") for r in report)


def test_a_long_sentence_is_refused_unless_allowed_with_a_reason(flows_copy: Path) -> None:
    long = ("This sentence is written on purpose with far too many words so that a person "
            "who reads slowly would lose the thread before its end.")
    edit(flows_copy / "faq.yaml", lambda d: d["nodes"]["list"].update(say=long))
    assert any("faq.list: a sentence of 25 words" in p for p in problems_of(flows_copy))
    edit(flows_copy / "plain-language.yaml",
         lambda d: d["long_sentences"].update({"faq.list": "a test"}))
    assert not any("faq.list: a sentence" in p for p in problems_of(flows_copy))


def test_jargon_must_be_explained_where_it_is_used(flows_copy: Path) -> None:
    edit(flows_copy / "faq.yaml", lambda d: d["nodes"]["list"].update(
        say="You may get an entry ban. Choose one."))
    assert ("faq.list: 'entry ban' without saying what it means ('not allowed to come back')"
            in problems_of(flows_copy))


def test_a_screen_over_600_characters_must_be_split(flows_copy: Path) -> None:
    edit(flows_copy / "faq.yaml", lambda d: d["nodes"]["list"].update(
        say="Short words here. " * 40))
    assert any("faq.list: 720 characters, more than 600" in p for p in problems_of(flows_copy))
