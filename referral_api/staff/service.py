"""Staff accounts (argon2 passwords) and the audit log.

Who may do what is checked where it is done: each domain's service scopes its own staff pages
(`referrals.staff`, `admin.service`, `campaigns.service`, …) and writes an audit record
(`audit`) with every view of personal data and every change, in the same transaction.
"""

from __future__ import annotations

import logging
from datetime import datetime
from functools import cache

from argon2 import (
    DEFAULT_MEMORY_COST,
    DEFAULT_PARALLELISM,
    DEFAULT_TIME_COST,
    PasswordHasher,
)
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from referral_api.clock import Clock
from referral_api.errors import Conflict, Forbidden, Invalid, NotFound
from referral_api.partners.models import Partner
from referral_api.passwords import PasswordChecks, strong_enough
from referral_api.settings import Settings
from referral_api.staff.models import LOCALES, ROLES, AuditRecord, StaffAccount

logger = logging.getLogger(__name__)




@cache
def _argon2(time_cost: int, memory_cost: int, parallelism: int) -> PasswordHasher:
    return PasswordHasher(time_cost=time_cost, memory_cost=memory_cost, parallelism=parallelism)


def password_hasher(settings: Settings) -> PasswordHasher:
    """The argon2id hasher with the cost in ARGON2_TIME_COST, ARGON2_MEMORY_COST and
    ARGON2_PARALLELISM (argon2-cffi's defaults unless set); one per cost, built when first
    asked for."""
    return _argon2(settings.argon2_time_cost, settings.argon2_memory_cost,
                   settings.argon2_parallelism)


def default_password_hasher() -> PasswordHasher:
    """The hasher of an AccountService given none: argon2-cffi's default cost."""
    return _argon2(DEFAULT_TIME_COST, DEFAULT_MEMORY_COST, DEFAULT_PARALLELISM)



def normalize_email(email: str) -> str:
    return email.strip().lower()


def staff_actor(account: StaffAccount) -> str:
    return f"staff:{account.id}"


def display_name(account: StaffAccount) -> str:
    """How a staff member is named to colleagues (history, cards): their display name, else
    their email's local part."""
    return account.display_name or account.email.split("@", 1)[0]


class AccountService:
    def __init__(self, session: AsyncSession, clock: Clock,
                 hasher: PasswordHasher | None = None,
                 passwords: PasswordChecks | None = None) -> None:
        """`passwords`: the process's bounded password checks (the API's AppContext); else
        checks of their own with `hasher` (the command line, tests)."""
        self.session = session
        self.clock = clock
        self.passwords = passwords or PasswordChecks(
            hasher if hasher is not None else default_password_hasher())

    async def create(self, *, email: str, password: str, role: str,
                     partner_id: str | None = None, locale: str = "nl",
                     by: StaffAccount | None = None,
                     languages: str | None = None) -> StaffAccount:
        """A new active account; commits. Raises Invalid or Conflict("email_taken")."""
        email = normalize_email(email)
        local, _, domain = email.partition("@")
        if not local or "." not in domain or len(email) > 254 or " " in email:
            raise Invalid("invalid_email")
        if not strong_enough(password, email):
            raise Invalid("weak_password")
        partner_id = await self._checked_assignment(role, partner_id, locale)
        languages = _checked_languages(role, languages)
        if await self.session.scalar(select(StaffAccount.id).where(StaffAccount.email == email)):
            raise Conflict("email_taken")
        account = StaffAccount(email=email, password_hash=await self.passwords.hash(password),
                               role=role,
                               partner_id=partner_id, locale=locale, active=True,
                               languages=languages,
                               created_at=self.clock())
        self.session.add(account)
        await self.session.flush()
        if by is not None:
            audit(self.session, by, "create_account", detail=f"{account.id}:{role}",
                  now=self.clock())
        await self.session.commit()
        logger.info("staff account %d created (%s)", account.id, role)
        return account

    async def _checked_assignment(self, role: str, partner_id: str | None,
                                  locale: str) -> str | None:
        """Validate a role, partner and language for an account; the partner id or None."""
        if role not in ROLES:
            raise Invalid("invalid_role")
        if locale not in LOCALES:
            raise Invalid("invalid_locale")
        partner_id = partner_id or None
        if role == "counsellor" and partner_id is None:
            raise Invalid("partner_required")
        if partner_id is not None and await self.session.get(Partner, partner_id) is None:
            raise Invalid("unknown_partner")
        return partner_id

    async def authenticate(self, email: str, password: str) -> StaffAccount | None:
        """The active account with this e-mail and password, else None (same work either way).
        No database connection is held during the password check (it runs in a thread,
        bounded: PasswordChecks; raises Busy when too many wait). A successful login is
        audited; commits."""
        dummy = await self.passwords.dummy_hash()  # an unknown e-mail costs the same work
        found = (await self.session.execute(
            select(StaffAccount.id, StaffAccount.password_hash)
            .where(StaffAccount.email == normalize_email(email)))).first()
        await self.session.commit()  # ends the transaction: the connection goes back
        if not await self.passwords.verify(found.password_hash if found else dummy, password):
            return None
        account = await self.session.get(StaffAccount, found.id) if found else None
        if account is None or not account.active:
            return None
        if self.passwords.needs_rehash(account.password_hash):
            account.password_hash = await self.passwords.hash(password)
        audit(self.session, account, "login", now=self.clock())
        await self.session.commit()
        return account

    async def active(self, account_id: int, session_epoch: int | None = None,
                     ) -> StaffAccount | None:
        """The account of a session cookie: None when it is inactive or the cookie's epoch is
        not the account's current one (logged out, deactivated or given a new password)."""
        account = await self.session.get(StaffAccount, account_id)
        if account is None or not account.active or account.session_epoch != session_epoch:
            return None
        return account

    async def logout(self, account: StaffAccount) -> None:
        """End every session of the account (all its cookies stop working)."""
        account.session_epoch += 1
        audit(self.session, account, "logout", now=self.clock())
        await self.session.commit()

    async def get_for_admin(self, account_id: int, by: StaffAccount) -> StaffAccount:
        require_admin(by)
        account = await self.session.get(StaffAccount, account_id)
        if account is None:
            raise NotFound()
        return account

    async def set_active(self, account_id: int, active: bool, *,
                         by: StaffAccount) -> StaffAccount:
        """Deactivate (logged out everywhere at once) or reactivate an account; admins only,
        never their own account. Audited; commits."""
        account = await self.get_for_admin(account_id, by)
        if account.id == by.id and not active:
            raise Forbidden("cannot_deactivate_self")
        if account.active != active:
            account.active = active
            if not active:
                account.session_epoch += 1
            audit(self.session, by, "reactivate_account" if active else "deactivate_account",
                  detail=str(account.id), now=self.clock())
        await self.session.commit()
        logger.info("staff account %d %s", account.id, "reactivated" if active else "deactivated")
        return account

    async def reset_password(self, account_id: int, password: str, *,
                             by: StaffAccount) -> StaffAccount:
        """An admin sets a new password: the account's sessions end at once (the admin's own
        too, when it is theirs). Audited (never the password); commits."""
        account = await self.get_for_admin(account_id, by)
        if not strong_enough(password, account.email):
            raise Invalid("weak_password")
        account.password_hash = await self.passwords.hash(password)
        account.session_epoch += 1
        audit(self.session, by, "reset_password", detail=str(account.id), now=self.clock())
        await self.session.commit()
        logger.info("staff account %d: new password set by an admin", account.id)
        return account

    async def update(self, account_id: int, *, role: str, partner_id: str | None,
                     locale: str, by: StaffAccount,
                     languages: str | None = None) -> list[str]:
        """An admin changes an account's role, partner or language; the names of the fields
        changed (audited as such). Admins cannot change their own role. Rights follow at once:
        the account is reloaded on every request. Raises Invalid or Forbidden; commits."""
        account = await self.get_for_admin(account_id, by)
        partner_id = await self._checked_assignment(role, partner_id, locale)
        if account.id == by.id and role != account.role:
            raise Forbidden("cannot_change_own_role")
        wanted = {"role": role, "partner_id": partner_id, "locale": locale,
                  "languages": _checked_languages(role, languages)}
        changed = [name for name, value in wanted.items() if getattr(account, name) != value]
        for name in changed:
            setattr(account, name, wanted[name])
        if changed:
            audit(self.session, by, "update_account",
                  detail=f"{account.id}:{','.join(changed)}", now=self.clock())
        await self.session.commit()
        return changed

    async def change_own_password(self, account: StaffAccount, current: str,
                                  new: str) -> None:
        """Anyone changes their own password, proving the current one; every session of the
        account ends (log in again). Audited (never a password); commits."""
        await self.session.commit()  # no connection held during the password check
        if not await self.passwords.verify(account.password_hash, current):
            raise Invalid("wrong_password")
        if not strong_enough(new, account.email):
            raise Invalid("weak_password")
        account.password_hash = await self.passwords.hash(new)
        account.session_epoch += 1
        audit(self.session, account, "change_password", now=self.clock())
        await self.session.commit()
        logger.info("staff account %d changed its password", account.id)

    async def all_accounts(self, by: StaffAccount) -> list[StaffAccount]:
        require_admin(by)
        return list(await self.session.scalars(
            select(StaffAccount).order_by(StaffAccount.email)))

    async def partner_ids(self) -> list[str]:
        return list(await self.session.scalars(select(Partner.id).order_by(Partner.id)))


def require_admin(account: StaffAccount) -> None:
    if account.role != "admin":
        raise NotFound()  # admin pages do not exist for anyone else


def _checked_languages(role: str, languages: str | None) -> str | None:
    """A translator's languages (already checked against the shipped ones by the page); other
    roles have none."""
    if role != "translator":
        return None
    if not languages:
        raise Invalid("languages_required")
    return languages


def audit(session: AsyncSession, account: StaffAccount, action: str, *, now: datetime,
          referral_id: int | None = None, detail: str | None = None) -> None:
    """Add an audit record to the caller's transaction (the caller commits)."""
    session.add(AuditRecord(account_id=account.id, action=action, referral_id=referral_id,
                            detail=detail, at=now))
