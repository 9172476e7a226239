"""Static checks of the flows and catalogues; and proof that the checker catches defects."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from bot.actions import create_action_registry
from bot.engine.check import DomainIndex, check_flows
from bot.engine.extract import extract_flows
from bot.engine.flows import FlowError, load_flows
from bot.i18n_check import check as check_catalogues
from bot.settings import DEFAULT_DOMAIN_DIR, DEFAULT_FLOWS_DIR


@pytest.fixture(scope="module")
def domain() -> DomainIndex:
    return DomainIndex.load(DEFAULT_DOMAIN_DIR)


def problems_of(flows_dir: Path, domain: DomainIndex) -> list[str]:
    return check_flows(load_flows(flows_dir), domain, create_action_registry())


def test_shipped_flows_pass_every_check(domain: DomainIndex) -> None:
    assert problems_of(DEFAULT_FLOWS_DIR, domain) == []


def test_every_string_is_translated_in_every_shipped_language() -> None:
    coverage, problems = check_catalogues()
    assert problems == []
    assert {c.locale for c in coverage} >= {"nl", "fr"}
    assert all(c.percent == 100 for c in coverage)


def test_domain_index_reads_sections_and_questions(domain: DomainIndex) -> None:
    assert {"1.3", "1.6", "2.2", "3"} <= domain.sections
    assert "Q19" in domain.questions and "Q37" in domain.questions
    assert domain.unresolved("programme-facts §1.3; faq-facts Q9, Q13") == []
    assert domain.unresolved("programme-facts §9.9") == ["programme-facts §9.9"]
    assert domain.unresolved("a blog post") == ["a blog post"]


@pytest.fixture
def flows_copy(tmp_path: Path) -> Path:
    target = tmp_path / "flows"
    shutil.copytree(DEFAULT_FLOWS_DIR, target)
    return target


def edit(flows_dir: Path, name: str, change) -> None:  # type: ignore[no-untyped-def]
    path = flows_dir / f"{name}.yaml"
    data = yaml.safe_load(path.read_text())
    change(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True))


def test_checker_finds_a_dangling_target(flows_copy: Path, domain: DomainIndex) -> None:
    edit(flows_copy, "menu", lambda d: d["nodes"]["start"]["buttons"][0].update(go="nowhere"))
    assert any("target 'nowhere' does not exist" in p for p in problems_of(flows_copy, domain))


def test_checker_finds_an_unreachable_node(flows_copy: Path, domain: DomainIndex) -> None:
    edit(flows_copy, "faq", lambda d: d["nodes"].update(
        orphan={"say": "Alone.", "source": "ui"}))
    assert "faq.orphan: unreachable from the menu or any entry" in problems_of(flows_copy, domain)


def test_checker_finds_an_outcome_that_leads_nowhere(flows_copy: Path,
                                                     domain: DomainIndex) -> None:
    """The reschedule action says a time can be "taken": a flow that forgets where that goes
    is refused before anyone presses the button."""
    edit(flows_copy, "mycontact", lambda d: d["nodes"]["reschedule"].update(outcomes={}))
    assert ("mycontact.reschedule: outcome 'taken' of action reschedule_contact leads nowhere "
            "(outcomes:)") in problems_of(flows_copy, domain)


def test_checker_finds_a_placeholder_no_getter_gives(flows_copy: Path,
                                                    domain: DomainIndex) -> None:
    edit(flows_copy, "booking", lambda d: d["nodes"]["consent"].update(
        say=d["nodes"]["consent"]["say"] + " {phone_number}"))
    assert any("booking.consent: placeholder {phone_number} is neither" in p
               for p in problems_of(flows_copy, domain))


def test_checker_finds_an_item_label_naming_what_the_list_does_not_give(
        flows_copy: Path, domain: DomainIndex) -> None:
    edit(flows_copy, "booking", lambda d: d["nodes"]["places"]["item"].update(
        label="Contact {name} at {street}"))
    assert ("booking.places: item label names {street}, which 'places' does not give"
            in problems_of(flows_copy, domain))


def test_checker_finds_an_unregistered_getter_reader_and_condition(
        flows_copy: Path, domain: DomainIndex) -> None:
    def change(d: dict) -> None:  # type: ignore[type-arg]
        d["nodes"]["slot"]["list"] = "slots_from_nowhere"
        d["nodes"]["phone"]["input"] = "telepathy"
        d["nodes"]["health"]["when"] = "moon_is_full"
    edit(flows_copy, "booking", change)
    problems = problems_of(flows_copy, domain)
    assert "booking.slot: getter 'slots_from_nowhere' is not registered" in problems
    assert "booking.phone: reader 'telepathy' is not registered" in problems
    assert "booking.health: condition 'moon_is_full' is not registered" in problems


def test_checker_finds_long_callback_data(flows_copy: Path, domain: DomainIndex) -> None:
    flow_id, node_id, choice_id = "f" * 22, "n" * 24, "c" * 24
    (flows_copy / f"{flow_id}.yaml").write_text(yaml.safe_dump({
        "id": flow_id, "version": 1, "start": node_id,
        "nodes": {node_id: {"say": "Hi.", "source": "ui",
                            "buttons": [{"id": choice_id, "label": "Go", "go": "home"}]}},
    }))
    assert any("exceeds 64 bytes" in p for p in problems_of(flows_copy, domain))


def test_checker_finds_an_unresolved_source_and_missing_fact(
    flows_copy: Path, domain: DomainIndex
) -> None:
    def change(d: dict) -> None:  # type: ignore[type-arg]
        node = d["nodes"][d["start"]]
        node["source"] = "programme-facts §42"
        node["say"] = node["say"] + " Call {nophone}."
    edit(flows_copy, "faq", change)
    found = problems_of(flows_copy, domain)
    assert any("source 'programme-facts §42' does not resolve" in p for p in found)
    assert any("placeholder {nophone} is neither in facts" in p for p in found)


def test_schema_refuses_a_reserved_choice_id(flows_copy: Path) -> None:
    edit(flows_copy, "menu", lambda d: d["nodes"]["start"]["buttons"][0].update(id="back"))
    with pytest.raises(FlowError, match="reserved"):
        load_flows(flows_copy)


def test_schema_refuses_an_unknown_field(flows_copy: Path) -> None:
    edit(flows_copy, "menu", lambda d: d["nodes"]["start"].update(colour="red"))
    with pytest.raises(FlowError, match="colour"):
        load_flows(flows_copy)


def test_extractor_pulls_texts_with_their_node(tmp_path: Path) -> None:
    path = tmp_path / "demo.yaml"
    path.write_text(
        "id: demo\nversion: 1\nstart: a\nnodes:\n  a:\n    ask: Where?\n    why: Because.\n"
        "    save_as: x\n    source: ui\n    choices:\n"
        "      - {id: one, label: One, go: a}\n      - {id: two, label: Two, go: a}\n"
    )
    with path.open("rb") as fh:
        found = [(text, comments) for _, _, text, comments in extract_flows(fh, {}, [], {})]
    assert ("Where?", ["demo.a"]) in found
    assert ("Because.", ["demo.a"]) in found
    assert ("One", ["answer button on demo.a"]) in found
