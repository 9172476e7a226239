"""Translations reviewed in context (issue 18): cultural mediators with the `translator` role
approve or correct the bot's strings screen by screen, and record voice for key screens."""
