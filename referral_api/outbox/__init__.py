"""Outbox: messages to send (partner cards, notices, reminders, relay), drained by the worker."""
