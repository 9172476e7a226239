from bot.engine.actions import HANDLED, ActionContext


async def ask_campaign_code_action(ctx: ActionContext) -> str | None:
    return HANDLED
