"""The schema of a flow file (flows/*.yaml), validated with pydantic.

A flow is a graph of nodes with stable slug ids. A node is exactly one of:

* ``say``    a message with optional buttons;
* ``ask``    a question with choices, whose answer is stored as the choice id (``save_as``);
             with ``multiple: true`` several choices can be ticked (✅) and a Done button
             goes on to ``next``; the answer is then the ticked ids joined by commas;
* ``branch`` a jump chosen by an earlier answer;
* ``action`` a named Python callable registered in :mod:`bot.engine.actions`;
* ``list``   a list that comes from code at run time (places near you, free times, the
             person's contacts): a registered getter gives the items, the node's ``item``
             template labels their buttons; pages of ``page_size`` with ◀ ▶;
* ``input``  a screen that waits for something typed or sent (a postcode, a phone number, a
             location, a message to the counsellor), read by a registered reader.

Any screen may name a ``data`` getter (values for its placeholders, buttons to hide), a
``when`` condition (otherwise the walk goes on to ``otherwise``), and ``outcomes``: where to
go when a getter, action or reader ends with a named outcome (``unavailable``, ``taken``…).
A button may have a ``when`` condition too: it is shown only when the condition holds.

A target (``go``, ``next``, a branch case) is a node id in the same flow, ``flow.node`` in
another flow, or one of the reserved words ``back`` and ``home``.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, model_validator

SLUG = r"^[a-z][a-z0-9_]{0,23}$"
TARGET = r"^(back|home|[a-z][a-z0-9_]{0,23}(\.[a-z][a-z0-9_]{0,23})?)$"
RESERVED_CHOICE_IDS = frozenset({"back", "home", "done"})
PLACEHOLDER = re.compile(r"\{([a-z_][a-z0-9_]*)\}")

Slug = Annotated[str, Field(pattern=SLUG)]
Target = Annotated[str, Field(pattern=TARGET)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Choice(_Strict):
    """A button. ``label`` is an English msgid; ``id`` is what gets stored and routed on."""

    id: Slug
    label: Annotated[str, Field(min_length=1, max_length=40)]
    go: Target | None = None  # required, except in a `multiple` question (which has `next`)
    when: Slug | None = None  # a registered condition: the button shows only when it holds
    saves: bool = True  # False: a way out of a question (🌐 Language), not an answer to it

    @model_validator(mode="after")
    def _not_reserved(self) -> Choice:
        if self.id in RESERVED_CHOICE_IDS:
            raise ValueError(f"choice id {self.id!r} is reserved for navigation")
        return self


class _NodeBase(_Strict):
    source: Annotated[str, Field(min_length=2)]
    facts: tuple[Slug, ...] = ()
    nav: bool = True  # add the Back / Main menu row
    columns: Annotated[int, Field(ge=1, le=3)] | None = None
    data: Slug | None = None  # a registered getter: placeholder values, buttons to hide
    when: Slug | None = None  # a registered condition; when it does not hold, go `otherwise`
    otherwise: Target | None = None
    outcomes: dict[Slug, Target] = {}  # an outcome of a getter or reader -> where to go
    revisit: bool = True  # False: Back skips this screen (it was built from a one-time input)

    @model_validator(mode="after")
    def _when_otherwise(self) -> _NodeBase:
        if (self.when is None) != (self.otherwise is None):
            raise ValueError("`when` and `otherwise` go together")
        return self


class MessageNode(_NodeBase):
    kind: Literal["message"] = "message"
    say: Annotated[str, Field(min_length=1)]
    buttons: tuple[Choice, ...] = ()
    # Stays in the chat (a confirmation with a reference): `then` is shown below it as a
    # new message, instead of buttons that would edit it away.
    then: Target | None = None

    @model_validator(mode="after")
    def _buttons_go(self) -> MessageNode:
        if any(b.go is None for b in self.buttons):
            raise ValueError("every button needs `go`")
        return self


class QuestionNode(_NodeBase):
    kind: Literal["question"] = "question"
    ask: Annotated[str, Field(min_length=1)]
    why: str | None = None
    save_as: Slug
    choices: Annotated[tuple[Choice, ...], Field(min_length=2)]
    multiple: bool = False  # tick several, then Done
    next: Target | None = None  # where Done leads (multiple questions only)

    @model_validator(mode="after")
    def _targets(self) -> QuestionNode:
        if self.multiple:
            if self.next is None or any(c.go is not None for c in self.choices):
                raise ValueError("a multiple question has `next` and no `go` on its choices")
        elif self.next is not None or any(c.go is None for c in self.choices):
            raise ValueError("every choice needs `go` (`next` is for multiple questions)")
        return self

    def ticked(self, answer: str | None) -> frozenset[str]:
        """The ids ticked so far, from the stored answer of a multiple question."""
        ids = {c.id for c in self.choices}
        return frozenset(x for x in (answer or "").split(",") if x in ids)


class ItemTemplate(_Strict):
    """The button of each item of a list node: ``label`` is an English msgid whose
    placeholders are the getter's item fields; the pressed item's id is saved as ``save_as``."""

    label: Annotated[str, Field(min_length=1, max_length=60)]
    go: Target


class ListNode(_NodeBase):
    kind: Literal["list"] = "list"
    say: Annotated[str, Field(min_length=1)]
    footer: str | None = None  # a text after the items' blocks
    list: Slug  # the registered getter of the items
    item: ItemTemplate
    save_as: Slug
    buttons: tuple[Choice, ...] = ()  # fixed buttons after the items
    page_size: Annotated[int, Field(ge=1, le=12)] = 6
    more: Annotated[str, Field(max_length=30)] | None = None  # the next page's label (msgid)
    empty: Target | None = None  # where to go when the list is empty
    single: bool = False  # one item only: pick it at once, without showing the list

    @model_validator(mode="after")
    def _buttons_go(self) -> ListNode:
        if any(b.go is None for b in self.buttons):
            raise ValueError("every button needs `go`")
        return self


class InputNode(_NodeBase):
    kind: Literal["input"] = "input"
    say: Annotated[str, Field(min_length=1)]
    input: Slug  # the registered reader of what the person sends
    keyboard: Literal["location"] | None = None  # a reply keyboard that sends the location
    buttons: tuple[Choice, ...] = ()  # other ways on (a city list instead of a postcode)
    next: Target | None = None  # where to go once the reader accepted the input

    @model_validator(mode="after")
    def _buttons_go(self) -> InputNode:
        if any(b.go is None for b in self.buttons):
            raise ValueError("every button needs `go`")
        return self


Screenish = MessageNode | QuestionNode | ListNode | InputNode


class BranchNode(_Strict):
    kind: Literal["branch"] = "branch"
    branch: Slug  # the save_as key of an earlier question
    cases: dict[Slug, Target]
    default: Target
    source: str = "ui"


class ActionNode(_Strict):
    kind: Literal["action"] = "action"
    action: Slug
    next: Target | None = None
    source: str = "ui"
    outcomes: dict[Slug, Target] = {}


def _node_kind(value: Any) -> str:
    if isinstance(value, BaseModel):
        return str(getattr(value, "kind", ""))
    if isinstance(value, dict):
        for key, kind in (("list", "list"), ("input", "input"), ("say", "message"),
                          ("ask", "question"), ("branch", "branch"), ("action", "action")):
            if key in value:
                return kind
    return "message"


Node = Annotated[
    Annotated[MessageNode, Tag("message")]
    | Annotated[QuestionNode, Tag("question")]
    | Annotated[BranchNode, Tag("branch")]
    | Annotated[ActionNode, Tag("action")]
    | Annotated[ListNode, Tag("list")]
    | Annotated[InputNode, Tag("input")],
    Discriminator(_node_kind),
]


class Flow(_Strict):
    id: Slug
    version: Annotated[int, Field(ge=1)]
    start: Slug
    entries: tuple[Slug, ...] = ()  # nodes that code opens directly (commands, action hooks)
    outcomes: dict[Slug, Target] = {}  # outcomes any node of the flow may end with
    lost: Target | None = None  # where a press lands when the conversation state is gone
    # Its screens need no conversation state (they read the API by chat): a press works even
    # after the state is gone (a Redis restart, the TTL), as /mycontact's buttons must.
    stateless: bool = False
    nodes: dict[Slug, Node]

    @model_validator(mode="after")
    def _start_exists(self) -> Flow:
        if self.start not in self.nodes:
            raise ValueError(f"start node {self.start!r} is not defined")
        return self

    def targets(self, node_id: str) -> list[str]:
        """Every target a node can lead to (for the static graph checks)."""
        node = self.nodes[node_id]
        extra = list(node.outcomes.values()) if isinstance(node, _NodeBase | ActionNode) else []
        if isinstance(node, _NodeBase) and node.otherwise:
            extra.append(node.otherwise)
        return self._targets(node) + extra + list(self.outcomes.values())

    def _targets(self, node: Node) -> list[str]:
        if isinstance(node, MessageNode | InputNode):
            nexts = [node.next] if isinstance(node, InputNode) and node.next else []
            if isinstance(node, MessageNode) and node.then:
                nexts.append(node.then)
            return [b.go for b in node.buttons if b.go is not None] + nexts
        if isinstance(node, ListNode):
            return ([node.item.go, *(b.go for b in node.buttons if b.go is not None)]
                    + ([node.empty] if node.empty else []))
        if isinstance(node, QuestionNode):
            if node.multiple:
                return [node.next] if node.next else []
            return [c.go for c in node.choices if c.go is not None]
        if isinstance(node, BranchNode):
            return [*node.cases.values(), node.default]
        return [node.next] if node.next else []


Status = Literal["V", "DATED", "U"]  # as ../shared/domain/programme-facts.md marks them
CheckedAgainst = Literal["live page", "programme-facts"]


class Fact(_Strict):
    """A value that changes. ``status`` is the mark of its source: V (verified), DATED (true
    in an old source: a screen using it must say the year, ``dated``), U (not verified: a
    screen using it must leave it to the counsellor). ``reviewed_on`` is the day a person
    checked it, ``checked_against`` what they checked it against."""

    value: str
    source: str
    status: Status
    reviewed_on: date
    checked_against: CheckedAgainst
    dated: Annotated[int, Field(ge=1990, le=2100)] | None = None  # the source's year
    translate: bool = False  # a value in words (hours) is a msgid; amounts and phones are not

    @model_validator(mode="after")
    def _dated_has_year(self) -> Fact:
        if (self.status == "DATED") != (self.dated is not None):
            raise ValueError("a DATED fact, and only a DATED fact, names its year (dated:)")
        return self


Premium = Literal["dated_2022", "none", "counsellor"]
Reintegration = Literal["counsellor", "none", "announced"]


class CountryRule(_Strict):
    """What the programme offers for returns to one country, as far as the sources go
    (programme-facts §1.3). Read by the money screens; never promises more."""

    premium: Premium  # dated_2022: the 2022 amounts may apply; none: abolished
    reintegration: Reintegration  # none: ended; announced: announced, not confirmed in force
    no_entry_ban_claim: bool = True  # False: never say "no entry ban" for this country
    status: Status
    source: str
    reviewed_on: date
    checked_against: CheckedAgainst


class Facts(_Strict):
    facts: dict[Slug, Fact]
    # ISO 3166 codes (names come from CLDR in the person's language)
    countries: dict[Annotated[str, Field(pattern=r"^[A-Z]{2}$")], CountryRule] = {}

    def entries(self) -> list[tuple[str, Fact | CountryRule]]:
        """Every fact and country rule, by name."""
        return [*self.facts.items(), *self.countries.items()]

    @property
    def oldest_review(self) -> date:
        return min(f.reviewed_on for f in self.facts.values())
