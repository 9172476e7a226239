"""The web chat: our own Bot API-compatible server for a second aiogram Bot, and the page
people use at /chat (issue 19; docs/webchat.md)."""
