"""The action hooks flows may name. Later features register theirs here."""

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
    from bot.handlers import booking, campaign, followup, language

    registry = ActionRegistry()
    registry.register("choose_language", language.choose_language_action)
    registry.register("ask_campaign_code", campaign.ask_campaign_code_action)
    registry.register("ask_location", booking.ask_location_action)
    registry.register("ask_postcode", booking.ask_postcode_action)
    registry.register("pick_city", booking.pick_city_action)
    registry.register("pick_slot", booking.pick_slot_action)
    registry.register("show_consent", booking.show_consent_action)
    followup.register_actions(registry)
    registry.register("record_obstacles", record_obstacles_action)
    return registry
