"""The web app's people in the register: local accounts, their sessions, and the audit of
sign-ins, sign-outs and account changes.

Tables (on the register's :data:`~activities.register.METADATA`, so Alembic's revisions and
`alembic check` see them):

* ``account``: a person who signs in to the web app: email (unique, lower case), display name,
  role (one of :data:`ACCOUNT_ROLES`), the schools a school user acts for (LAESTABs), an argon2
  password hash (none for an account that signs in with OpenID Connect only), whether the
  password must be changed at the next sign-in (a one-time password), when it was disabled,
  the OpenID Connect identity it is linked to (issuer and subject), and when it was created,
  last signed in and last had its password changed. Accounts are disabled, never deleted: the
  audit and the cases' logs name them.
* ``web_session``: a browser's session, keyed by a keyed hash of the random token its cookie
  holds (the token itself is never stored): the account signed in (none before sign-in), the
  session's data (``request.session``: the CSRF token, an OpenID Connect sign-in's state), when
  it began, was last used, and when it ends whatever happens.
* ``auth_event``: every sign-in attempt (who, when, how: local or oidc, the outcome, the client
  address), every sign-out and every change to an account (added, disabled, password changed or
  reset, by whom). Sign-in throttling counts its failures, so every web process shares it.

There are no professional accounts: a professional's referral of a child on no school roll is
entered by a CME officer (who may use every referral form), and the service role is the case's
own. :class:`AccountDetails` checks a new account with the boundary types of
:mod:`domain.types`, for the `cme users` command and the admin pages alike.

Functions are keyword-only, take the session and commit their own work.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, field_validator, model_validator
from sqlalchemy import (
    JSON,
    CheckConstraint,
    ForeignKeyConstraint,
    Index,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy import delete as sa_delete
from sqlalchemy import update as sa_update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, Session, col, select

from activities.register import _Model, _tz_column, _utc, _UtcTimes
from domain.case.model import Role
from domain.types import EmailAddress, Laestab, PersonName

__all__ = [
    "ACCOUNT_ROLES",
    "AccountDetails",
    "AccountExists",
    "AccountPublic",
    "AccountRow",
    "AuthEvent",
    "AuthEventPublic",
    "AuthEventRow",
    "AuthOutcome",
    "WebSessionPublic",
    "WebSessionRow",
    "add_account",
    "bind_oidc_identity",
    "count_accounts",
    "create_web_session",
    "delete_web_session",
    "disable_account",
    "end_account_sessions",
    "find_account",
    "find_account_by_oidc_identity",
    "get_account",
    "get_web_session",
    "list_accounts",
    "list_auth_events",
    "password_hash_of",
    "purge_web_sessions",
    "record_auth_event",
    "record_sign_in",
    "save_web_session",
    "set_password",
    "sign_in_failures",
]

# The roles a person's account can have: every role of the domain but the service (the case's
# own) and professionals (their referrals are entered by a CME officer).
ACCOUNT_ROLES: tuple[Role, ...] = (
    Role.SCHOOL,
    Role.CME_OFFICER,
    Role.TEAM_LEADER,
    Role.MASH,
    Role.MANAGER,
    Role.ADMIN,
)
_ROLE_CHECK = "role IN (" + ", ".join(f"'{r.value}'" for r in ACCOUNT_ROLES) + ")"


def _now() -> datetime:
    return datetime.now(UTC)


def _aware(value: datetime) -> datetime:
    """Aware UTC (a naive value, as SQLite returns them, is taken to be UTC already)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# -- account ---------------------------------------------------------------------------------------


class AccountBase(_Model):
    email: str = Field(max_length=254)  # lower case; unique
    display_name: str = Field(max_length=100)
    role: str = Field(max_length=40)
    schools: list[str] = Field(default_factory=list, sa_type=JSON)  # LAESTABs (school users)
    must_change_password: bool = False
    disabled_at: datetime | None = Field(default=None, sa_type=_tz_column())
    oidc_issuer: str | None = Field(default=None, max_length=500)
    oidc_subject: str | None = Field(default=None, max_length=255)
    created_at: datetime = Field(sa_type=_tz_column())
    last_sign_in_at: datetime | None = Field(default=None, sa_type=_tz_column())
    password_changed_at: datetime | None = Field(default=None, sa_type=_tz_column())


class AccountRow(AccountBase, table=True):
    __tablename__ = "account"
    __table_args__ = (
        UniqueConstraint("email", name="uq_account_email"),
        UniqueConstraint("oidc_issuer", "oidc_subject", name="uq_account_oidc_identity"),
        CheckConstraint(_ROLE_CHECK, name="role"),
    )
    id: int | None = Field(default=None, primary_key=True)
    # argon2 (argon2-cffi's encoded form); None: signs in with OpenID Connect only
    password_hash: str | None = Field(default=None, sa_type=Text)


class AccountPublic(AccountBase, _UtcTimes):
    """An account as the app sees it: never its password hash."""

    id: int
    has_password: bool = False

    @property
    def disabled(self) -> bool:
        return self.disabled_at is not None

    @property
    def role_value(self) -> Role:
        return Role(self.role)


def _public(row: AccountRow) -> AccountPublic:
    return AccountPublic.model_validate(
        {**row.model_dump(exclude={"password_hash"}), "has_password": bool(row.password_hash)}
    )


class AccountDetails(BaseModel):
    """A new account, checked: a school user acts for one or more schools, anyone else for none.
    Each error is reported against its field (``email``, ``display_name``, ``role``,
    ``schools``) in the words of :mod:`domain.types`."""

    model_config = ConfigDict(frozen=True, hide_input_in_errors=True)

    email: EmailAddress
    display_name: PersonName
    role: Role
    schools: tuple[Laestab, ...] = ()

    @field_validator("email")
    @classmethod
    def _lower(cls, email: str) -> str:
        return email.lower()

    @field_validator("role")
    @classmethod
    def _account_role(cls, role: Role) -> Role:
        return check_role(role, ACCOUNT_ROLES, "an account")

    @field_validator("schools")
    @classmethod
    def _distinct(cls, schools: tuple[str, ...]) -> tuple[str, ...]:
        return distinct_schools(schools)

    @model_validator(mode="after")
    def _schools_for_school_users(self) -> AccountDetails:
        check_schools(self.role, self.schools, "user", "")
        return self


def check_role(role: Role, allowed: Iterable[Role], holder: str) -> Role:
    """``role``, if it is one a ``holder`` (an account, an API client) may have."""
    allowed = tuple(allowed)
    if role not in allowed:
        raise ValueError(
            f"{role.value} is not a role for {holder}; choose one of "
            + ", ".join(r.value for r in allowed)
        )
    return role


def distinct_schools(schools: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(schools))


def check_schools(role: Role, schools: tuple[str, ...], noun: str, others: str) -> None:
    """A school's ``noun`` (user, client) acts for one or more schools; ``others`` (what any
    other role is called after its role's name) for none."""
    if role is Role.SCHOOL and not schools:
        raise ValueError(
            f"schools: a school {noun} acts for one or more schools: give each school's "
            "7-digit LAESTAB, e.g. 8512000"
        )
    if role is not Role.SCHOOL and schools:
        raise ValueError(
            f"schools: only a school {noun} acts for schools; a "
            f"{role.value.replace('_', ' ')}{others} acts for none"
        )


class AccountExists(Exception):
    """An account with this email address is already there."""

    def __init__(self, email: str) -> None:
        super().__init__(f"there is already an account for {email}")
        self.email = email


def add_account(
    *,
    session: Session,
    details: AccountDetails,
    password_hash: str | None,
    must_change_password: bool,
    at: datetime | None = None,
) -> AccountPublic:
    """A new account; :class:`AccountExists` when its email address is taken."""
    when = _utc(at) or _now()
    row = AccountRow(
        email=details.email,
        display_name=details.display_name,
        role=details.role.value,
        schools=list(details.schools),
        password_hash=password_hash,
        must_change_password=must_change_password,
        created_at=when,
        password_changed_at=when if password_hash else None,
    )
    session.add(row)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        raise AccountExists(details.email) from None
    session.refresh(row)
    return _public(row)


def get_account(*, session: Session, account_id: int) -> AccountPublic | None:
    row = session.get(AccountRow, account_id)
    return _public(row) if row is not None else None


def find_account(*, session: Session, email: str) -> AccountPublic | None:
    """The account with this email address (case does not matter)."""
    row = session.exec(select(AccountRow).where(AccountRow.email == email.strip().lower())).first()
    return _public(row) if row is not None else None


def find_account_by_oidc_identity(
    *, session: Session, issuer: str, subject: str
) -> AccountPublic | None:
    """The account bound to this OpenID Connect identity (issuer and subject), if any."""
    row = session.exec(
        select(AccountRow).where(
            AccountRow.oidc_issuer == issuer, AccountRow.oidc_subject == subject
        )
    ).first()
    return _public(row) if row is not None else None


def bind_oidc_identity(
    *, session: Session, account_id: int, issuer: str, subject: str
) -> AccountPublic | None:
    """Bind the account to an OpenID Connect identity, if it is bound to none yet (in one
    statement, so that two first sign-ins cannot both bind it); the account, or ``None`` when it
    was bound already, or the identity is another account's."""
    try:
        result = session.exec(
            sa_update(AccountRow)
            .where(col(AccountRow.id) == account_id, col(AccountRow.oidc_issuer).is_(None))
            .values(oidc_issuer=issuer, oidc_subject=subject)
        )
        session.commit()
    except IntegrityError:  # the identity is bound to another account
        session.rollback()
        return None
    if not result.rowcount:
        return None
    return get_account(session=session, account_id=account_id)


def password_hash_of(*, session: Session, account_id: int) -> str | None:
    """The account's password hash, for checking a password: nothing else reads it."""
    row = session.get(AccountRow, account_id)
    return row.password_hash if row is not None else None


def list_accounts(*, session: Session) -> list[AccountPublic]:
    """Every account, by email address."""
    rows = session.exec(select(AccountRow).order_by(col(AccountRow.email)))
    return [_public(row) for row in rows]


def count_accounts(*, session: Session) -> int:
    return int(session.exec(select(func.count()).select_from(AccountRow)).one())


def _row(session: Session, account_id: int) -> AccountRow:
    row = session.get(AccountRow, account_id)
    if row is None:
        raise LookupError(f"no account {account_id}")
    return row


def set_password(
    *,
    session: Session,
    account_id: int,
    password_hash: str,
    must_change_password: bool,
    at: datetime | None = None,
) -> AccountPublic:
    """A new password (a one-time one when ``must_change_password``)."""
    row = _row(session, account_id)
    row.password_hash = password_hash
    row.must_change_password = must_change_password
    row.password_changed_at = _utc(at) or _now()
    session.add(row)
    session.commit()
    session.refresh(row)
    return _public(row)


def disable_account(
    *, session: Session, account_id: int, at: datetime | None = None
) -> tuple[AccountPublic, bool]:
    """Disable the account and end its sessions; whether it was enabled until now."""
    row = _row(session, account_id)
    changed = row.disabled_at is None
    if changed:
        row.disabled_at = _utc(at) or _now()
        session.add(row)
        session.exec(sa_delete(WebSessionRow).where(col(WebSessionRow.account_id) == account_id))
        session.commit()
        session.refresh(row)
    return _public(row), changed


def record_sign_in(*, session: Session, account_id: int, at: datetime | None = None) -> None:
    row = _row(session, account_id)
    row.last_sign_in_at = _utc(at) or _now()
    session.add(row)
    session.commit()


# -- web_session -----------------------------------------------------------------------------------


class WebSessionBase(_Model):
    # HMAC-SHA256 (hex) of the cookie's token under the session secret
    token_hash: str = Field(primary_key=True, max_length=64)
    account_id: int | None = Field(default=None, index=True)  # None: not signed in (yet)
    method: str | None = Field(default=None, max_length=20)  # how it signed in: local | oidc
    data: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    created_at: datetime = Field(sa_type=_tz_column())
    last_seen_at: datetime = Field(sa_type=_tz_column())
    expires_at: datetime = Field(sa_type=_tz_column(), index=True)  # the absolute end


class WebSessionRow(WebSessionBase, table=True):
    __tablename__ = "web_session"
    __table_args__ = (ForeignKeyConstraint(["account_id"], ["account.id"], ondelete="CASCADE"),)


class WebSessionPublic(WebSessionBase, _UtcTimes):
    pass


def create_web_session(
    *,
    session: Session,
    token_hash: str,
    account_id: int | None,
    method: str | None,
    data: dict[str, Any],
    at: datetime,
    expires_at: datetime,
) -> WebSessionPublic:
    row = WebSessionRow(
        token_hash=token_hash,
        account_id=account_id,
        method=method,
        data=data,
        created_at=_aware(at),
        last_seen_at=_aware(at),
        expires_at=_aware(expires_at),
    )
    session.add(row)
    session.commit()
    session.refresh(row)
    return WebSessionPublic.model_validate(row)


def get_web_session(*, session: Session, token_hash: str) -> WebSessionPublic | None:
    row = session.get(WebSessionRow, token_hash)
    return WebSessionPublic.model_validate(row) if row is not None else None


def save_web_session(
    *, session: Session, token_hash: str, data: dict[str, Any] | None, last_seen_at: datetime
) -> bool:
    """Its data (unless ``None``) and when it was last used; whether it is still there."""
    row = session.get(WebSessionRow, token_hash)
    if row is None:
        return False
    if data is not None:
        row.data = dict(data)
    row.last_seen_at = _aware(last_seen_at)
    session.add(row)
    session.commit()
    return True


def delete_web_session(*, session: Session, token_hash: str) -> WebSessionPublic | None:
    """End a session; the session it was (``None``: there was none)."""
    row = session.get(WebSessionRow, token_hash)
    if row is None:
        return None
    ended = WebSessionPublic.model_validate(row)
    session.delete(row)
    session.commit()
    return ended


def end_account_sessions(*, session: Session, account_id: int, keep: str | None = None) -> int:
    """End every session of the account (but ``keep``, a token hash); how many."""
    statement = sa_delete(WebSessionRow).where(col(WebSessionRow.account_id) == account_id)
    if keep is not None:
        statement = statement.where(col(WebSessionRow.token_hash) != keep)
    result = session.exec(statement)
    session.commit()
    return int(result.rowcount or 0)


def purge_web_sessions(*, session: Session, now: datetime, idle_since: datetime) -> int:
    """Delete the sessions that have ended: past their absolute end, or unused since
    ``idle_since``; how many."""
    statement = sa_delete(WebSessionRow).where(
        (col(WebSessionRow.expires_at) <= _aware(now))
        | (col(WebSessionRow.last_seen_at) < _aware(idle_since))
    )
    result = session.exec(statement)
    session.commit()
    return int(result.rowcount or 0)


# -- auth_event ------------------------------------------------------------------------------------


class AuthEvent(StrEnum):
    SIGN_IN = "sign_in"
    SIGN_OUT = "sign_out"
    PASSWORD_CHANGED = "password_changed"  # by the account's owner
    PASSWORD_RESET = "password_reset"  # a one-time password, by an administrator
    ACCOUNT_ADDED = "account_added"
    ACCOUNT_DISABLED = "account_disabled"


class AuthOutcome(StrEnum):
    SUCCESS = "success"
    FAILED = "failed"  # wrong credentials, unknown or disabled account: counted for throttling
    THROTTLED = "throttled"  # not even checked: too many failures


class AuthEventBase(_Model):
    at: datetime = Field(sa_type=_tz_column())
    event: str = Field(max_length=40)
    outcome: str = Field(max_length=20)
    method: str = Field(max_length=20)  # local | oidc (sign-ins); web | cli (account changes)
    email: str = Field(max_length=254)  # the account's, or as typed on a failed sign-in
    account_id: int | None = None  # no foreign key: the audit outlives anything
    by_email: str | None = Field(default=None, max_length=254)  # who changed the account
    client_address: str | None = Field(default=None, max_length=100)
    detail: str | None = Field(default=None, max_length=200)  # why it failed: no secret


class AuthEventRow(AuthEventBase, table=True):
    __tablename__ = "auth_event"
    __table_args__ = (
        Index("ix_auth_event_email_at", "email", "at"),
        Index("ix_auth_event_client_address_at", "client_address", "at"),
        Index("ix_auth_event_at", "at"),
    )
    id: int | None = Field(default=None, primary_key=True)


class AuthEventPublic(AuthEventBase, _UtcTimes):
    id: int


def record_auth_event(
    *,
    session: Session,
    event: AuthEvent,
    outcome: AuthOutcome,
    method: str,
    email: str,
    account_id: int | None = None,
    by_email: str | None = None,
    client_address: str | None = None,
    detail: str | None = None,
    at: datetime | None = None,
) -> None:
    session.add(
        AuthEventRow(
            at=_utc(at) or _now(),
            event=event.value,
            outcome=outcome.value,
            method=method,
            email=email.strip().lower()[:254],
            account_id=account_id,
            by_email=by_email,
            client_address=client_address[:100] if client_address else None,
            detail=detail[:200] if detail else None,
        )
    )
    session.commit()


def sign_in_failures(
    *, session: Session, email: str | None, client_address: str | None, since: datetime
) -> tuple[list[datetime], list[datetime]]:
    """The failed sign-ins since ``since``, newest first: for the email address (its failed
    password sign-ins since its latest successful sign-in: only a password can be guessed, and an
    OpenID Connect refusal must not lock anyone out of their password) and for the client address
    (every failed sign-in)."""
    failed = (AuthEventRow.event == AuthEvent.SIGN_IN.value) & (
        AuthEventRow.outcome == AuthOutcome.FAILED.value
    )
    by_account: list[datetime] = []
    if email:
        email = email.strip().lower()
        last_success = session.exec(
            select(func.max(AuthEventRow.at)).where(
                AuthEventRow.email == email,
                AuthEventRow.event == AuthEvent.SIGN_IN.value,
                AuthEventRow.outcome == AuthOutcome.SUCCESS.value,
            )
        ).one()
        start = max(_utc(since), _utc(last_success) or _utc(since))  # type: ignore[type-var]
        by_account = [
            at
            for at in session.exec(
                select(AuthEventRow.at)
                .where(
                    failed,
                    AuthEventRow.email == email,
                    AuthEventRow.method == "local",
                    col(AuthEventRow.at) > start,
                )
                .order_by(col(AuthEventRow.at).desc())
            )
        ]
    by_address: list[datetime] = []
    if client_address:
        by_address = list(
            session.exec(
                select(AuthEventRow.at)
                .where(
                    failed,
                    AuthEventRow.client_address == client_address[:100],
                    col(AuthEventRow.at) >= _utc(since),
                )
                .order_by(col(AuthEventRow.at).desc())
            )
        )
    return [_utc(t) for t in by_account], [_utc(t) for t in by_address]  # type: ignore[misc]


def list_auth_events(
    *, session: Session, email: str | None = None, limit: int = 200
) -> list[AuthEventPublic]:
    """The latest events (of one email address), newest first."""
    statement = select(AuthEventRow)
    if email is not None:
        statement = statement.where(AuthEventRow.email == email.strip().lower())
    statement = statement.order_by(col(AuthEventRow.at).desc(), col(AuthEventRow.id).desc())
    return [AuthEventPublic.model_validate(row) for row in session.exec(statement.limit(limit))]
