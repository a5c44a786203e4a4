"""The JSON API's clients in the register (``api_client``): a school's MIS or an LA system that
calls ``/api/v1`` with a bearer token.

A client has a name (what the cases' logs show as who acted), one role of the people's roles
(:data:`API_CLIENT_ROLES`: a school client acts for one or more schools, LAESTABs), and a token
that is shown once, when the client is added, and never stored: the register keeps its SHA-256
(:func:`api_token_hash`), when it was added and by whom, when it was last used, and when it was
revoked and by whom. Clients are revoked, never deleted, so that the cases' logs keep naming them.

Why a plain SHA-256 and not argon2 or an HMAC keyed with a server secret: the token is 256 random
bits (:func:`new_api_token`), so nobody can guess it, nor find it from its hash, whatever the
hash's speed. argon2 slows down guessing a *password* (a low-entropy secret) and would only add
its cost (tens of milliseconds and megabytes) to every API request, and it is salted, so a token
could not be found by its hash. A keyed HMAC adds nothing against guessing either, and would tie
every token to a secret that the `cme api-clients` command and every web process must share:
changing the web app's session secret (which signs everybody out) would then break every
school's integration.

Functions are keyword-only, take the session and commit their own work.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict, field_validator, model_validator
from sqlalchemy import JSON, CheckConstraint, UniqueConstraint, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, Session, col, select

from activities.accounts import check_role, check_schools, distinct_schools
from activities.register import _Model, _tz_column, _utc, _UtcTimes
from domain.case.model import Role
from domain.types import Laestab, PersonName

__all__ = [
    "API_CLIENT_ROLES",
    "TOKEN_PREFIX",
    "ApiClientDetails",
    "ApiClientExists",
    "ApiClientPublic",
    "ApiClientRow",
    "NewApiClient",
    "add_api_client",
    "api_client_for_token",
    "api_token_hash",
    "find_api_client",
    "list_api_clients",
    "new_api_token",
    "revoke_api_client",
    "touch_api_client",
]

# The roles of the people who use the cases (:data:`activities.accounts.ACCOUNT_ROLES`) but the
# administrator's, which manages accounts and changes no case: the API has nothing for it.
API_CLIENT_ROLES: tuple[Role, ...] = (
    Role.SCHOOL,
    Role.CME_OFFICER,
    Role.TEAM_LEADER,
    Role.MASH,
    Role.MANAGER,
)
_ROLE_CHECK = "role IN (" + ", ".join(f"'{r.value}'" for r in API_CLIENT_ROLES) + ")"
# Tokens start with this, so that a leaked one is recognised (by secret scanners, in logs).
TOKEN_PREFIX = "cme_"


def new_api_token() -> str:
    """A new token: the prefix and 256 random bits (43 URL-safe characters)."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def api_token_hash(token: str) -> str:
    """What the register keeps of a token: its SHA-256, hex (see the module for why)."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def _now() -> datetime:
    return datetime.now(UTC)


class ApiClientBase(_Model):
    name: str = Field(max_length=100)  # unique; the actor's name on the cases it acts on
    role: str = Field(max_length=40)
    schools: list[str] = Field(default_factory=list, sa_type=JSON)  # LAESTABs (school clients)
    created_at: datetime = Field(sa_type=_tz_column())
    created_by: str = Field(max_length=254)  # an administrator's email, or "cli"
    last_used_at: datetime | None = Field(default=None, sa_type=_tz_column())
    revoked_at: datetime | None = Field(default=None, sa_type=_tz_column())
    revoked_by: str | None = Field(default=None, max_length=254)


class ApiClientRow(ApiClientBase, table=True):
    __tablename__ = "api_client"
    __table_args__ = (
        UniqueConstraint("name", name="uq_api_client_name"),
        UniqueConstraint("token_hash", name="uq_api_client_token_hash"),
        CheckConstraint(_ROLE_CHECK, name="role"),
    )
    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64)  # SHA-256 of the token, hex


class ApiClientPublic(ApiClientBase, _UtcTimes):
    """A client as the app sees it: never its token's hash."""

    id: int

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None


def _public(row: ApiClientRow) -> ApiClientPublic:
    return ApiClientPublic.model_validate(row.model_dump(exclude={"token_hash"}))


class ApiClientDetails(BaseModel):
    """A new client, checked as a new account is (``name``, ``role``, ``schools``, each error
    against its field in the words of :mod:`domain.types`): a school client acts for one or
    more schools, any other for none."""

    model_config = ConfigDict(frozen=True, hide_input_in_errors=True)

    name: PersonName
    role: Role
    schools: tuple[Laestab, ...] = ()

    @field_validator("role")
    @classmethod
    def _client_role(cls, role: Role) -> Role:
        return check_role(role, API_CLIENT_ROLES, "an API client")

    @field_validator("schools")
    @classmethod
    def _distinct(cls, schools: tuple[str, ...]) -> tuple[str, ...]:
        return distinct_schools(schools)

    @model_validator(mode="after")
    def _schools_for_school_clients(self) -> ApiClientDetails:
        check_schools(self.role, self.schools, "client", " client")
        return self


class ApiClientExists(Exception):
    """A client of this name is already there (revoked or not: names are never reused, so that
    the cases' logs name one client each)."""

    def __init__(self, name: str) -> None:
        super().__init__(f"there is already an API client named {name}")
        self.name = name


@dataclass(frozen=True)
class NewApiClient:
    client: ApiClientPublic
    token: str  # shown once; the register keeps its hash only


def add_api_client(
    *,
    session: Session,
    details: ApiClientDetails,
    by: str,
    at: datetime | None = None,
) -> NewApiClient:
    """A new client and its token; :class:`ApiClientExists` when the name is taken."""
    token = new_api_token()
    row = ApiClientRow(
        name=details.name,
        role=details.role.value,
        schools=list(details.schools),
        token_hash=api_token_hash(token),
        created_at=_utc(at) or _now(),
        created_by=by[:254],
    )
    session.add(row)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        raise ApiClientExists(details.name) from None
    session.refresh(row)
    return NewApiClient(client=_public(row), token=token)


def api_client_for_token(*, session: Session, token: str) -> ApiClientPublic | None:
    """The client whose token this is (revoked or not), or ``None``."""
    row = session.exec(
        select(ApiClientRow).where(ApiClientRow.token_hash == api_token_hash(token))
    ).first()
    return _public(row) if row is not None else None


def find_api_client(*, session: Session, name: str) -> ApiClientPublic | None:
    """The client of this name (spaces folded, as names are kept)."""
    folded = " ".join(name.split())
    row = session.exec(select(ApiClientRow).where(ApiClientRow.name == folded)).first()
    return _public(row) if row is not None else None


def list_api_clients(*, session: Session) -> list[ApiClientPublic]:
    """Every client, by name."""
    return [
        _public(row) for row in session.exec(select(ApiClientRow).order_by(col(ApiClientRow.name)))
    ]


def revoke_api_client(
    *, session: Session, client_id: int, by: str, at: datetime | None = None
) -> tuple[ApiClientPublic, bool]:
    """Revoke the client's token (at once: the next request with it is refused); whether it was
    valid until now."""
    row = session.get(ApiClientRow, client_id)
    if row is None:
        raise LookupError(f"no API client {client_id}")
    changed = row.revoked_at is None
    if changed:
        row.revoked_at = _utc(at) or _now()
        row.revoked_by = by[:254]
        session.add(row)
        session.commit()
        session.refresh(row)
    return _public(row), changed


def touch_api_client(*, session: Session, client_id: int, at: datetime) -> None:
    """Record that the client was used at ``at``."""
    session.exec(
        update(ApiClientRow).where(col(ApiClientRow.id) == client_id).values(last_used_at=_utc(at))
    )
    session.commit()
