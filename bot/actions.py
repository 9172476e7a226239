"""The action hooks flows may name. Later features register theirs here."""

from __future__ import annotations

from bot.engine.actions import ActionRegistry


def create_action_registry() -> ActionRegistry:
    from bot.handlers import campaign, language

    registry = ActionRegistry()
    registry.register("choose_language", language.choose_language_action)
    registry.register("ask_campaign_code", campaign.ask_campaign_code_action)
    return registry
