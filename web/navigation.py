"""The service navigation: the pages each role has, in the header and on the home page.

A page that exists adds its :class:`NavItem` to :data:`NAVIGATION` (here, in one place, so that
the header and the home page never link to a page that is not there).
"""

from __future__ import annotations

from dataclasses import dataclass

from domain.case.model import Role

__all__ = ["NAVIGATION", "NavItem", "navigation_for"]


@dataclass(frozen=True)
class NavItem:
    label: str  # in the header
    path: str
    roles: frozenset[Role]
    description: str  # on the home page

    def current(self, path: str) -> bool:
        return path == self.path or path.startswith(self.path.rstrip("/") + "/")


NAVIGATION: list[NavItem] = [
    NavItem(
        label="My tasks",
        path="/tasks",
        roles=frozenset({Role.SCHOOL, Role.CME_OFFICER, Role.TEAM_LEADER}),
        description="Your open tasks on cases, overdue first, then by due date: record an "
        "enquiry or a home visit, contact, a concern, the call to MASH or the CTF, conclude an "
        "investigation, authorise a deletion.",
    ),
    NavItem(
        label="Refer a child",
        path="/refer",
        roles=frozenset({Role.SCHOOL, Role.CME_OFFICER, Role.TEAM_LEADER}),
        description="Tell the School Attendance Team about a child missing education: a pupil "
        "who has left or is missing, or a child who may not be on any school roll.",
    ),
    NavItem(
        label="Users",
        path="/admin/users",
        roles=frozenset({Role.ADMIN}),
        description="Add people, disable their accounts and reset their passwords.",
    ),
    NavItem(
        label="Dashboard",
        path="/dashboard",
        roles=frozenset({Role.CME_OFFICER, Role.TEAM_LEADER, Role.MANAGER, Role.MASH}),
        description="Open cases by stage and school, what is overdue, times to referral and "
        "location, referrals per week: each figure links to its cases.",
    ),
    NavItem(
        label="Cases",
        path="/cases",
        roles=frozenset({Role.SCHOOL, Role.CME_OFFICER, Role.TEAM_LEADER, Role.MASH, Role.MANAGER}),
        description="The cases you can see, filtered as you choose, and as a download.",
    ),
    NavItem(
        label="DfE return",
        path="/dfe-return",
        roles=frozenset({Role.CME_OFFICER, Role.TEAM_LEADER, Role.MANAGER}),
        description="The figures of the DfE's termly children missing education return for a "
        "census date, and their CSV.",
    ),
    NavItem(
        label="API clients",
        path="/admin/api-clients",
        roles=frozenset({Role.ADMIN}),
        description="Give school MIS and LA systems a token for the service's API, or revoke it.",
    ),
]


def navigation_for(role: Role | None) -> list[NavItem]:
    """The pages of ``role`` (none before sign-in)."""
    if role is None:
        return []
    return [item for item in NAVIGATION if role in item.roles]
