"""The referral API (FastAPI): partners, referrals, consents, signals, follow-up surveys.

A stub in the foundation issue; the booking issue builds it. It will own the database: the bot
keeps no personal data of its own.
"""
