"""The action hooks flows may name. Later features register theirs here."""

from __future__ import annotations

from bot.engine.actions import ActionRegistry


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
    return registry
