"""Load flows/*.yaml and flows/facts.yaml into an immutable FlowSet."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import ValidationError

from bot.engine.schema import (
    Facts,
    Flow,
    InputNode,
    ListNode,
    MessageNode,
    Node,
    QuestionNode,
    Screenish,
)

HOME = "menu.start"
FACTS_FILE = "facts.yaml"
PLAIN_FILE = "plain-language.yaml"  # bot/engine/plain.py


class FlowError(Exception):
    """A flow file that cannot be loaded; the message names the file and the problem."""


@dataclass(frozen=True, slots=True)
class NodeRef:
    flow: str
    node: str

    def __str__(self) -> str:
        return f"{self.flow}.{self.node}"

    @classmethod
    def parse(cls, text: str) -> NodeRef:
        flow, _, node = text.partition(".")
        return cls(flow, node)


WELCOME = NodeRef("menu", "welcome")  # the first screen: the welcome question


@dataclass(frozen=True)
class FlowSet:
    flows: dict[str, Flow]
    facts: Facts
    directory: Path

    def get(self, ref: NodeRef) -> Node | None:
        flow = self.flows.get(ref.flow)
        return flow.nodes.get(ref.node) if flow else None

    def resolve(self, target: str, current_flow: str) -> NodeRef:
        """Turn a target (``node``, ``flow.node`` or ``flow``) into a reference.

        ``back`` and ``home`` are handled by the caller; ``home`` is :data:`HOME`.
        """
        if target == "home":
            return NodeRef.parse(HOME)
        if "." in target:
            return NodeRef.parse(target)
        if target in self.flows and target not in self.flows[current_flow].nodes:
            return NodeRef(target, self.flows[target].start)
        return NodeRef(current_flow, target)

    def display_nodes(self) -> list[tuple[NodeRef, Screenish]]:
        """Every screen a person can see."""
        return [
            (NodeRef(flow.id, node_id), node)
            for flow in self.flows.values()
            for node_id, node in flow.nodes.items()
            if isinstance(node, MessageNode | QuestionNode | ListNode | InputNode)
        ]


def _read_yaml(path: Path) -> object:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise FlowError(f"{path.name}: not valid YAML: {exc}") from exc


def load_flows(directory: Path) -> FlowSet:
    """Read and validate every flow in ``directory``. Raises FlowError with a readable message."""
    if not directory.is_dir():
        raise FlowError(f"flows directory not found: {directory}")
    flows: dict[str, Flow] = {}
    facts_path = directory / FACTS_FILE
    try:
        facts = Facts.model_validate(_read_yaml(facts_path))
    except (ValidationError, FileNotFoundError) as exc:
        raise FlowError(f"{FACTS_FILE}: {exc}") from exc
    for path in sorted(directory.glob("*.yaml")):
        if path.name in (FACTS_FILE, PLAIN_FILE):
            continue
        try:
            flow = Flow.model_validate(_read_yaml(path))
        except ValidationError as exc:
            raise FlowError(f"{path.name}: {exc}") from exc
        if flow.id != path.stem:
            raise FlowError(f"{path.name}: flow id {flow.id!r} must match the file name")
        flows[flow.id] = flow
    if NodeRef.parse(HOME).flow not in flows:
        raise FlowError(f"the home node {HOME} is missing")
    return FlowSet(flows=flows, facts=facts, directory=directory)
