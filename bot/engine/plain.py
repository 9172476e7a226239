"""Plain language, measured on the English source of every screen (issue 14):

* no screen over MAX_SCREEN_CHARS characters;
* no sentence over MAX_WORDS words, unless flows/plain-language.yaml allows it with a reason;
* no jargon from its list unless the same screen says what it means (the `means` words of
  the list appear on that screen) or the screen is allowed to use it.

Run by ``python -m bot.engine check`` (and so by ``make test``)."""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field

from bot.engine.flows import PLAIN_FILE, FlowSet, NodeRef
from bot.engine.schema import ListNode, QuestionNode

MAX_SCREEN_CHARS = 600
MAX_WORDS = 20
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")
_PLACEHOLDER = re.compile(r"\{[a-z_]+\}")


class Jargon(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    means: str = Field(min_length=3)  # words that explain it, on the same screen


class PlainRules(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    long_sentences: dict[str, str] = {}  # "flow.node" -> why its long sentence must stay
    jargon: dict[str, Jargon] = {}


def load_rules(directory: Path) -> PlainRules:
    path = directory / PLAIN_FILE
    if not path.exists():
        return PlainRules()
    return PlainRules.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))


def sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_END.split(_PLACEHOLDER.sub("X", text)) if s.strip()]


def plain_problems(flows: FlowSet, rules: PlainRules) -> list[str]:
    problems: list[str] = []
    for ref, node in flows.display_nodes():
        where = str(ref)
        parts = ([node.ask, node.why] if isinstance(node, QuestionNode)
                 else [node.say, node.footer if isinstance(node, ListNode) else None])
        text = "\n".join(p for p in parts if p)
        if len(text) > MAX_SCREEN_CHARS:
            problems.append(f"{where}: {len(text)} characters, more than {MAX_SCREEN_CHARS}: "
                            "split it into steps")
        for sentence in sentences(text):
            words = len(sentence.split())
            if words > MAX_WORDS and where not in rules.long_sentences:
                problems.append(f"{where}: a sentence of {words} words (at most {MAX_WORDS}): "
                                f"{sentence[:60]!r}…")
        lowered = text.lower()
        for term, jargon in rules.jargon.items():
            if term in lowered and jargon.means.lower() not in lowered:
                problems.append(f"{where}: {term!r} without saying what it means "
                                f"({jargon.means!r})")
    for where in rules.long_sentences:
        if flows.get(NodeRef.parse(where)) is None:
            problems.append(f"{PLAIN_FILE}: {where} is not a screen")
    return problems
