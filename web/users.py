"""Managing accounts, for the admin pages and the `cme users` command alike: add a user (with a
one-time password, or none for an OpenID Connect account), reset a password, disable an account,
and the first administrator `cme dev` makes. Each change is in the ``auth_event`` audit, with
who made it (an administrator's email, or ``method="cli"`` for the command)."""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine
from sqlmodel import Session

from activities.accounts import (
    AccountDetails,
    AccountPublic,
    AuthEvent,
    AuthOutcome,
    add_account,
    count_accounts,
    disable_account,
    end_account_sessions,
    find_account,
    record_auth_event,
    set_password,
)
from domain.case.model import Role
from web.passwords import Passwords, one_time_password

__all__ = [
    "FIRST_ADMIN_EMAIL",
    "FIRST_ADMIN_FILE",
    "FirstAdmin",
    "NewUser",
    "add_user",
    "disable_user",
    "ensure_first_admin",
    "reset_password",
]

FIRST_ADMIN_EMAIL = "admin@localhost"
FIRST_ADMIN_NAME = "First Administrator"
FIRST_ADMIN_FILE = "first-admin-password"  # in the data directory, for its owner only


@dataclass(frozen=True)
class NewUser:
    account: AccountPublic
    one_time_password: str | None  # None: the account signs in with OpenID Connect only


def _now() -> datetime:
    return datetime.now(UTC)


def add_user(
    *,
    session: Session,
    details: AccountDetails,
    oidc_only: bool,
    passwords: Passwords,
    by: str | None,
    method: str,
    at: datetime | None = None,
) -> NewUser:
    """Add an account: with a one-time password (to be changed at the first sign-in), or none
    (``oidc_only``). :class:`activities.accounts.AccountExists` when the email is taken."""
    when = at or _now()
    password = None if oidc_only else one_time_password()
    account = add_account(
        session=session,
        details=details,
        password_hash=passwords.hash(password) if password else None,
        must_change_password=password is not None,
        at=when,
    )
    record_auth_event(
        session=session,
        event=AuthEvent.ACCOUNT_ADDED,
        outcome=AuthOutcome.SUCCESS,
        method=method,
        email=account.email,
        account_id=account.id,
        by_email=by,
        detail=f"{account.role}{' (OpenID Connect only)' if oidc_only else ''}",
        at=when,
    )
    return NewUser(account, password)


def reset_password(
    *,
    session: Session,
    account: AccountPublic,
    passwords: Passwords,
    by: str | None,
    method: str,
    at: datetime | None = None,
) -> str:
    """A new one-time password for ``account`` (to be changed at the next sign-in); its
    sessions end. Returns the password."""
    when = at or _now()
    password = one_time_password()
    set_password(
        session=session,
        account_id=account.id,
        password_hash=passwords.hash(password),
        must_change_password=True,
        at=when,
    )
    end_account_sessions(session=session, account_id=account.id)
    record_auth_event(
        session=session,
        event=AuthEvent.PASSWORD_RESET,
        outcome=AuthOutcome.SUCCESS,
        method=method,
        email=account.email,
        account_id=account.id,
        by_email=by,
        at=when,
    )
    return password


def disable_user(
    *,
    session: Session,
    account: AccountPublic,
    by: str | None,
    method: str,
    at: datetime | None = None,
) -> bool:
    """Disable ``account`` and end its sessions; whether it was enabled until now."""
    when = at or _now()
    _, changed = disable_account(session=session, account_id=account.id, at=when)
    if changed:
        record_auth_event(
            session=session,
            event=AuthEvent.ACCOUNT_DISABLED,
            outcome=AuthOutcome.SUCCESS,
            method=method,
            email=account.email,
            account_id=account.id,
            by_email=by,
            at=when,
        )
    return changed


@dataclass(frozen=True)
class FirstAdmin:
    email: str
    password_file: Path


def ensure_first_admin(
    *, engine: Engine, data_dir: Path, passwords: Passwords
) -> FirstAdmin | None:
    """`cme dev`: when the register has no account at all, an administrator
    (:data:`FIRST_ADMIN_EMAIL`) whose one-time password is written to ``data_dir /
    FIRST_ADMIN_FILE`` (readable by its owner only); it must be changed at the first sign-in.
    Returns where it is while that password is still the one to use (``None`` once changed: the
    file is then deleted)."""
    path = data_dir / FIRST_ADMIN_FILE
    with Session(engine) as session:
        if count_accounts(session=session) == 0:
            new = add_user(
                session=session,
                details=AccountDetails(
                    email=FIRST_ADMIN_EMAIL, display_name=FIRST_ADMIN_NAME, role=Role.ADMIN
                ),
                oidc_only=False,
                passwords=passwords,
                by=None,
                method="cli",
            )
            assert new.one_time_password is not None
            _write_owner_only(
                path,
                f"{FIRST_ADMIN_EMAIL}\n{new.one_time_password}\n"
                "# the first administrator's one-time password: change it when you first sign in\n",
            )
            return FirstAdmin(FIRST_ADMIN_EMAIL, path)
        admin = find_account(session=session, email=FIRST_ADMIN_EMAIL)
    if path.exists() and (admin is None or not admin.must_change_password or admin.disabled):
        with contextlib.suppress(FileNotFoundError):
            path.unlink()  # changed (or gone): the file holds nothing of use
        return None
    return FirstAdmin(FIRST_ADMIN_EMAIL, path) if path.exists() else None


def _write_owner_only(path: Path, text: str) -> None:
    """``text`` in ``path``, for its owner only (0600) from its first byte."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}")
    with contextlib.suppress(FileNotFoundError):
        partial.unlink()
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, text.encode())
    finally:
        os.close(fd)
    os.replace(partial, path)
