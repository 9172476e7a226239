from bot.engine.actions import HANDLED, ActionContext


async def choose_language_action(ctx: ActionContext) -> str | None:
    return HANDLED
