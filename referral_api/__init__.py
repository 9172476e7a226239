"""The referral API (FastAPI): partners, slots, referrals, relay, forget, and the outbox.

It owns the database (PostgreSQL; SQLite for the demo): the bot keeps no personal data of its
own and calls this API with a service token. Contract: docs/referral-api.md.

    create_app(settings)            referral_api.app — the application factory
    python -m referral_api          serve with uvicorn; `seed-partners FILE`, `upgrade`
    upgrade_database(url)           referral_api.db.migrate — Alembic, programmatically
    purge_expired(session, …)       referral_api.referrals.service — retention (the worker)
"""
