"""Closing: the deletion date is a school day; a closed episode is finished once its emails are
sent and its problems cleared (or a week after closing); a referral reaching a closed episode opens
the child's next episode, carrying the earlier ones."""

from __future__ import annotations

from datetime import date, timedelta

from domain.case import (
    Context,
    episode_summary,
    finished,
    next_wakeup,
    open_case,
)
from domain.case import events as ev
from domain.case import notifications as n
from domain.case.commands import (
    AuthoriseDeletion,
    ConfirmCtf,
    NotificationDelivered,
    RegisterFailed,
    RegisterReferral,
    ReportContact,
)
from domain.case.effects import StartNextEpisode
from domain.case.model import (
    CaseKind,
    Decision,
    EpisodeSummary,
    InvestigationOutcome,
    Stage,
)
from domain.grounds import Rulebook

from .support import (
    CALENDAR,
    CASE,
    DAY20,
    OFFICER,
    PROFESSIONAL,
    SCHOOL_OFFICE,
    Case,
    assert_round_trips,
    at,
    concluded,
    effect_types,
    event,
    missing_pupil,
    notification,
    professional_referral,
    record_absence_proofs,
    rid,
    school_referral,
    verified,
)


def authorise(ground: str = "9(1)(i)") -> AuthoriseDeletion:
    return AuthoriseDeletion(by=OFFICER, request_id=rid(), ground=ground)


def deliver_all(case: Case) -> None:
    for record in list(case.state.notifications):
        case.do(NotificationDelivered(purpose=record.purpose))


# -- the deletion date -----------------------------------------------------------------------------


def test_deletion_authorised_on_a_saturday_runs_from_the_next_school_day() -> None:
    case = concluded()
    record_absence_proofs(case, DAY20, when=at(date(2026, 3, 14)))  # Sat 14 Mar 2026

    done = case.do(authorise())

    outcome = case.state.outcome
    assert outcome is not None
    assert outcome.earliest_deletion_date == date(2026, 3, 16)  # Mon 16 Mar
    assert notification(done, n.OutcomeToSchool).deletion_from == date(2026, 3, 16)
    # CTF: 17-20 Mar (1-4), 23-27 Mar (5-9), Easter holidays, 13-17 Apr (10-14), Mon 20 Apr (15).
    assert notification(done, n.OutcomeToSchool).ctf_due == date(2026, 4, 20)


def test_deletion_authorised_on_the_schools_inset_day_runs_from_the_next_school_day() -> None:
    case, _ = verified()
    done = case.do(authorise("9(1)(a)"), when=at(date(2026, 3, 2)))  # INSET day of 8512000
    assert notification(done, n.OutcomeToSchool).deletion_from == date(2026, 3, 3)


def test_a_decision_dated_on_a_weekend_runs_from_the_next_school_day() -> None:
    case = concluded()
    record_absence_proofs(case, DAY20, when=at(date(2026, 3, 13)))
    done = case.do(
        AuthoriseDeletion(
            by=OFFICER, request_id=rid(), ground="9(1)(i)", decision_date=date(2026, 3, 14)
        ),
        when=at(date(2026, 3, 13)),
    )
    assert notification(done, n.OutcomeToSchool).deletion_from == date(2026, 3, 16)


# -- when an episode is finished -------------------------------------------------------------------


def test_an_open_case_is_never_finished() -> None:
    case, _ = missing_pupil()
    assert not finished(case.state, at(date(2026, 12, 31)))


def test_a_closed_case_is_finished_once_every_email_is_sent() -> None:
    case = concluded()
    record_absence_proofs(case, DAY20, when=at(date(2026, 3, 10)))
    case.do(authorise())
    assert case.state.stage is Stage.CLOSED
    assert not finished(case.state, case.now)  # the written outcome is still queued

    deliver_all(case)

    assert finished(case.state, case.now)
    assert next_wakeup(case.state) is None


def test_a_closed_case_with_a_problem_retries_for_a_week_then_is_finished() -> None:
    case = concluded()
    closed_at = at(date(2026, 3, 10), 9)
    record_absence_proofs(case, DAY20, when=closed_at)
    case.do(authorise())
    deliver_all(case)
    case.do(RegisterFailed(detail="constraint violated"), when=closed_at + timedelta(minutes=2))
    deliver_all(case)  # the problem report to the team leader
    assert not finished(case.state, case.now)

    retries = 0
    while (wake := next_wakeup(case.state)) is not None:
        assert wake < closed_at + timedelta(days=7)
        assert not finished(case.state, wake)
        case.tick()
        retries += 1

    assert retries == 6  # daily, for the week after closing
    assert not finished(case.state, closed_at + timedelta(days=7) - timedelta(minutes=1))
    assert finished(case.state, closed_at + timedelta(days=7))
    assert case.state.open_problems  # what still fails stays recorded


def test_a_verified_return_closed_by_a_late_ctf_still_retries_its_problems() -> None:
    # Authorised more than a week before the CTF closes it: the week of retries runs from the
    # closing (state.closed_at), not from the authorisation.
    case, _ = verified()
    case.do(authorise("9(1)(a)"), when=at(date(2026, 2, 17)))
    deliver_all(case)
    case.do(RegisterFailed(detail="constraint violated"), when=at(date(2026, 2, 25), 10))
    deliver_all(case)

    case.do(
        ConfirmCtf(
            by=SCHOOL_OFFICE,
            request_id=rid(),
            destination_code="8512001",
            sent_on=date(2026, 2, 25),
        ),
        when=at(date(2026, 2, 25), 11),
    )

    assert case.state.stage is Stage.CLOSED
    assert case.state.closed_at == at(date(2026, 2, 25), 11)
    assert case.state.outcome is not None
    assert case.state.outcome.decided_at == at(date(2026, 2, 17))
    assert not finished(case.state, case.now)
    assert next_wakeup(case.state) == at(date(2026, 2, 26), 10)
    assert not finished(case.state, at(date(2026, 3, 4), 10, 59))
    assert finished(case.state, at(date(2026, 3, 4), 11))


def test_a_verified_return_closes_with_the_ctf_confirmation() -> None:
    case, _ = verified()
    case.do(authorise("9(1)(a)"), when=at(date(2026, 2, 17)))
    deliver_all(case)
    assert not finished(case.state, case.now)  # awaiting the CTF

    done = case.do(
        ConfirmCtf(
            by=SCHOOL_OFFICE,
            request_id=rid(),
            destination_code="8512001",
            sent_on=date(2026, 2, 24),
        ),
        when=at(date(2026, 2, 24)),
    )

    assert event(done, ev.CaseClosed).outcome.decision is Decision.DELETION_AUTHORISED
    assert finished(case.state, case.now)


def test_a_verified_return_closed_by_the_ctf_names_the_school_as_closing_it() -> None:
    # The officer decided the deletion; the school's CTF confirmation is the step that closed the
    # case: the school is the actor of the stage change and the closing, at the time it confirmed.
    case, _ = verified()
    case.do(authorise("9(1)(a)"), when=at(date(2026, 2, 17)))

    done = case.do(
        ConfirmCtf(
            by=SCHOOL_OFFICE,
            request_id=rid(),
            destination_code="8512001",
            sent_on=date(2026, 2, 24),
        ),
        when=at(date(2026, 2, 24), 15),
    )

    changed = event(done, ev.StageChanged)
    assert (changed.by, changed.stage_from, changed.stage_to) == (
        SCHOOL_OFFICE,
        Stage.AWAITING_CTF,
        Stage.CLOSED,
    )
    closed = event(done, ev.CaseClosed)
    assert closed.by == SCHOOL_OFFICE
    assert (closed.outcome.decided_by, closed.outcome.decided_at) == (
        OFFICER,
        at(date(2026, 2, 17)),
    )
    assert case.state.closed_at == at(date(2026, 2, 24), 15)
    assert case.state.outcome is not None and case.state.outcome.decided_by == OFFICER


def test_a_verified_return_closed_by_the_authorisation_names_the_officer() -> None:
    case, _ = verified()
    case.do(
        ConfirmCtf(
            by=SCHOOL_OFFICE, request_id=rid(), destination_code="8512001", sent_on=date(2026, 2, 9)
        )
    )

    done = case.do(authorise("9(1)(a)"), when=at(date(2026, 2, 10)))

    assert event(done, ev.StageChanged).by == OFFICER
    assert event(done, ev.CaseClosed).by == OFFICER
    assert case.state.closed_at == at(date(2026, 2, 10))


# -- the next episode ------------------------------------------------------------------------------


def closed_by_contact() -> Case:
    """The standard missing pupil, back at school on Thu 5 Feb 2026."""
    case, _ = missing_pupil()
    case.do(
        ReportContact(by=SCHOOL_OFFICE, request_id=rid(), contact_on=date(2026, 2, 5)),
        when=at(date(2026, 2, 5)),
    )
    return case


def test_a_referral_reaching_a_closed_episode_opens_the_next_episode() -> None:
    case = closed_by_contact()
    referral = school_referral(
        referral_date=date(2026, 3, 11), day1=date(2026, 3, 9), cp=True
    )  # missing again from Mon 9 Mar
    command = RegisterReferral(by=SCHOOL_OFFICE, request_id="referral-again-1", referral=referral)

    done = case.do(command, when=at(date(2026, 3, 11)))

    assert done.result is not None
    assert (done.result.case, done.result.episode, done.result.stage) == (
        CASE,
        2,
        Stage.SCHOOL_ENQUIRIES,
    )
    assert done.result.existing is False
    assert done.events == []
    assert case.state.stage is Stage.CLOSED  # this episode stays as it was
    assert case.state.referrals_received == 1
    assert effect_types(done) == ["start_next_episode", "sync_register"]
    start = done.effects[0]
    assert isinstance(start, StartNextEpisode)
    opening = start.opening
    assert opening.referral == referral
    assert opening.referred_by == SCHOOL_OFFICE
    assert opening.request_id == "referral-again-1"
    assert opening.episode == 2
    assert opening.answered  # its client has had the answer
    assert opening.earlier_episodes == [
        EpisodeSummary(
            episode=1,
            kind=CaseKind.DESTINATION_NOT_VERIFIED,
            opened_at=at(date(2026, 2, 4)),
            closed_at=at(date(2026, 2, 5)),
            child_protection=False,
            decision=Decision.CLOSED,
            investigation_outcome=None,
            ground=None,
        )
    ]
    assert opening.earlier_episodes == [episode_summary(case.state)]

    # The same referral sent again to the closed episode gets the same answer.
    again = case.do(command)
    assert again.result is not None and again.result.duplicate_request
    assert again.result.episode == 2
    assert again.effects == []

    # The next episode opens from it, knows the earlier one, and tells MASH about it.
    next_ = open_case(CASE, opening, Context(now=at(date(2026, 3, 11), 10, 1), calendar=CALENDAR))
    assert_round_trips(next_.state)
    state = next_.state
    assert (state.episode, state.repeat, state.stage) == (2, True, Stage.SCHOOL_ENQUIRIES)
    opened = event(next_, ev.CaseOpened)
    assert (opened.episode, opened.repeat, opened.by) == (2, True, SCHOOL_OFFICE)
    mash = notification(next_, n.MashEscalation)
    assert mash.episode == 2
    assert mash.earlier_episodes == opening.earlier_episodes
    # Its client already had its answer: the delivery reaching the new run is a duplicate.
    delivered = Case(state=state, now=at(date(2026, 3, 11), 10, 2), calendar=CALENDAR)
    answer = delivered.do(command)
    assert answer.result is not None and answer.result.duplicate_request
    assert answer.result.episode == 2


def test_the_earlier_episode_summary_carries_its_deletion() -> None:
    case = concluded()
    record_absence_proofs(case, DAY20, when=at(date(2026, 3, 10)))
    case.do(authorise())
    referral = professional_referral(referral_date=date(2026, 4, 14))

    done = case.do(
        RegisterReferral(by=PROFESSIONAL, request_id=rid(), referral=referral),
        when=at(date(2026, 4, 14)),
    )

    assert done.result is not None
    assert (done.result.episode, done.result.stage) == (2, Stage.LA_INVESTIGATION)
    start = done.effects[0]
    assert isinstance(start, StartNextEpisode)
    [summary] = start.opening.earlier_episodes
    assert (summary.decision, summary.investigation_outcome, summary.ground) == (
        Decision.DELETION_AUTHORISED,
        InvestigationOutcome.NOT_LOCATED,
        "9(1)(i)",
    )
    assert summary.closed_at == at(date(2026, 3, 10))
    assert case.state.rulebook is Rulebook.REGS_2024


def test_the_earlier_episode_summary_of_a_verified_return_is_closed_when_its_ctf_closed_it() -> (
    None
):
    case, _ = verified()
    case.do(authorise("9(1)(a)"), when=at(date(2026, 2, 17)))
    case.do(
        ConfirmCtf(
            by=SCHOOL_OFFICE,
            request_id=rid(),
            destination_code="8512001",
            sent_on=date(2026, 2, 25),
        ),
        when=at(date(2026, 2, 25)),
    )
    assert case.state.closed_at == at(date(2026, 2, 25))

    done = case.do(
        RegisterReferral(
            by=PROFESSIONAL,
            request_id=rid(),
            referral=professional_referral(referral_date=date(2026, 3, 11)),
        ),
        when=at(date(2026, 3, 11)),
    )

    start = done.effects[0]
    assert isinstance(start, StartNextEpisode)
    [summary] = start.opening.earlier_episodes
    assert summary.closed_at == at(date(2026, 2, 25))
