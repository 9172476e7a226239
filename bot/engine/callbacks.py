"""Callback data carried by buttons: short ids only, never display text (fits 64 bytes)."""

from aiogram.filters.callback_data import CallbackData


class NodeCb(CallbackData, prefix="n"):
    """A press on a flow button: flow id, node id, choice id, flow version."""

    f: str
    n: str
    c: str
    v: int


class LangCb(CallbackData, prefix="lang"):
    code: str


class AnswerCb(CallbackData, prefix="ans"):
    """"↩️ Answer" on a counsellor's message, sent by the worker when no conversation may
    exist: r: the contact's reference (the API checks it belongs to the pressing chat)."""

    r: str


class OfferCb(CallbackData, prefix="offer"):
    """"Send this to your counsellor?" under text the person typed: yes | no. The text is not
    kept anywhere: the offer is a reply to it, and Telegram gives it back with the press."""

    a: str


class FollowupCb(CallbackData, prefix="fu"):
    """A button of a follow-up wave message, sent by the worker when no conversation may
    exist: a: start | later | stop | retry; t: the wave's opaque token (never a chat id)."""

    a: str
    t: str
