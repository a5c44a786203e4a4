"""reload_calendar: the calendar file, read again whenever it changed, with only the school's INSET
days;
prepare_case: the calendar and the child's earlier episodes, problems told and never fatal."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities import register
from activities.case_activities import CaseActivities
from activities.config import MailConfig
from domain.case.effects import LoadCalendarInput, PrepareCaseInput, SyncCaseInput
from tests.activities.cases import CASE, authorised_state

CALENDAR = """\
la_code = 851
la_name = "Portsmouth"

[[term]]
name = "Spring 2026"
first_day = 2026-01-05
last_day = 2026-03-27
closures = [[2026-02-16, 2026-02-20]]

[inset]
"8512000" = [2026-01-05, 2026-03-02]
"8512001" = [2026-01-06]
"""

SUMMER = """
[[term]]
name = "Summer 2026"
first_day = 2026-04-13
last_day = 2026-07-22
"""


@pytest.fixture
def calendar_path(tmp_path: Path) -> Path:
    path = tmp_path / "calendar.toml"
    path.write_text(CALENDAR, encoding="utf-8")
    return path


@pytest.fixture
def acts(mail_config: MailConfig, sqlite_engine: Engine, calendar_path: Path) -> CaseActivities:
    return CaseActivities(mail=mail_config, engine=sqlite_engine, calendar_path=calendar_path)


async def test_the_snapshot_holds_the_terms_and_only_that_schools_inset_days(
    acts: CaseActivities,
) -> None:
    snapshot = await ActivityEnvironment().run(
        acts.reload_calendar, LoadCalendarInput(school_laestab="8512000")
    )
    assert snapshot.la_code == 851
    assert [t.name for t in snapshot.terms] == ["Spring 2026"]
    assert snapshot.terms[0].closures == [(date(2026, 2, 16), date(2026, 2, 20))]
    assert snapshot.inset == {"8512000": [date(2026, 1, 5), date(2026, 3, 2)]}

    calendar = snapshot.to_calendar()
    assert not calendar.is_school_day(date(2026, 3, 2), "8512000")  # its INSET day
    assert calendar.is_school_day(date(2026, 1, 6), "8512000")  # the other school's INSET day


async def test_a_school_without_inset_days_gets_none(acts: CaseActivities) -> None:
    snapshot = await ActivityEnvironment().run(
        acts.reload_calendar, LoadCalendarInput(school_laestab="8512999")
    )
    assert snapshot.inset == {}
    no_school = await ActivityEnvironment().run(acts.reload_calendar, LoadCalendarInput())
    assert set(no_school.inset) == {"8512000", "8512001"}


async def test_an_extended_file_reaches_the_next_call(
    acts: CaseActivities, calendar_path: Path
) -> None:
    env = ActivityEnvironment()
    before = await env.run(acts.reload_calendar, LoadCalendarInput(school_laestab="8512000"))
    assert before.terms[-1].last_day == date(2026, 3, 27)

    calendar_path.write_text(CALENDAR.replace("[inset]", SUMMER.strip() + "\n\n[inset]"))
    after = await env.run(acts.reload_calendar, LoadCalendarInput(school_laestab="8512000"))
    assert [t.name for t in after.terms] == ["Spring 2026", "Summer 2026"]
    assert after.terms[-1].last_day == date(2026, 7, 22)


async def test_a_corrected_date_of_the_same_length_reaches_the_next_call(
    acts: CaseActivities, calendar_path: Path
) -> None:
    env = ActivityEnvironment()
    before = await env.run(acts.reload_calendar, LoadCalendarInput(school_laestab="8512000"))
    assert before.inset == {"8512000": [date(2026, 1, 5), date(2026, 3, 2)]}

    calendar_path.write_text(CALENDAR.replace("2026-03-02", "2026-03-03"))
    after = await env.run(acts.reload_calendar, LoadCalendarInput(school_laestab="8512000"))
    assert after.inset == {"8512000": [date(2026, 1, 5), date(2026, 3, 3)]}


async def test_a_file_broken_after_a_good_read_is_a_failure_not_the_old_calendar(
    acts: CaseActivities, calendar_path: Path
) -> None:
    env = ActivityEnvironment()
    await env.run(acts.reload_calendar, LoadCalendarInput(school_laestab="8512000"))
    calendar_path.write_text("this is [not toml", encoding="utf-8")
    with pytest.raises(ApplicationError) as raised:
        await env.run(acts.reload_calendar, LoadCalendarInput(school_laestab="8512000"))
    assert raised.value.type == "CalendarFileError"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (CALENDAR.replace("closures", "closure"), "line 8: unknown term setting 'closure'"),
        (CALENDAR.replace("la_code = 851", "la_code = 85"), "la_code"),
        ("this is [not toml", "not valid TOML"),
    ],
)
async def test_a_broken_file_is_a_business_failure(
    acts: CaseActivities, calendar_path: Path, text: str, problem: str
) -> None:
    calendar_path.write_text(text, encoding="utf-8")
    with pytest.raises(ApplicationError) as raised:
        await ActivityEnvironment().run(
            acts.reload_calendar, LoadCalendarInput(school_laestab="8512000")
        )
    assert raised.value.type == "CalendarFileError"
    assert raised.value.non_retryable
    assert problem in str(raised.value)


async def test_a_missing_file_is_a_business_failure(
    mail_config: MailConfig, sqlite_engine: Engine, tmp_path: Path
) -> None:
    acts = CaseActivities(
        mail=mail_config, engine=sqlite_engine, calendar_path=tmp_path / "nowhere.toml"
    )
    with pytest.raises(ApplicationError) as raised:
        await ActivityEnvironment().run(acts.reload_calendar, LoadCalendarInput())
    assert raised.value.type == "CalendarFileError"
    assert raised.value.non_retryable
    assert "cannot read the file" in str(raised.value)


# -- prepare_case ----------------------------------------------------------------------------------


async def test_a_first_episode_gets_the_calendar_and_no_earlier_episodes(
    acts: CaseActivities,
) -> None:
    prepared = await ActivityEnvironment().run(
        acts.prepare_case, PrepareCaseInput(case=CASE, school_laestab="8512000")
    )
    assert prepared.calendar is not None
    assert prepared.calendar.inset == {"8512000": [date(2026, 1, 5), date(2026, 3, 2)]}
    assert prepared.earlier_episodes == []
    assert (prepared.calendar_problem, prepared.episodes_problem) == (None, None)


async def test_a_later_episode_gets_the_earlier_ones_from_the_register(
    mail_config: MailConfig, register_engine: Engine, calendar_path: Path
) -> None:
    acts = CaseActivities(mail=mail_config, engine=register_engine, calendar_path=calendar_path)
    env = ActivityEnvironment()
    await env.run(acts.sync_register, SyncCaseInput(state=authorised_state()))
    prepared = await env.run(acts.prepare_case, PrepareCaseInput(case=CASE))
    assert prepared.earlier_episodes is not None
    [episode] = prepared.earlier_episodes
    assert (episode.episode, episode.decision, episode.ground) == (
        1,
        "deletion_authorised",
        "9(1)(i)",
    )
    state = authorised_state()
    # Its times aware, in UTC (SQLite keeps them naive).
    assert episode.opened_at == state.opened_at
    assert episode.closed_at is not None and episode.closed_at.tzinfo is not None
    assert (episode.kind, episode.child_protection) == (state.kind, state.child_protection)


async def test_a_broken_calendar_is_a_problem_not_a_failure(
    acts: CaseActivities, calendar_path: Path
) -> None:
    calendar_path.write_text("this is [not toml", encoding="utf-8")
    prepared = await ActivityEnvironment().run(acts.prepare_case, PrepareCaseInput(case=CASE))
    assert prepared.calendar is None
    assert prepared.calendar_problem is not None
    assert prepared.calendar_problem.startswith("the school calendar cannot be used: ")
    assert prepared.earlier_episodes == []


async def test_episodes_the_register_cannot_give_are_a_problem_without_personal_data(
    mail_config: MailConfig, register_engine: Engine, calendar_path: Path
) -> None:
    acts = CaseActivities(mail=mail_config, engine=register_engine, calendar_path=calendar_path)
    env = ActivityEnvironment()
    await env.run(acts.sync_register, SyncCaseInput(state=authorised_state()))
    with register_engine.begin() as connection:
        connection.exec_driver_sql("UPDATE cme_case SET kind = 'not a kind'")
    prepared = await env.run(acts.prepare_case, PrepareCaseInput(case=CASE))
    assert prepared.earlier_episodes is None
    assert prepared.episodes_problem == (
        f"case {CASE}: the register's earlier episodes cannot be read (a stored episode is not "
        "valid); the case opened as if it had none"
    )
    assert prepared.calendar is not None


async def test_a_register_refusing_the_query_is_a_problem(
    mail_config: MailConfig, postgres_engine: Engine, calendar_path: Path
) -> None:
    acts = CaseActivities(mail=mail_config, engine=postgres_engine, calendar_path=calendar_path)
    with postgres_engine.begin() as connection:
        connection.exec_driver_sql("DROP TABLE cme_case CASCADE")
    prepared = await ActivityEnvironment().run(acts.prepare_case, PrepareCaseInput(case=CASE))
    assert prepared.earlier_episodes is None
    assert prepared.episodes_problem is not None
    assert (
        "earlier episodes cannot be read (a table is missing, the register may need upgrading)"
        in (prepared.episodes_problem)
    )


async def test_an_unreachable_register_is_retried(
    mail_config: MailConfig, calendar_path: Path, tmp_path: Path
) -> None:
    engine = register.make_engine(f"sqlite:///{tmp_path / 'gone' / 'register.db'}")
    (tmp_path / "gone").rmdir()
    acts = CaseActivities(mail=mail_config, engine=engine, calendar_path=calendar_path)
    try:
        with pytest.raises(OperationalError):
            await ActivityEnvironment().run(acts.prepare_case, PrepareCaseInput(case=CASE))
    finally:
        engine.dispose()
