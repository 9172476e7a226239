"""Static checks of the flows: closed graph, reachability, sources, facts, sizes.

Run with ``python -m bot.engine check``. Returns a list of problems; empty means all good.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from bot.engine.actions import ActionRegistry
from bot.engine.callbacks import NodeCb
from bot.engine.flows import HOME, FlowSet, NodeRef
from bot.engine.plain import load_rules, plain_problems
from bot.engine.schema import (
    PLACEHOLDER,
    BranchNode,
    Fact,
    Flow,
    InputNode,
    ListNode,
    MessageNode,
    QuestionNode,
    Screenish,
)

MAX_CALLBACK_BYTES = 64
MAX_LABEL_CHARS = 30
MAX_BUTTONS = 9  # eight answers and a Skip, at most
MAX_TICK_BUTTONS = 12  # a multiple question: a list to tick, then Done

_SECTION = re.compile(r"^#{2,4}\s+(\d+(?:\.\d+)*)\.?\s", re.MULTILINE)
_QUESTION = re.compile(r"^\*\*Q(\d+)\.", re.MULTILINE)
_SOURCE_PART = re.compile(r"(programme-facts|faq-facts)\s+((?:(?:§[\d.]+|Q\d+)[,\s]*)+)")


@dataclass(frozen=True)
class DomainIndex:
    """The sections of programme-facts.md and the questions of faq-facts.md."""

    sections: frozenset[str]
    questions: frozenset[str]

    @classmethod
    def load(cls, domain_dir: Path) -> DomainIndex:
        facts = (domain_dir / "programme-facts.md").read_text(encoding="utf-8")
        faq = (domain_dir / "faq-facts.md").read_text(encoding="utf-8")
        return cls(
            sections=frozenset(_SECTION.findall(facts)),
            questions=frozenset(f"Q{n}" for n in _QUESTION.findall(faq)),
        )

    def unresolved(self, source: str) -> list[str]:
        """References in a ``source:`` string that point nowhere. ``ui`` means no programme fact."""
        if source.strip() == "ui":
            return []
        parts = _SOURCE_PART.findall(source)
        if not parts:
            return [source]
        bad = []
        for doc, refs in parts:
            for ref in re.findall(r"§[\d.]+|Q\d+", refs):
                ref = ref.rstrip(".")
                if doc == "programme-facts" and ref.lstrip("§") not in self.sections:
                    bad.append(f"{doc} {ref}")
                if doc == "faq-facts" and ref not in self.questions:
                    bad.append(f"{doc} {ref}")
        return bad


def _placeholders(*texts: str | None) -> set[str]:
    return {name for text in texts if text for name in PLACEHOLDER.findall(text)}


def reachable(flows: FlowSet) -> set[NodeRef]:
    """Nodes reachable from the home node and from the entries code opens directly."""
    todo = [NodeRef.parse(HOME)]
    for flow in flows.flows.values():
        todo.extend(NodeRef(flow.id, entry) for entry in flow.entries)
        if flow.lost:
            todo.append(flows.resolve(flow.lost, flow.id))
    seen: set[NodeRef] = set()
    while todo:
        ref = todo.pop()
        if ref in seen or flows.get(ref) is None:
            continue
        seen.add(ref)
        for target in flows.flows[ref.flow].targets(ref.node):
            if target != "back":
                todo.append(flows.resolve(target, ref.flow))
    return seen


def _callback_bytes(flow: str, node: str, choice: str, version: int) -> int:
    """Length of the packed callback data (aiogram refuses to pack more than 64 bytes)."""
    cb = NodeCb(f=flow, n=node, c=choice, v=version)
    sep = NodeCb.__separator__
    return len(sep.join([NodeCb.__prefix__, cb.f, cb.n, cb.c, str(cb.v)]).encode())


# How a screen leaves an unverified fact to the counsellor (programme-facts: "[U] never state
# it as a fact ... say that a counsellor can answer").
HEDGES = ("counsellor can tell you", "counsellor can confirm", "counsellor tells you")
FACT_MAX_AGE_DAYS = 180  # older reviews are reported (a warning, not a failure)


def _trust_problems(where: str, text: str, facts: tuple[str, ...], flows: FlowSet
                    ) -> list[str]:
    """A DATED fact is stated with its year; a U fact is left to the counsellor."""
    problems = []
    for name in facts:
        fact = flows.facts.facts.get(name)
        if fact is None:
            continue
        if fact.status == "DATED" and str(fact.dated) not in text:
            problems.append(f"{where}: states {name!r} (DATED {fact.dated}) without saying "
                            f"{fact.dated}")
        if fact.status == "U" and not any(h in text for h in HEDGES):
            problems.append(f"{where}: states {name!r} (not verified) without leaving it to "
                            "the counsellor")
    return problems


def fact_warnings(flows: FlowSet, today: date) -> list[str]:
    """Reviews older than FACT_MAX_AGE_DAYS: to re-check, not yet wrong."""
    return [f"facts.yaml {name}: reviewed on {fact.reviewed_on}, more than "
            f"{FACT_MAX_AGE_DAYS} days ago" for name, fact in flows.facts.facts.items()
            if (today - fact.reviewed_on).days > FACT_MAX_AGE_DAYS]


def facts_report(flows: FlowSet, today: date) -> list[str]:
    """What needs re-checking before launch: every fact or country rule not verified on its
    live page, DATED or unverified, or reviewed long ago."""
    rows = []
    for name, entry in sorted(flows.facts.entries(), key=lambda kv: (kv[1].status != "U", kv[0])):
        reasons = []
        if entry.status != "V":
            year = entry.dated if isinstance(entry, Fact) else None
            reasons.append(entry.status + (f" {year}" if year else ""))
        if entry.checked_against != "live page":
            reasons.append(f"checked against {entry.checked_against} only")
        if (today - entry.reviewed_on).days > FACT_MAX_AGE_DAYS:
            reasons.append(f"reviewed {entry.reviewed_on}")
        if reasons:
            rows.append(f"{name}: {'; '.join(reasons)} — {entry.source}")
    return rows


def _registered(where: str, node: object, registry: ActionRegistry) -> list[str]:
    """Every getter, condition, reader and action a node names is registered."""
    problems = []
    names: list[tuple[str, str | None, Iterable[str]]] = [
        ("getter", getattr(node, "data", None), registry.getters),
        ("condition", getattr(node, "when", None), registry.conditions),
        ("reader", getattr(node, "input", None), registry.readers),
        ("action", getattr(node, "action", None), registry.names()),
    ]
    if isinstance(node, ListNode):
        names.append(("getter", node.list, registry.getters))
    for button in [*getattr(node, "buttons", ()), *getattr(node, "choices", ())]:
        names.append(("condition", button.when, registry.conditions))
    for kind, name, known in names:
        if name is not None and name not in known:
            problems.append(f"{where}: {kind} {name!r} is not registered")
    return problems


def _unmapped(where: str, flow: Flow, node: object, registry: ActionRegistry) -> list[str]:
    """Every outcome a node's getter, reader or action may raise leads somewhere."""
    raised: list[tuple[str, frozenset[str]]] = []
    getter_name = node.list if isinstance(node, ListNode) else getattr(node, "data", None)
    getter = registry.getters.get(getter_name) if getter_name else None
    if getter is not None:
        raised.append((f"getter {getter_name}", getter.outcomes))
    for kind, name in (("reader", getattr(node, "input", None)),
                       ("action", getattr(node, "action", None))):
        if name is not None:
            raised.append((f"{kind} {name}", registry.raises.get(f"{kind}:{name}", frozenset())))
    mapped = {**flow.outcomes, **getattr(node, "outcomes", {})}
    return [f"{where}: outcome {code!r} of {hook} leads nowhere (outcomes:)"
            for hook, codes in raised for code in sorted(codes) if code not in mapped]


def _list_problems(where: str, flow_id: str, node_id: str, version: int, node: ListNode,
                   registry: ActionRegistry) -> list[str]:
    """A list's item labels name only the getter's fields; its longest item id and its page
    turns fit the callback data."""
    getter = registry.getters.get(node.list)
    if getter is None:
        return []
    problems = [f"{where}: item label names {{{name}}}, which {node.list!r} does not give"
                for name in sorted(_placeholders(node.item.label) - getter.fields)]
    if getter.id_bytes <= 0:
        problems.append(f"{where}: getter {node.list!r} does not say how long its ids are")
    for choice in ("x" * getter.id_bytes, "_p99"):
        if _callback_bytes(flow_id, node_id, choice, version) > MAX_CALLBACK_BYTES:
            problems.append(f"{where}: callback data for an item of {len(choice)} bytes "
                            "exceeds 64 bytes")
    return problems


def _screen_problems(flows: FlowSet, flow: Flow, node_id: str, node: Screenish,
                     registry: ActionRegistry) -> list[str]:
    """A screen's text, facts, placeholders, buttons and callback data."""
    problems: list[str] = []
    where = f"{flow.id}.{node_id}"
    text = node.ask if isinstance(node, QuestionNode) else node.say
    why = node.why if isinstance(node, QuestionNode) else None
    footer = node.footer if isinstance(node, ListNode) else None
    used = _placeholders(text, why, footer)
    getter_name = node.list if isinstance(node, ListNode) else node.data
    getter = registry.getters.get(getter_name) if getter_name else None
    given = getter.provides if getter else frozenset()
    for name in used - set(node.facts) - given:
        problems.append(f"{where}: placeholder {{{name}}} is neither in facts: nor "
                        "given by its getter")
    if isinstance(node, ListNode):
        problems += _list_problems(where, flow.id, node_id, flow.version, node,
                                   registry)
    problems += _trust_problems(where, " ".join(t for t in (text, why, footer) if t),
                                node.facts, flows)
    for name in set(node.facts) - used:
        problems.append(f"{where}: fact {name!r} listed but not used")
    for name in node.facts:
        if name not in flows.facts.facts:
            problems.append(f"{where}: fact {name!r} is not in facts.yaml")
    if node.source.strip() == "ui" and node.facts:
        problems.append(f"{where}: states facts but has source 'ui'")
    buttons = node.choices if isinstance(node, QuestionNode) else node.buttons
    multiple = isinstance(node, QuestionNode) and node.multiple
    limit = MAX_TICK_BUTTONS if multiple else MAX_BUTTONS
    if len(buttons) > limit:
        problems.append(f"{where}: more than {limit} buttons")
    ids = [b.id for b in buttons] + (["done"] if multiple else [])
    if len(ids) != len(set(ids)):
        problems.append(f"{where}: duplicate button ids")
    for choice_id in [*ids, "home", "back"]:
        if _callback_bytes(flow.id, node_id, choice_id, flow.version) > MAX_CALLBACK_BYTES:
            problems.append(f"{where}: callback data for {choice_id!r} exceeds 64 bytes")
    for button in buttons:
        if len(button.label) > MAX_LABEL_CHARS:
            problems.append(f"{where}: label {button.label!r} is too long")
    return problems


def check_flows(
    flows: FlowSet, domain: DomainIndex, registry: ActionRegistry
) -> list[str]:
    problems: list[str] = []
    saved_keys = {
        node.save_as
        for flow in flows.flows.values()
        for node in flow.nodes.values()
        if isinstance(node, QuestionNode) and not node.multiple  # no branching on a set
    }
    for flow in flows.flows.values():
        for node_id, node in flow.nodes.items():
            where = f"{flow.id}.{node_id}"
            for target in flow.targets(node_id):
                if target == "back":
                    continue
                ref = flows.resolve(target, flow.id)
                if flows.get(ref) is None:
                    problems.append(f"{where}: target {target!r} does not exist")
            problems += _registered(where, node, registry)
            problems += _unmapped(where, flow, node, registry)
            if isinstance(node, BranchNode) and node.branch not in saved_keys:
                problems.append(f"{where}: branch on {node.branch!r}, which no question saves")
            for bad in domain.unresolved(node.source):
                problems.append(f"{where}: source {bad!r} does not resolve")
            if isinstance(node, MessageNode | QuestionNode | ListNode | InputNode):
                problems += _screen_problems(flows, flow, node_id, node, registry)
    live = reachable(flows)
    for flow in flows.flows.values():
        for node_id in flow.nodes:
            if NodeRef(flow.id, node_id) not in live:
                problems.append(f"{flow.id}.{node_id}: unreachable from the menu or any entry")
    used_facts = {name for flow in flows.flows.values() for node in flow.nodes.values()
                  for name in getattr(node, "facts", ())}
    for name in set(flows.facts.facts) - used_facts:
        problems.append(f"facts.yaml: {name!r} is never used")
    for name, entry in flows.facts.entries():
        for bad in domain.unresolved(entry.source):
            problems.append(f"facts.yaml {name}: source {bad!r} does not resolve")
    return problems + plain_problems(flows, load_rules(flows.directory))
