"""The JSON API (/api/v1) through the real app, with a real Temporal dev server, the case's worker
and its real activities (SMTP on loopback, the SQLite register): clients of each role refer
children, read cases and tasks and send the task requests; the case's own rules decide; a school
client never reads nor acts on another school's case; tokens are bearer tokens, revoked at once.
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI
from openapi_spec_validator import validate
from pydantic import SecretStr
from sqlalchemy import Engine
from sqlmodel import Session, select
from temporalio.client import Client
from temporalio.converter import DataConverter
from temporalio.testing import WorkflowEnvironment

from activities.api_clients import ApiClientDetails, add_api_client, revoke_api_client
from activities.config import MailConfig
from activities.register import CaseRow, get_case, list_enquiries
from domain.calendar import SchoolCalendar
from domain.case.model import Role
from domain.clock import local_date
from domain.intake import ReferralInvalid, parse_referral
from security.converter import data_converter
from security.keys import MemoryKeyStore
from security.store import SqlKeyStore
from starter import case_client
from starter.cases import case_reference
from tests.keyring import fixed_key_ring
from tests.starter.conftest import TEMPORAL_CLI, CaseWorker, client_for_test, eventually
from tests.web.conftest import FAST_PASSWORDS, ORIGIN, web_settings
from tests.workflows.harness import (
    OTHER_SCHOOL,
    SCHOOL,
    SECRET,
    professional_referral,
    school_referral,
)
from tests.workflows.harness import (
    TestCalendar as Calendar,
)
from web.app import close_app, create_app
from workflows import search_attributes as sa

pytestmark = pytest.mark.asyncio(loop_scope="session")

PROBLEM = "application/problem+json"


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def temporal() -> AsyncIterator[WorkflowEnvironment]:
    """The Temporal dev server (the `temporal` CLI from the venv, in memory) for this module."""
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(TEMPORAL_CLI),
        data_converter=data_converter(MemoryKeyStore(fixed_key_ring())),
        search_attributes=list(sa.ALL),
        dev_server_log_level="error",
    )
    try:
        yield env
    finally:
        await env.shutdown()


@dataclass
class Service:
    """The app on the test's register and task queue, with the case's worker behind it."""

    app: FastAPI
    engine: Engine
    client: Client
    worker: CaseWorker
    calendar: Calendar
    today: date

    def token(self, name: str, role: Role, *schools: str) -> str:
        """A new API client's token, as `cme api-clients add` makes one."""
        with Session(self.engine) as session:
            return add_api_client(
                session=session,
                details=ApiClientDetails(name=name, role=role, schools=schools),
                by="test",
            ).token

    @contextlib.asynccontextmanager
    async def api(self, token: str | None) -> AsyncIterator[httpx.AsyncClient]:
        headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app), base_url=ORIGIN, headers=headers
        ) as http:
            yield http

    def school_referral(self, school: str = SCHOOL) -> dict[str, Any]:
        referral = school_referral(
            today=self.today, day1=self.calendar.first_school_day_on_or_before(self.today)
        )
        data: dict[str, Any] = referral.model_dump(mode="json")
        data["school_laestab"] = school
        return data

    def professional_referral(self) -> dict[str, Any]:
        data: dict[str, Any] = professional_referral(today=self.today).model_dump(mode="json")
        return data

    def case_of(self, data: dict[str, Any]) -> str:
        referral = parse_referral(data, today=self.today, calendar=self.calendar_model)
        return case_reference(referral, SECRET)

    @property
    def calendar_model(self) -> SchoolCalendar:
        return SchoolCalendar.load(self.calendar.path)

    async def in_register(self, case: str) -> Any:
        """The case's row, once the case has synced it."""

        async def synced() -> Any:
            with Session(self.engine) as session:
                row = get_case(session=session, case=case)
            assert row is not None, f"{case} is not in the register yet"
            return row

        return await eventually(synced, timeout=20)


@pytest_asyncio.fixture(loop_scope="session")
async def service(
    temporal: WorkflowEnvironment,
    converter: DataConverter,
    key_store: SqlKeyStore,
    mail_config: MailConfig,
    sqlite_engine: Engine,
    tmp_path: Path,
) -> AsyncIterator[Service]:
    task_queue = f"cme-api-test-{uuid.uuid4()}"
    client = client_for_test(temporal, converter)
    today = local_date(datetime.now(UTC))
    calendar = Calendar.write(tmp_path, today)
    worker = CaseWorker(
        client,
        task_queue,
        mail_config,
        sqlite_engine,
        calendar.path,
        tmp_path / "mail",
        store=key_store,
    )
    await worker.up()
    app = create_app(
        web_settings(
            tmp_path,
            task_queue=task_queue,
            calendar_file=calendar.path,
            case_key_secret=SecretStr(SECRET),
        ),
        engine=sqlite_engine,
        temporal=client,
        passwords=FAST_PASSWORDS,
        clock=lambda: datetime.now(UTC),
    )
    try:
        yield Service(
            app=app,
            engine=sqlite_engine,
            client=client,
            worker=worker,
            calendar=calendar,
            today=today,
        )
    finally:
        close_app(app)
        await worker.down()


@pytest.fixture
def short_waits(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The case client waits 2 s for an answer (30 s in use)."""
    monkeypatch.setattr(case_client, "ANSWER_TIMEOUT_SECONDS", 2.0)
    yield


def problem(answer: httpx.Response, status: int) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == PROBLEM
    body: dict[str, Any] = answer.json()
    assert body["status"] == status
    return body


# -- referrals -------------------------------------------------------------------------------------


async def test_a_school_mis_refers_a_child_and_a_retry_is_applied_once(
    service: Service, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    token = service.token("Northfield Academy MIS", Role.SCHOOL, SCHOOL)
    referral = service.school_referral()
    case = service.case_of(referral)
    key = str(uuid.uuid4())
    async with service.api(token) as api:
        first = await api.post("/api/v1/referrals", json=referral, headers={"Idempotency-Key": key})
        assert first.status_code == 201, first.text
        assert first.headers["location"] == f"/api/v1/cases/{case}"
        body = first.json()
        assert (body["case"], body["status"], body["answered"]) == (case, "opened", True)
        assert (body["stage"], body["episode"], body["duplicate_request"]) == (
            "school_enquiries",
            1,
            False,
        )
        assert "Idempotent-Replayed" not in first.headers

        # The case exists, with the client as its referrer, and its register row.
        state = await case_client.case_state(service.client, case, service.app.state.web.settings)
        assert state.referred_by.name == "Northfield Academy MIS"
        assert (state.referred_by.role, state.referred_by.schools) == (Role.SCHOOL, (SCHOOL,))
        row = await service.in_register(case)
        assert (row.stage, row.school_laestab, row.referrals_received) == (
            "school_enquiries",
            SCHOOL,
            1,
        )

        # Sent again with the same key (a retry after a lost answer): the same answer, applied
        # once.
        again = await api.post("/api/v1/referrals", json=referral, headers={"Idempotency-Key": key})
        assert again.status_code == 201, again.text
        assert again.headers["Idempotent-Replayed"] == "true"
        assert {**again.json(), "duplicate_request": False} == body
        assert again.json()["duplicate_request"] is True
        state = await case_client.case_state(service.client, case, service.app.state.web.settings)
        assert state.referrals_received == 1
        assert [r.request_id for r in state.requests] == [body["request_id"]]

        # Another referral of the same child (a new key): added to the open case.
        further = await api.post(
            "/api/v1/referrals", json=referral, headers={"Idempotency-Key": str(uuid.uuid4())}
        )
        assert further.status_code == 200, further.text
        assert (further.json()["status"], further.json()["referrals_received"]) == (
            "added_to_open_case",
            2,
        )
        assert further.json()["detail"] == (
            "This child already has an open case: the referral was added to it."
        )

        # The client reads its case.
        read = await api.get(f"/api/v1/cases/{case}")
        assert read.status_code == 200, read.text
        assert (read.json()["case_ref"], read.json()["schools"]) == (case, [SCHOOL])
        assert read.json()["last_name"] == referral["pupil"]["last_name"]
    # Nothing about the child in the logs (the app's, the worker's, the libraries').
    for personal in (referral["pupil"]["last_name"], referral["pupil"]["upn"], "Example Road"):
        assert personal not in caplog.text


async def test_a_bad_referral_lists_each_field_in_the_intakes_words_and_starts_nothing(
    service: Service, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    token = service.token("Northfield Academy MIS", Role.SCHOOL, SCHOOL)
    referral = service.school_referral()
    upn = referral["pupil"]["upn"]
    referral["pupil"]["upn"] = ("B" if upn[0] == "A" else "A") + upn[1:]  # a wrong check letter
    del referral["last_known_address"]
    referral["pupil"]["gender"] = "not a gender"
    with pytest.raises(ReferralInvalid) as intake:
        parse_referral(referral, today=service.today, calendar=service.calendar_model)
    expected = [(p.field, p.message) for p in intake.value.problems]
    assert len(expected) >= 3

    async with service.api(token) as api:
        answer = await api.post("/api/v1/referrals", json=referral)
        body = problem(answer, 422)
        assert body["type"] == "/api/v1/problems/invalid-referral"
        assert [(e["field"], e["detail"]) for e in body["errors"]] == expected
        fields = {e["field"]: e for e in body["errors"]}
        assert fields["last_known_address"]["pointer"] == "#/last_known_address"
        assert fields["pupil.upn"]["pointer"] == "#/pupil/upn"
        assert "Nothing was recorded" in body["detail"]
        # The refused values are not repeated, in the answer or the logs.
        assert referral["pupil"]["upn"] not in answer.text
        assert referral["pupil"]["last_name"] not in caplog.text

        not_json = await api.post(
            "/api/v1/referrals",
            content=b"{not json",
            headers={"Content-Type": "application/json"},
        )
        assert problem(not_json, 400)["detail"].startswith("The body is not JSON: ")
        as_form = await api.post("/api/v1/referrals", data={"form": "school_cme_referral"})
        assert problem(as_form, 415)["type"] == "/api/v1/problems/unsupported-media-type"
        no_form = await api.post("/api/v1/referrals", json={"pupil": {}})
        assert [e["field"] for e in problem(no_form, 422)["errors"]] == ["form"]
        huge = {"form": "school_cme_referral", "padding": "x" * 1_100_000}
        assert problem(await api.post("/api/v1/referrals", json=huge), 413)["detail"] == (
            "The body is over 1000000 bytes."
        )

        async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: read as it comes
            for chunk in (b'{"information": "', b"x" * 1_100_000, b'"}'):
                yield chunk

        streamed = await api.post(
            "/api/v1/cases/CME-000000000000/share",
            content=chunks(),
            headers={"Content-Type": "application/json"},
        )
        problem(streamed, 413)
        bad_key = await api.post(
            "/api/v1/referrals", json=referral, headers={"Idempotency-Key": "short"}
        )
        [error] = problem(bad_key, 422)["errors"]
        assert (error["field"], error["location"]) == ("Idempotency-Key", "header")

    # Nothing was started.
    with Session(service.engine) as session:
        assert session.exec(select(CaseRow)).first() is None
    task_queue = service.app.state.web.settings.task_queue
    assert (await service.client.count_workflows(f"TaskQueue = '{task_queue}'")).count == 0


async def test_a_school_client_refers_only_its_own_pupils(service: Service) -> None:
    token = service.token("Northfield Academy MIS", Role.SCHOOL, SCHOOL)
    async with service.api(token) as api:
        answer = await api.post("/api/v1/referrals", json=service.school_referral(OTHER_SCHOOL))
    body = problem(answer, 403)
    assert body["detail"] == (
        "this case is not one of your schools': a school user acts only on the cases of 8512000"
    )


# -- another school's case -------------------------------------------------------------------------


async def test_a_school_client_cannot_read_or_act_on_another_schools_case(
    service: Service,
) -> None:
    ours = service.token("Northfield Academy MIS", Role.SCHOOL, SCHOOL)
    theirs = service.token("Southfield School MIS", Role.SCHOOL, OTHER_SCHOOL)
    referral = service.school_referral(OTHER_SCHOOL)
    case = service.case_of(referral)
    async with service.api(theirs) as other:
        opened = await other.post("/api/v1/referrals", json=referral)
        assert opened.status_code == 201, opened.text
    await service.in_register(case)

    async with service.api(ours) as api:
        missing = problem(await api.get("/api/v1/cases/CME-000000000000"), 404)
        read = problem(await api.get(f"/api/v1/cases/{case}"), 404)
        # The same answer as for no case at all, but for its reference.
        assert {**read, "detail": None, "case": None} == {**missing, "detail": None, "case": None}
        assert read["detail"] == f"There is no case {case} that this client may see."

        listed = await api.get("/api/v1/cases")
        assert listed.status_code == 200
        assert case not in [item["case_ref"] for item in listed.json()["items"]]
        filtered = await api.get("/api/v1/cases", params={"school": OTHER_SCHOOL})
        assert filtered.json()["items"] == []

        enquiry = {
            "enquiry": {
                "by": "school",
                "kind": "phone_primary",
                "made_on": str(service.today),
                "outcome": "no_contact",
            }
        }
        acted = problem(await api.post(f"/api/v1/cases/{case}/enquiry", json=enquiry), 404)
        assert acted["detail"] == read["detail"]
    with Session(service.engine) as session:
        assert list_enquiries(session=session, case=case) == []

    # The school whose case it is reads it and acts on it.
    async with service.api(theirs) as other:
        assert (await other.get(f"/api/v1/cases/{case}")).status_code == 200
        done = await other.post(f"/api/v1/cases/{case}/enquiry", json=enquiry)
        assert done.status_code == 200, done.text
        assert (done.json()["enquiry_id"], done.json()["enquiries_recorded"]) == (1, 1)


async def test_a_school_client_cannot_authorise_the_case_says_why(service: Service) -> None:
    token = service.token("Northfield Academy MIS", Role.SCHOOL, SCHOOL)
    referral = service.school_referral()
    case = service.case_of(referral)
    async with service.api(token) as api:
        assert (await api.post("/api/v1/referrals", json=referral)).status_code == 201
        answer = await api.post(f"/api/v1/cases/{case}/authorise", json={"ground": "9(1)(i)"})
    body = problem(answer, 409)
    assert body["type"] == "/api/v1/problems/case-refused"
    assert body["detail"] == (
        "authorising deletion is for a cme officer or team leader, not a school"
    )
    assert body["case"] == case
    state = await case_client.case_state(service.client, case, service.app.state.web.settings)
    assert state.outcome is None and state.stage.value == "school_enquiries"


# -- an LA system ----------------------------------------------------------------------------------


async def test_an_officer_system_lists_its_tasks_and_records_an_enquiry_once(
    service: Service,
) -> None:
    token = service.token("LA case system", Role.CME_OFFICER)
    referral = service.professional_referral()  # a child on no roll: investigated at once
    case = service.case_of(referral)
    async with service.api(token) as api:
        opened = await api.post("/api/v1/referrals", json=referral)
        assert opened.status_code == 201, opened.text
        assert opened.json()["stage"] == "la_investigation"
        await service.in_register(case)

        tasks = await api.get("/api/v1/tasks")
        assert tasks.status_code == 200, tasks.text
        mine = [t for t in tasks.json()["items"] if t["case_ref"] == case]
        assert [(t["task"], t["assignee"]) for t in mine] == [("investigate", "cme_officer")]

        enquiry = {
            "enquiry": {
                "by": "la",
                "kind": "partner",
                "made_on": str(service.today),
                "outcome": "no_information",
                "note": "Health visitor has no record",
            }
        }
        key = {"Idempotency-Key": "enquiry-0001"}
        done = await api.post(f"/api/v1/cases/{case}/enquiry", json=enquiry, headers=key)
        assert done.status_code == 200, done.text
        assert (done.json()["enquiry_id"], done.json()["duplicate_request"]) == (1, False)
        again = await api.post(f"/api/v1/cases/{case}/enquiry", json=enquiry, headers=key)
        assert again.status_code == 200, again.text
        assert (again.json()["enquiry_id"], again.json()["duplicate_request"]) == (1, True)
        assert again.headers["Idempotent-Replayed"] == "true"
        other = {"enquiry": {**enquiry["enquiry"], "kind": "other_la"}}
        reused = await api.post(f"/api/v1/cases/{case}/enquiry", json=other, headers=key)
        body = problem(reused, 422)
        [error] = body["errors"]
        assert (error["field"], error["location"]) == ("Idempotency-Key", "header")
        assert body["detail"].startswith("This Idempotency-Key was already used on ")
        assert body["detail"].endswith(
            " for a different request: send a new key for a new request."
        )

        async def recorded() -> list[Any]:
            read = await api.get(f"/api/v1/cases/{case}")
            enquiries: list[Any] = read.json()["enquiries"]
            assert enquiries, "not synced yet"
            return enquiries

        [logged] = await eventually(recorded, timeout=20)
        assert (logged["kind"], logged["made_by"], logged["recorded_by"]) == (
            "partner",
            "la",
            "LA case system",
        )
        assert logged["recorded_by_role"] == "cme_officer"

        # A bad request: each field with its message; nothing sent.
        bad = await api.post(
            f"/api/v1/cases/{case}/enquiry",
            json={"enquiry": {"by": "la", "kind": "teleport", "made_on": "someday"}, "x": 1},
        )
        errors = {e["field"]: e["detail"] for e in problem(bad, 422)["errors"]}
        assert errors["enquiry.made_on"] == "must be a date like 2026-03-02"
        assert errors["enquiry.outcome"] == "this is required"
        assert errors["enquiry.kind"].startswith("must be one of ")
        assert errors["x"] == "is not a field of this request"

        # The officer may not withdraw (a team leader's request): the case's reason.
        refused = await api.post(f"/api/v1/cases/{case}/withdraw", json={"reason": "duplicate"})
        assert problem(refused, 409)["detail"] == (
            "withdrawing a case is for a team leader, not a cme officer"
        )


async def test_roles_that_change_no_case_are_refused_and_read_what_they_may(
    service: Service,
) -> None:
    officer = service.token("LA case system", Role.CME_OFFICER)
    referral = service.professional_referral()
    case = service.case_of(referral)
    async with service.api(officer) as api:
        assert (await api.post("/api/v1/referrals", json=referral)).status_code == 201
    await service.in_register(case)

    manager = service.token("LA reporting", Role.MANAGER)
    async with service.api(manager) as api:
        refer = problem(await api.post("/api/v1/referrals", json=referral), 403)
        assert refer["detail"] == (
            "This is for a school, CME officer or team leader client; this client's role is "
            "manager."
        )
        problem(await api.get("/api/v1/tasks"), 403)
        problem(await api.post(f"/api/v1/cases/{case}/retry"), 403)
        assert (await api.get(f"/api/v1/cases/{case}")).status_code == 200
        assert case in [i["case_ref"] for i in (await api.get("/api/v1/cases")).json()["items"]]
        unknown = problem(await api.get("/api/v1/cases", params={"schol": SCHOOL}), 422)
        assert unknown["errors"][0]["field"] == "schol"

    mash = service.token("MASH system", Role.MASH)  # reads child-protection cases only
    async with service.api(mash) as api:
        problem(await api.get(f"/api/v1/cases/{case}"), 404)
        assert (await api.get("/api/v1/cases")).json()["items"] == []


# -- tokens ----------------------------------------------------------------------------------------


async def test_no_token_a_wrong_one_or_a_revoked_one_is_401(service: Service) -> None:
    token = service.token("Northfield Academy MIS", Role.SCHOOL, SCHOOL)
    async with service.api(token) as api:
        assert (await api.get("/api/v1/tasks")).status_code == 200
    async with service.api(None) as anonymous:
        none = await anonymous.get("/api/v1/tasks")
        assert problem(none, 401)["type"] == "/api/v1/problems/unauthorized"
        assert none.headers["www-authenticate"] == 'Bearer realm="cme"'
        basic = await anonymous.get("/api/v1/tasks", headers={"Authorization": "Basic eDp5"})
        assert problem(basic, 401)
        assert 'error="invalid_request"' in basic.headers["www-authenticate"]
        # A session cookie is no way in.
        anonymous.cookies.set("__Host-cme_session", token)
        cookie = await anonymous.get("/api/v1/tasks")
        problem(cookie, 401)
    async with service.api(token[:-2] + "xx") as wrong:
        answer = await wrong.get("/api/v1/tasks")
        problem(answer, 401)
        assert answer.headers["www-authenticate"] == 'Bearer realm="cme", error="invalid_token"'

    with Session(service.engine) as session:
        from activities.api_clients import find_api_client

        client = find_api_client(session=session, name="Northfield Academy MIS")
        assert client is not None and client.last_used_at is not None
        revoke_api_client(session=session, client_id=client.id, by="test")
    async with service.api(token) as api:
        answer = await api.get("/api/v1/tasks")
        assert problem(answer, 401)["detail"].startswith(
            "The token is not valid, or it was revoked"
        )
        assert answer.headers["www-authenticate"] == 'Bearer realm="cme", error="invalid_token"'
        problem(await api.post("/api/v1/referrals", json=service.school_referral()), 401)


async def test_a_client_over_its_rate_is_told_when_to_come_back(
    make_app: Any, sqlite_engine: Engine
) -> None:
    app = make_app(api_rate_limit_per_minute=3)
    with Session(sqlite_engine) as session:
        token = add_api_client(
            session=session,
            details=ApiClientDetails(name="Busy MIS", role=Role.SCHOOL, schools=(SCHOOL,)),
            by="test",
        ).token
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url=ORIGIN,
        headers={"Authorization": f"Bearer {token}"},
    ) as api:
        for _ in range(3):
            assert (await api.get("/api/v1/tasks")).status_code == 200
        answer = await api.get("/api/v1/tasks")
        assert problem(answer, 429)["type"] == "/api/v1/problems/rate-limited"
        assert 1 <= int(answer.headers["retry-after"]) <= 20


# -- truthful answers ------------------------------------------------------------------------------


async def test_without_a_worker_a_referral_is_202_and_a_request_503_then_applied_once(
    service: Service, short_waits: None
) -> None:
    token = service.token("LA case system", Role.CME_OFFICER)
    referral = service.professional_referral()
    case = service.case_of(referral)
    await service.worker.down()
    async with service.api(token) as api:
        recorded = await api.post(
            "/api/v1/referrals", json=referral, headers={"Idempotency-Key": "referral-0001"}
        )
        assert recorded.status_code == 202, recorded.text
        assert recorded.headers["location"] == f"/api/v1/cases/{case}"
        assert (recorded.json()["status"], recorded.json()["answered"]) == ("recorded", False)

        consent = {"consented_by": "LA SEN lead", "consented_on": str(service.today)}
        key = {"Idempotency-Key": "consent-0001"}
        waiting = await api.post(f"/api/v1/cases/{case}/consent", json=consent, headers=key)
        body = problem(waiting, 503)
        assert body["type"] == "/api/v1/problems/not-recorded"
        assert waiting.headers["retry-after"] == "30"
        assert "nothing is recorded yet" in body["detail"]

        await service.worker.up()
        # The same referral and request again: each applied once, with its first answer.
        again = await api.post(
            "/api/v1/referrals", json=referral, headers={"Idempotency-Key": "referral-0001"}
        )
        assert again.status_code == 201, again.text
        sent = await api.post(f"/api/v1/cases/{case}/consent", json=consent, headers=key)
        assert sent.status_code == 200, sent.text
    state = await case_client.case_state(service.client, case, service.app.state.web.settings)
    assert state.referrals_received == 1
    assert state.la_consent is not None and state.la_consent.by == "LA SEN lead"


# -- the document ----------------------------------------------------------------------------------


async def test_the_openapi_document_lists_the_endpoints_and_no_docs_page_needs_a_cdn(
    make_app: Any,
) -> None:
    app = make_app()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=ORIGIN) as http:
        answer = await http.get("/api/v1/openapi.json")
        assert answer.status_code == 200
        document = answer.json()
        for page in ("/api/v1/docs", "/api/v1/redoc", "/docs", "/openapi.json"):
            assert (await http.get(page)).status_code == 404, page
    assert document["servers"] == [{"url": "/api/v1"}]
    paths = document["paths"]
    assert {path: sorted(paths[path]) for path in paths if "{case_ref}/" not in path} == {
        "/referrals": ["post"],
        "/cases": ["get"],
        "/cases/{case_ref}": ["get"],
        "/tasks": ["get"],
    }
    requests = sorted(p.split("/")[-1] for p in paths if "{case_ref}/" in p)
    assert requests == sorted(
        [
            "enquiry",
            "contact",
            "concern",
            "share",
            "mash-call",
            "ctf",
            "conclude",
            "authorise",
            "withdraw",
            "reassign",
            "codes",
            "confirm-no-sickness",
            "consent",
            "facts",
            "retry",
        ]
    )
    refer = paths["/referrals"]["post"]
    assert refer["operationId"] == "refer"
    assert refer["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Referral"
    }
    assert refer["security"] == [{"bearerToken": []}]
    assert "Idempotency-Key" in [p["name"] for p in refer["parameters"]]
    assert set(refer["responses"]) >= {"201", "200", "202", "401", "403", "422", "503"}
    assert refer["responses"]["422"]["content"] == {
        PROBLEM: {"schema": {"$ref": "#/components/schemas/Problem"}}
    }
    schemas = document["components"]["schemas"]
    assert set(schemas["Referral"]["discriminator"]["mapping"]) == {
        "pupil_migration_return",
        "school_cme_referral",
        "professional_cme_referral",
    }
    # Every reference resolves in the document.
    text = answer.text
    for name in {part.split('"')[0] for part in text.split('"#/components/schemas/')[1:]}:
        assert name in schemas, name
    assert "$defs" not in text
    assert document["components"]["securitySchemes"]["bearerToken"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "The client's token from `cme api-clients add` (or the admin pages), as "
        "`Authorization: Bearer <token>`.",
    }
    assert "cdn" not in text.lower()
    validate(document)  # a valid OpenAPI 3.1 document


async def test_an_unexpected_failure_is_a_problem_document_that_names_no_child(
    make_app: Any,
    sqlite_engine: Engine,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken(**_: Any) -> None:
        raise RuntimeError("Testchild Syntheticfailure could not be listed")

    monkeypatch.setattr("web.api.tasks.open_tasks", broken)
    caplog.set_level(logging.DEBUG)
    app = make_app()
    with Session(sqlite_engine) as session:
        token = add_api_client(
            session=session,
            details=ApiClientDetails(name="LA case system", role=Role.CME_OFFICER),
            by="test",
        ).token
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, raise_app_exceptions=False),
        base_url=ORIGIN,
        headers={"Authorization": f"Bearer {token}"},
    ) as api:
        answer = await api.get("/api/v1/tasks")
    body = problem(answer, 500)
    assert body["type"] == "/api/v1/problems/server-error"
    assert "Syntheticfailure" not in answer.text
    assert "Syntheticfailure" not in caplog.text
    assert "web request failed: RuntimeError" in caplog.text


async def test_a_school_client_is_refused_every_officers_and_team_leaders_request_on_its_own_case(
    service: Service,
) -> None:
    """A school's system refers and makes enquiries; the case refuses it what is an officer's or
    a team leader's to do, with the case's reason, and records nothing."""
    token = service.token("Northfield Academy MIS", Role.SCHOOL, SCHOOL)
    referral = service.school_referral()
    case = service.case_of(referral)
    refused_requests = {
        "conclude": ({"outcome": "not_located"}, "concluding an investigation"),
        "authorise": ({"ground": "9(1)(i)"}, "authorising deletion"),
        "withdraw": ({"reason": "duplicate"}, "withdrawing a case"),
        "reassign": ({"officer": "Mallory"}, "reassigning a case"),
    }
    async with service.api(token) as api:
        assert (await api.post("/api/v1/referrals", json=referral)).status_code == 201
        await service.in_register(case)
        before = (await api.get(f"/api/v1/cases/{case}")).json()
        for path, (body, action) in refused_requests.items():
            answer = await api.post(f"/api/v1/cases/{case}/{path}", json=body)
            detail = problem(answer, 409)["detail"]
            assert detail.startswith(f"{action} is for a "), (path, detail)
            assert detail.endswith(", not a school"), (path, detail)
        after = (await api.get(f"/api/v1/cases/{case}")).json()
    assert after == before
