"""Staff pages of the translation review (issue 18): /staff/translations.

A translator (a partner's cultural mediator; the admin gives the role and the languages) sees
each screen of the bot in their language as a person sees it, rendered by the real engine
(right-to-left where the language is), with the English beside; approves or corrects each
string in context; records a voice for the key screens. Everyone else but admins gets 404, and
translators get 404 everywhere else in the staff app (``web.auth``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Form, Request, UploadFile
from fastapi.responses import Response

from referral_api.dependencies import ContextDep, SessionDep
from referral_api.errors import Invalid, NotFound
from referral_api.translations.schemas import SCREEN_PATTERN
from referral_api.translations.service import (
    MAX_VOICE_BYTES,
    Screens,
    TranslationService,
)
from referral_api.web.auth import StaffDep, staff_router
from referral_api.web.pages import redirect, render, shown_error, shown_notice

ScreensFactory = Callable[[], Screens]
SCREENS = "translation_screens"  # app.state: the gallery (built on first use)
SCREEN_ID = re.compile(SCREEN_PATTERN)


def gallery(request: Request) -> Screens:
    state = request.app.state
    built: Screens | None = getattr(state, SCREENS + "_built", None)
    if built is None:
        built = getattr(state, SCREENS)()
        setattr(state, SCREENS + "_built", built)
    return built


def translation_service(request: Request, account: StaffDep, session: SessionDep,
                        context: ContextDep) -> TranslationService:
    found = TranslationService(session, account, gallery(request), context.clock())
    if not found.languages():
        raise NotFound("page")  # not a translator, nor an admin: no such page
    return found


ServiceDep = Annotated[TranslationService, Depends(translation_service)]


def at_screen(response: Response, screen: str) -> Response:
    """Back to the screen the form was on (its anchor), not to the top of a long page."""
    if SCREEN_ID.fullmatch(screen):
        response.headers["location"] += f"#screen-{screen}"
    return response


def install(app: FastAPI, screens: ScreensFactory) -> None:
    """The pages, on the gallery ``screens()`` gives (built once, on first use)."""
    setattr(app.state, SCREENS, screens)
    app.include_router(create_router())


def create_router() -> APIRouter:
    router = staff_router("/translations")

    @router.get("")
    async def languages(request: Request, service: ServiceDep) -> Response:
        counts = await service.counts()
        return render(request, "translations.html", languages=[
            (code, name, counts.get(code, 0)) for code, name in service.languages()])

    @router.get("/{locale}")
    async def language(request: Request, locale: str,
                       service: ServiceDep,
                       flow: str = "", done: str = "", error: str = "") -> Response:
        reviews = await service.reviews(locale)
        flows = service.gallery.flow_names()
        chosen = flow if flow in flows else flows[0]
        overrides = {msgid: r.text for msgid, r in reviews.items()}
        english = {p.screen: p for p in service.gallery.screens("en", only=chosen)}
        screens = service.gallery.screens(locale, overrides, only=chosen)
        recordings = await service.recordings(locale)
        name = dict(service.languages())[locale]
        return render(request, "translation_screens.html", code=locale, name=name,
                      flows=flows, flow=chosen, screens=screens, english=english,
                      reviews=reviews, key_screens=service.gallery.key_screens,
                      recordings=recordings,
                      text_of=lambda msgid: overrides.get(msgid)
                      or service.gallery.catalogue(locale, msgid),
                      is_label=service.gallery.is_label, max_voice=MAX_VOICE_BYTES,
                      notice=shown_notice(done), error=shown_error(error))

    @router.post("/{locale}/review")
    async def review(locale: str, service: ServiceDep,
                     msgid: Annotated[str, Form(max_length=4000)],
                     verdict: Annotated[str, Form(max_length=16)],
                     flow: Annotated[str, Form(max_length=40)] = "",
                     screen: Annotated[str, Form(max_length=80)] = "",
                     text: Annotated[str, Form(max_length=4000)] = "") -> Response:
        try:
            await service.review(locale, msgid, text, verdict)
        except Invalid as exc:
            return at_screen(redirect(f"/translations/{locale}", flow=flow, error=exc.code),
                             screen)
        return at_screen(redirect(f"/translations/{locale}", flow=flow,
                                  done="translation_saved"), screen)

    @router.post("/{locale}/voice")
    async def voice(locale: str, service: ServiceDep,
                    screen: Annotated[str, Form(max_length=80)],
                    audio: UploadFile,
                    flow: Annotated[str, Form(max_length=40)] = "") -> Response:
        data = await audio.read(MAX_VOICE_BYTES + 1)
        try:
            await service.record(locale, screen, data, service.gallery.key_screens)
        except Invalid as exc:
            return redirect(f"/translations/{locale}", flow=flow, error=exc.code)
        return at_screen(redirect(f"/translations/{locale}", flow=flow, done="voice_saved"),
                         screen)

    @router.get("/{locale}/voice/{screen}.ogg")
    async def listen(locale: str, screen: str,
                     service: ServiceDep) -> Response:
        audio = await service.audio(locale, screen)
        if audio is None:
            raise NotFound("recording")
        return Response(audio, media_type="audio/ogg")

    return router
