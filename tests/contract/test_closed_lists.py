"""Contract: the closed lists the bot sends are the API's (issue 12, item 4).

The API's schemas are the truth, read here from the real app's OpenAPI document. Every choice
of every flow is put through the bot's own code that turns answers into API requests (the
booking's `referral_fields`, the follow-up's `collected`, the obstacles and screening signals),
and what comes out must fit the OpenAPI schema of the endpoint: a topic or a contact mode
outside the API's enum, an unknown questionnaire answer, an obstacle the API does not count
all fail here, naming the flow, the node and the value, instead of a 422 in production.

`closed_list_problems(flows_dir, spec)` takes the flows folder, so that a modified copy can be
checked too (test_a_new_choice_the_api_does_not_know_fails).
"""

from __future__ import annotations

import ast
import json
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast, get_args

import httpx
import pytest
import yaml

from bot.actions import record_obstacles_action
from bot.api_client import ApiUnavailable, ReferralCreate, ReferralsClient, checked
from bot.booking.submit import referral_fields
from bot.booking.texts import slot_id
from bot.engine.actions import ActionContext
from bot.engine.conversation import Conversation
from bot.engine.flows import FlowSet, load_flows
from bot.engine.schema import QuestionNode
from bot.handlers.followup import collected
from bot.screening import DETAIL, RULES, flags_from, service_for
from bot.settings import PROJECT_DIR
from bot.signals import SignalBuffer, SignalRecorder, bound
from referral_api.outbox.messages import NoticeStatus
from referral_api.referrals import models as referral_models
from referral_api.referrals.schemas import ContactMode, CounsellorStatus
from referral_api.signals import catalogue
from tests.contract.openapi import (
    Schema,
    api_openapi,
    component_names,
    enum_of,
    errors,
    operation,
    request_schema,
    success_schema,
)

FLOWS = PROJECT_DIR / "flows"
BOT = PROJECT_DIR / "bot"
CHAT_ID = 424242
TOKEN = "wave-token-0123456789"
# Answers taken as given when one choice is tried: the screening's details (child count and
# ages) become flags only for a person who said that children travel with them.
BASELINE = {"scr_children": "yes"}
REFERRALS = ("post", "/v1/referrals")
FOLLOWUP = ("post", "/v1/followup/answers")
SIGNALS = ("post", "/v1/signals")
NEAREST = ("post", "/v1/partners/nearest")


@pytest.fixture(scope="module")
def spec() -> Schema:
    return api_openapi()


class Captured(SignalBuffer):
    """A signal buffer that keeps what it is given (no background task)."""

    def __init__(self) -> None:
        super().__init__(self._unused)
        self.events: list[dict[str, Any]] = []

    @staticmethod
    async def _unused(batch: list[dict[str, Any]]) -> None:
        raise AssertionError("not sent")

    def add(self, event: dict[str, Any]) -> None:
        self.events.append(event)


def recorder() -> tuple[SignalRecorder, Captured]:
    buffer = Captured()
    fixed = datetime(2026, 5, 4, 10, tzinfo=UTC)
    return SignalRecorder(buffer, b"contract-test-key", 7, "en", clock=lambda: fixed), buffer


def values_by_event(spec: Schema) -> dict[str, list[str]]:
    return cast(dict[str, list[str]], spec["components"]["schemas"]["SignalIn"]
                ["x-values-by-event"])


def body_problems(spec: Schema, where: tuple[str, str], body: Any) -> list[str]:
    template, op = operation(spec, *where)
    return [f"{where[0].upper()} {template}: {e}"
            for e in errors(spec, request_schema(op), body)]


def signal_problems(spec: Schema, events: list[dict[str, Any]]) -> list[str]:
    """The events must fit SignalIn, and their values the API's closed list of each event
    (checked per event by the API: a value outside it is dropped, `rejected`)."""
    closed = values_by_event(spec)
    problems = []
    for event in events:
        problems += body_problems(spec, SIGNALS, {"events": [event]})
        name, value = event["event"], event.get("value")
        if name not in closed:
            problems.append(f"signal event {name!r} is not one the API knows: {sorted(closed)}")
        elif closed[name] and value not in closed[name]:
            problems.append(f"signal {name}: {value!r} is not in the API's closed list "
                            f"{closed[name]} (SignalIn x-values-by-event)")
    return problems


def nearest_problems(spec: Schema, service: str | None) -> list[str]:
    if service is None:
        return []
    return body_problems(spec, NEAREST, {"postcode": "9000", "service": service})


async def choice_problems(spec: Schema, flows: FlowSet, answers: dict[str, str]) -> list[str]:
    """What the bot sends to the API for these answers, checked against the OpenAPI."""
    booking = {"partner": "test-desk", "share_flags": "yes", "followup": "yes"}
    problems = body_problems(spec, REFERRALS, referral_fields(
        Conversation(answers={**answers, **booking}), CHAT_ID, "en"))
    problems += nearest_problems(spec, service_for(answers))
    if "followup" in flows.flows:
        problems += body_problems(spec, FOLLOWUP, {
            "token": TOKEN, "questionnaire_version": flows.flows["followup"].version,
            "answers": collected(Conversation(answers=dict(answers)))})
    signals, buffer = recorder()
    with bound(signals):
        conv = Conversation(answers=dict(answers))
        context = ActionContext(bot=cast(Any, None), chat_id=CHAT_ID, user_id=7, locale="en",
                                state=cast(Any, None), conversation=conv,
                                referrals=ReferralsClient.unconfigured())
        await record_obstacles_action(context)
        details = {flag for mapping in DETAIL.values() for flag in mapping.values()}
        for flag in flags_from(answers):
            if flag not in details:  # the main flags are counted (bot/handlers/flow.py)
                signals.emit("screening_flag", flag)
    return problems + signal_problems(spec, buffer.events)


async def closed_list_problems(flows_dir: Path, spec: Schema) -> list[str]:
    """Every way the flows in `flows_dir` and the bot's code can send the API a value outside
    its closed lists; [] when there is none."""
    flows = load_flows(flows_dir)
    problems: list[str] = []
    offered: dict[str, set[str]] = {}
    for flow in flows.flows.values():
        for node_id, node in flow.nodes.items():
            if not isinstance(node, QuestionNode):
                continue
            answers = [c for c in node.choices if c.saves]  # not a way out (🌐, Skip)
            offered.setdefault(node.save_as, set()).update(c.id for c in answers)
            for choice in answers:
                found = await choice_problems(spec, flows,
                                              {**BASELINE, node.save_as: choice.id})
                problems += [f"flows/{flow.id}.yaml, node {node_id!r} (save_as "
                             f"{node.save_as!r}): choice {choice.id!r} -> {p}" for p in found]
        # Opening a topic flow is a `topic_viewed` signal whose value is the flow id.
        signals, buffer = recorder()
        signals.screen(None, f"{flow.id}.{flow.start}", None)
        problems += [f"flows/{flow.id}.yaml (opened) -> {p}"
                     for p in signal_problems(spec, buffer.events)]
    # The other way: the ids bot/screening.py reads must be ones the flows offer, or the
    # flag (and the partner's service) silently disappears.
    for key, values, flag, _service in RULES:
        problems += [f"bot/screening.py reads {key}={v!r} (flag {flag}), which no flow offers "
                     f"(offered: {sorted(offered.get(key, ()))})"
                     for v in values if v not in offered.get(key, set())]
    for key, mapping in DETAIL.items():
        problems += [f"bot/screening.py reads {key}={v!r} (flag {flag}), which no flow offers "
                     f"(offered: {sorted(offered.get(key, ()))})"
                     for v, flag in mapping.items() if v not in offered.get(key, set())]
    return problems


async def test_the_shipped_flows_send_only_what_the_api_accepts(spec: Schema) -> None:
    problems = await closed_list_problems(FLOWS, spec)
    assert problems == [], "\n".join(problems)


def copy_with_choice(tmp_path: Path, flow: str, node: str, choice: str) -> Path:
    """A copy of flows/ where `node` of `flow` offers one more choice."""
    copy = tmp_path / "flows"
    shutil.copytree(FLOWS, copy)
    path = copy / f"{flow}.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    question = data["nodes"][node]
    new = {"id": choice, "label": "New choice"}
    if not question.get("multiple"):
        new["go"] = question["choices"][0]["go"]
    question["choices"].append(new)
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False),
                    encoding="utf-8")
    return copy


@pytest.mark.parametrize(("flow", "node", "choice", "field"), [
    ("booking", "topic", "holidays", "POST /v1/referrals: body.topic"),
    ("booking", "mode", "pigeon", "POST /v1/referrals: body.contact_mode"),
    ("followup", "q_income", "sometimes", "POST /v1/followup/answers: body.answers.income"),
    ("obstacles", "ask", "lottery", "signal obstacle_named: 'lottery'"),
])
async def test_a_new_choice_the_api_does_not_know_fails(
        tmp_path: Path, spec: Schema, flow: str, node: str, choice: str, field: str) -> None:
    problems = await closed_list_problems(copy_with_choice(tmp_path, flow, node, choice), spec)
    assert problems, "the contract test did not notice a choice the API refuses"
    assert all(f"flows/{flow}.yaml, node {node!r}" in p and f"choice {choice!r}" in p
               for p in problems), problems
    assert any(field in p for p in problems), problems


async def test_a_screening_answer_the_bot_reads_must_be_offered(tmp_path: Path,
                                                                spec: Schema) -> None:
    copy = tmp_path / "flows"
    shutil.copytree(FLOWS, copy)
    path = copy / "screening.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace(
        '{id: "yes", label: "Yes", go: q_older}', '{id: "yep", label: "Yes", go: q_older}'),
        encoding="utf-8")
    problems = await closed_list_problems(copy, spec)
    assert problems == ["bot/screening.py reads scr_pregnant='yes' (flag pregnant), which no "
                        "flow offers (offered: ['no', 'skip', 'yep'])"]


# --- the client's requests ------------------------------------------------------------------
def client_calls(flows: FlowSet) -> dict[str, Any]:
    """One call of every public method of ReferralsClient, with realistic arguments."""
    booked = Conversation(answers={"mode": "visit", "interpreter": "yes", "topic": "medical",
                                   "scr_medical": "yes", "scr_children": "yes",
                                   "scr_child_count": "two", "partner": "test-desk",
                                   "slot": slot_id(datetime.fromisoformat(
                                       "2026-05-04T10:00:00+02:00")),
                                   "share_flags": "yes", "followup": "yes"})
    signals, buffer = recorder()
    signals.emit("obstacle_named", "no_money", campaign="flyer-1", province="VOV")
    body = checked(ReferralCreate, **referral_fields(booked, CHAT_ID, "en", "+32470123456"),
                   signal=signals.ref())
    answers = collected(Conversation(answers={"info_source": "website", "reason_1": "health",
                                              "reason_2": "no_other", "income": "irregular"}))
    pseudonyms = signals.forget_pseudonyms()
    slot = datetime(2026, 5, 5, 9, 30, tzinfo=UTC)
    return {
        "nearest": lambda c: c.nearest(postcode="9000", service="medical", language="nl"),
        "cities": lambda c: c.cities(),
        "partner": lambda c: c.partner("test-desk"),
        "slots": lambda c: c.slots("test-desk"),
        "create_referral": lambda c: c.create_referral(body),
        "mine": lambda c: c.mine(CHAT_ID),
        "cancel": lambda c: c.cancel("ABCD2345", CHAT_ID),
        "reschedule": lambda c: c.reschedule("ABCD2345", CHAT_ID, slot),
        "change_phone": lambda c: c.change_phone("ABCD2345", CHAT_ID, "+32470123456"),
        "set_status": lambda c: c.set_status("ABCD2345", 5001, "contacted"),
        "relay_to_partner": lambda c: c.relay_to_partner("ABCD-2345", CHAT_ID, "Hello"),
        "relay_to_person": lambda c: c.relay_to_person("ABCD-2345", 5001, "Hello"),
        "followup_answers": lambda c: c.followup_answers(
            TOKEN, flows.flows["followup"].version, answers),
        "followup_stop": lambda c: c.followup_stop(chat_id=CHAT_ID),
        "followup_wave": lambda c: c.followup_wave(TOKEN),
        "record_signals": lambda c: c.record_signals(buffer.events),
        "forget_signals": lambda c: c.forget_signals(pseudonyms),
        "campaign": lambda c: c.campaign("flyer-1"),
        "forget": lambda c: c.forget(CHAT_ID),
        "voices": lambda c: c.voices(),
        "voice": lambda c: c.voice("fa_AF", "menu.welcome"),
        "voice_audio": lambda c: c.voice_audio("ar", "menu.welcome"),
        "remember_voice": lambda c: c.remember_voice("ar", "menu.welcome", "AwACAgQAAxkB-_x1",
                                                     datetime(2026, 12, 5, 8, tzinfo=UTC)),
    }


async def test_every_request_of_the_client_fits_the_openapi(spec: Schema) -> None:
    sent: list[httpx.Request] = []

    def api(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(503)

    calls = client_calls(load_flows(FLOWS))
    public = {name for name in vars(ReferralsClient)
              if not name.startswith("_")
              and name not in ("close", "unconfigured", "configured")}
    assert set(calls) == public, "give every client method a sample call here"
    client = ReferralsClient(httpx.AsyncClient(transport=httpx.MockTransport(api),
                                               base_url="http://api"), "token")
    problems: list[str] = []
    for name, call in calls.items():
        sent.clear()
        with pytest.raises(ApiUnavailable):
            await call(client)
        [request] = sent
        template, op = operation(spec, request.method, request.url.path)
        where = f"{name}(): {request.method} {template}"
        if request.content:
            problems += [f"{where}: {e}" for e in errors(spec, request_schema(op),
                                                         json.loads(request.content))]
        else:
            assert "requestBody" not in op, where
        params = {p["name"]: p for p in op.get("parameters", ()) if p["in"] == "query"}
        for key, value in request.url.params.items():
            allowed = enum_of(spec, params[key]["schema"]) if key in params else None
            if key not in params:
                problems.append(f"{where}: query parameter {key!r} is not one the API knows")
            elif allowed is not None and value not in allowed:
                problems.append(f"{where}: query.{key}: {value!r} is not one of {allowed}")
        # The answer is read with the API's own model (imported by bot.api_client).
        for model in component_names(spec, success_schema(op)):
            if not hasattr(sys.modules["bot.api_client"], model):
                problems.append(f"{where}: answers {model}, a model bot.api_client does not "
                                f"use")
    await client.close()
    assert problems == [], "\n".join(problems)


def test_the_client_refuses_locally_what_the_api_would_refuse() -> None:
    from bot.api_client import ApiRefused

    booked = Conversation(answers={"topic": "holidays", "partner": "test-desk"})
    with pytest.raises(ApiRefused) as refused:
        checked(ReferralCreate, **referral_fields(booked, CHAT_ID, "en"))
    assert (refused.value.status, refused.value.code) == (422, "refused")
    assert refused.value.detail["errors"][0]["loc"] == ("topic",)


# --- the bot's code and the API's own lists -----------------------------------------------------
def test_every_signal_the_bot_emits_with_a_fixed_value_is_in_the_closed_lists(
        spec: Schema) -> None:
    closed = values_by_event(spec)
    problems = []
    for path in sorted(BOT.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr == "emit" and node.args
                    and isinstance(node.args[0], ast.Constant)):
                continue
            where = f"{path.relative_to(PROJECT_DIR)}:{node.lineno}"
            event = node.args[0].value
            value = node.args[1] if len(node.args) > 1 else None
            if event not in closed:
                problems.append(f"{where}: signal event {event!r} is not one the API knows")
            elif isinstance(value, ast.Constant) and value.value not in closed[event]:
                problems.append(f"{where}: {event} {value.value!r} is not in {closed[event]}")
            elif value is None and closed[event]:
                problems.append(f"{where}: {event} needs a value from {closed[event]}")
    assert problems == [], "\n".join(problems)


def test_the_apis_own_copies_of_the_lists_agree() -> None:
    """Lists the API keeps as tuples for its tables and reports must equal its schema's."""
    assert get_args(ContactMode) == catalogue.CONTACT_MODES == referral_models.CONTACT_MODES
    assert get_args(CounsellorStatus) == referral_models.COUNSELLOR_STATUSES
    # The statuses a person hears about: the counsellors' and the staff app's "returned".
    assert get_args(NoticeStatus) == (*get_args(CounsellorStatus), "returned")
    assert not hasattr(referral_models, "TOPICS")


def test_the_bot_imports_only_the_apis_schemas() -> None:
    """The bot shares the API's pydantic schemas, never its database or web code."""
    script = ("import sys, bot.app; print('\\n'.join(sorted(m for m in sys.modules "
              "if m.split('.')[0] in ('referral_api', 'sqlalchemy', 'fastapi', 'starlette', "
              "'alembic'))))")
    loaded = subprocess.run([sys.executable, "-c", script], cwd=PROJECT_DIR, check=True,
                            capture_output=True, text=True).stdout.split()
    allowed = {"referral_api", "referral_api.partners", "referral_api.referrals",
               "referral_api.signals", "referral_api.followup",  # packages: docstrings only
               "referral_api.campaigns", "referral_api.outbox", "referral_api.translations",
               "referral_api.signals.catalogue", "referral_api.followup.questionnaire",
               "referral_api.outbox.messages"}  # the notices bot.notices renders
    wrong = [m for m in loaded if not (m.endswith(".schemas") or m in allowed)]
    assert wrong == [], wrong
