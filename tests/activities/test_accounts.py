"""The register's accounts, sessions and sign-in audit (activities.accounts), on SQLite and
PostgreSQL: an account checked with the domain's types, unique email addresses, sessions ended
with their account, failures counted for throttling, and revision 0005 refusing to downgrade once
it holds an audit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from alembic import command
from pydantic import ValidationError
from sqlalchemy import Engine
from sqlmodel import Session

from activities.accounts import (
    AccountDetails,
    AccountExists,
    AuthEvent,
    AuthOutcome,
    add_account,
    create_web_session,
    disable_account,
    find_account,
    get_web_session,
    list_accounts,
    password_hash_of,
    purge_web_sessions,
    record_auth_event,
    sign_in_failures,
)
from activities.register import alembic_config, register_revision, upgrade_register
from domain.case.model import Role

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _details(**overrides: object) -> AccountDetails:
    values: dict[str, object] = {
        "email": "Ann.Example@School.Example.org",
        "display_name": "Ann  Example",
        "role": Role.SCHOOL,
        "schools": ("8512000", "851 2001", "8512000"),
    }
    return AccountDetails.model_validate({**values, **overrides})


def test_account_details_are_checked_with_the_domains_types() -> None:
    details = _details()
    assert details.email == "ann.example@school.example.org"
    assert details.display_name == "Ann Example"
    assert details.schools == ("8512000", "8512001")

    def problems(**overrides: object) -> list[tuple[tuple[object, ...], str]]:
        with pytest.raises(ValidationError) as raised:
            _details(**overrides)
        return [(e["loc"], e["msg"]) for e in raised.value.errors()]

    [(loc, msg)] = problems(schools=())
    assert loc == () and "schools: a school user acts for one or more schools" in msg
    [(loc, msg)] = problems(role=Role.MANAGER)
    assert "schools: only a school user acts for schools; a manager acts for none" in msg
    [(loc, msg)] = problems(role=Role.SERVICE, schools=())
    assert loc == ("role",) and "service is not a role for an account" in msg
    [(loc, msg)] = problems(role=Role.PROFESSIONAL, schools=())
    assert loc == ("role",)
    [(loc, msg)] = problems(email="not-an-address")
    assert loc == ("email",) and "email address must look like" in msg
    [(loc, msg)] = problems(schools=("85120",))
    assert loc == ("schools", 0) and "7 digits" in msg
    [(loc, _msg)] = problems(display_name="Ann\x1b[31m")
    assert loc == ("display_name",)


def test_an_email_address_has_one_account(register_engine: Engine) -> None:
    with Session(register_engine) as session:
        account = add_account(
            session=session, details=_details(), password_hash="h", must_change_password=True
        )
        assert account.has_password and account.must_change_password
        assert account.schools == ["8512000", "8512001"]
        with pytest.raises(AccountExists):
            add_account(
                session=session,
                details=_details(email="ANN.EXAMPLE@school.example.org"),
                password_hash=None,
                must_change_password=False,
            )
        found = find_account(session=session, email=" ANN.example@SCHOOL.example.org")
        assert found is not None and found.id == account.id
        assert password_hash_of(session=session, account_id=account.id) == "h"
        assert "password_hash" not in found.model_dump()
        assert [a.email for a in list_accounts(session=session)] == [account.email]


def test_disabling_an_account_ends_its_sessions(register_engine: Engine) -> None:
    with Session(register_engine) as session:
        account = add_account(
            session=session, details=_details(), password_hash="h", must_change_password=False
        )
        for n in range(2):
            create_web_session(
                session=session,
                token_hash=f"{n:064d}",
                account_id=account.id,
                method="local",
                data={"_csrf": "t"},
                at=T0,
                expires_at=T0 + timedelta(hours=12),
            )
        visitor = create_web_session(
            session=session,
            token_hash="v" * 64,
            account_id=None,
            method=None,
            data={"_state": {"nonce": "n"}},
            at=T0,
            expires_at=T0 + timedelta(hours=12),
        )
        assert visitor.data == {"_state": {"nonce": "n"}}
        disabled, changed = disable_account(session=session, account_id=account.id, at=T0)
        assert changed and disabled.disabled and disabled.disabled_at == T0
        assert get_web_session(session=session, token_hash=f"{0:064d}") is None
        assert get_web_session(session=session, token_hash="v" * 64) is not None
        assert disable_account(session=session, account_id=account.id)[1] is False
        # Ended sessions are purged: past their end, or idle.
        assert purge_web_sessions(session=session, now=T0 + timedelta(hours=13), idle_since=T0) == 1


def test_failures_are_counted_since_the_last_success(register_engine: Engine) -> None:
    email = "ann.example@school.example.org"
    with Session(register_engine) as session:

        def event(outcome: AuthOutcome, minutes: int, address: str = "192.0.2.1") -> None:
            record_auth_event(
                session=session,
                event=AuthEvent.SIGN_IN,
                outcome=outcome,
                method="local",
                email=email,
                client_address=address,
                at=T0 + timedelta(minutes=minutes),
            )

        event(AuthOutcome.FAILED, 0)
        event(AuthOutcome.SUCCESS, 1)
        event(AuthOutcome.FAILED, 2)
        event(AuthOutcome.THROTTLED, 3)
        event(AuthOutcome.FAILED, 4, address="192.0.2.2")
        by_account, by_address = sign_in_failures(
            session=session, email=email.upper(), client_address="192.0.2.1", since=T0
        )
        assert by_account == [T0 + timedelta(minutes=4), T0 + timedelta(minutes=2)]
        assert by_address == [T0 + timedelta(minutes=2), T0]


def test_0005_refuses_to_downgrade_once_it_holds_an_audit(register_engine: Engine) -> None:
    with Session(register_engine) as session:
        record_auth_event(
            session=session,
            event=AuthEvent.SIGN_IN,
            outcome=AuthOutcome.FAILED,
            method="local",
            email="x@example.invalid",
        )
    _downgrade(register_engine, "0005")  # the later revisions go back while they hold nothing
    with pytest.raises(RuntimeError, match="Restore the backup taken before upgrading to 0005"):
        _downgrade(register_engine, "0004")
    assert register_revision(register_engine) == "0005"  # nothing more was undone


def test_0005_downgrades_while_empty(empty_register_engine: Engine) -> None:
    upgrade_register(empty_register_engine)
    _downgrade(empty_register_engine, "0004")
    assert register_revision(empty_register_engine) == "0004"
    assert upgrade_register(empty_register_engine) == "0004"


def _downgrade(engine: Engine, revision: str) -> None:
    with engine.begin() as connection:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.downgrade(config, revision)
