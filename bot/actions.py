"""Everything flows may name (actions, getters, conditions, readers), registered by the
features that provide them."""

from __future__ import annotations

from bot.engine.actions import ActionContext, ActionRegistry
from bot.signals import current as signals

OBSTACLES_KEY = "obstacles"  # save_as of flows/obstacles.yaml


async def record_obstacles_action(ctx: ActionContext) -> str | None:
    """Count each ticked obstacle as an anonymous signal, then forget the answer: it is not
    needed for anything else and the conversation should not keep it."""
    answer = ctx.conversation.answers.pop(OBSTACLES_KEY, None)
    for obstacle in (answer or "").split(","):
        if obstacle:
            signals().emit("obstacle_named", obstacle, campaign=ctx.conversation.campaign)
    return None


def create_action_registry() -> ActionRegistry:
    from bot import booking, countries
    from bot.handlers import campaign, commands, followup, language

    registry = ActionRegistry()
    registry.register("set_language", language.set_language, outcomes=("unknown",))
    registry.getter("languages", language.languages, language.languages_sample,
                    fields=("name",), id_bytes=8)
    registry.reader("campaign_code", campaign.read_code, outcomes=("invalid", "unknown"))
    booking.register(registry)
    registry.getter("countries", countries.countries, countries.countries_sample,
                    fields=("name",), id_bytes=6)
    registry.getter("country", countries.country, countries.country_sample,
                    provides=("country",))
    registry.register("forget_country", countries.forget_country)
    registry.getter("privacy", commands.privacy, commands.privacy_sample,
                    provides=("language_days", "state_days", "days", "keep_days"))
    for name in ("country_not_asked", "no_money", "aid_announced", "entry_ban_claim_ok"):
        registry.condition(name, getattr(countries, name))
    followup.register_actions(registry)
    registry.register("record_obstacles", record_obstacles_action)
    return registry
