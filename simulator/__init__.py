"""A minimal Bot API-compatible server and a web chat, so that people without a Telegram
account (content editors, outreach workers) and the tests talk to the real bot."""
