"""Outbox: messages to send (partner cards, notices, reminders, relay, follow-up waves), queued
with each change (`service`, in the typed format of `messages`) and delivered by the worker
(`worker`, `claims`, `delivery`; `python -m referral_api.outbox`). Imports no other domain."""
