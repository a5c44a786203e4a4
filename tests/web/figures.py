"""What the tests of the read pages (the dashboard, the case list, the DfE return) share: the real
app on the register of the reports' scenario (:mod:`tests.reports.scenario`: thirteen cases
driven through the case's state machine and written with ``upsert_case``), its clock at the
scenario's today (09:00 on Wed 10 Jun 2026) and its calendar the scenario's (Testshire); a
browser signed in as each role; and a small HTML reader for what a person sees on the page (the
text of an element, a table's rows with their links)."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from functools import cache
from html import unescape
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import httpx
from fastapi import FastAPI
from sqlalchemy import Engine

from domain.case.model import Role
from domain.case.state import CaseState
from tests.domain.case.support import _INSET, _SPRING, _SUMMER
from tests.reports.scenario import NOW, SCHOOL_A, SCHOOL_B, build_cases, write_register
from tests.web.conftest import Clock, add_user, browser, sign_in

# The scenario's calendar (tests.domain.case.support.CALENDAR), as the file the app reads.
CALENDAR_TOML = _SPRING + _SUMMER + _INSET

PEOPLE: dict[str, tuple[Role, str, tuple[str, ...]]] = {
    "manager": (Role.MANAGER, "Mina Manager", ()),
    "officer": (Role.CME_OFFICER, "Otto Officer", ()),
    "team_leader": (Role.TEAM_LEADER, "Tess Leader", ()),
    "mash": (Role.MASH, "Max Mash", ()),
    "school_a": (Role.SCHOOL, "Ms Attendance", (SCHOOL_A,)),
    "school_b": (Role.SCHOOL, "Mr Register", (SCHOOL_B,)),
    "admin": (Role.ADMIN, "Ada Admin", ()),
}


@cache
def _states() -> dict[str, CaseState]:
    return build_cases()


def scenario_app(
    make_app: Callable[..., FastAPI], engine: Engine, clock: Clock, tmp_path: Path
) -> FastAPI:
    """The app on the scenario's register, at the scenario's today, on its calendar."""
    write_register(engine, {tag: s.model_copy(deep=True) for tag, s in _states().items()})
    clock.now = NOW
    calendar = tmp_path / "testshire.toml"
    calendar.write_text(CALENDAR_TOML, encoding="utf-8")
    return make_app(calendar_file=calendar)


@asynccontextmanager
async def signed_in(app: FastAPI, engine: Engine, who: str) -> AsyncIterator[httpx.AsyncClient]:
    """A browser signed in as one of :data:`PEOPLE` (the account made first)."""
    role, name, schools = PEOPLE[who]
    email = f"{who.replace('_', '.')}@example.gov.uk"
    add_user(engine, email, role=role, name=name, schools=schools)
    async with browser(app) as http:
        answer = await sign_in(http, email)
        assert answer.status_code == 303, answer.text
        yield http


def query_of(href: str) -> dict[str, str]:
    """A link's query string, as a dict."""
    return dict(parse_qsl(urlsplit(unescape(href)).query))


def csv_rows(answer: httpx.Response) -> list[dict[str, str]]:
    """A CSV download's rows (its byte-order mark dropped)."""
    assert answer.headers["content-type"].startswith("text/csv"), answer.headers
    assert answer.headers["content-disposition"].startswith("attachment; filename="), answer.headers
    return list(csv.DictReader(io.StringIO(answer.text.removeprefix("\ufeff"))))


# -- reading pages ---------------------------------------------------------------------------------

_VOID = frozenset({"br", "hr", "img", "input", "link", "meta", "source", "wbr", "area", "col"})


@dataclass
class Element:
    tag: str
    attrs: dict[str, str]
    children: list[Element | str] = field(default_factory=list)

    @property
    def text(self) -> str:
        """The text a person reads (visually hidden text included, as a screen reader says it),
        spaces collapsed."""
        parts: list[str] = []

        def walk(node: Element | str) -> None:
            if isinstance(node, str):
                parts.append(node)
                return
            if node.tag == "br":
                parts.append(" ")
            for child in node.children:
                walk(child)

        walk(self)
        return " ".join("".join(parts).split())

    @property
    def visible_text(self) -> str:
        """The text without what is visually hidden."""
        parts: list[str] = []

        def walk(node: Element | str) -> None:
            if isinstance(node, str):
                parts.append(node)
                return
            if "govuk-visually-hidden" in node.attrs.get("class", "").split():
                return
            if node.tag == "br":
                parts.append(" ")
            for child in node.children:
                walk(child)

        walk(self)
        return " ".join("".join(parts).split())

    def iter(self, tag: str | None = None) -> list[Element]:
        found: list[Element] = []
        for child in self.children:
            if isinstance(child, Element):
                if tag is None or child.tag == tag:
                    found.append(child)
                found.extend(child.iter(tag))
        return found

    def by_id(self, ident: str) -> Element:
        for element in self.iter():
            if element.attrs.get("id") == ident:
                return element
        raise AssertionError(f"no element with id {ident!r} on the page")

    def links(self) -> list[tuple[str, str]]:
        """Every link: (its visible text, its href)."""
        return [(a.visible_text, a.attrs.get("href", "")) for a in self.iter("a")]

    def rows(self) -> list[list[Element]]:
        """A table's body rows, each a list of its cells (th and td)."""
        body = [e for e in self.iter("tbody")]
        assert body, "not a table with a body"
        return [
            [c for c in row.children if isinstance(c, Element) and c.tag in ("th", "td")]
            for row in body[0].iter("tr")
        ]

    def table(self) -> list[list[str]]:
        """A table's body as the text a person sees in each cell."""
        return [[cell.visible_text for cell in row] for row in self.rows()]


class _Builder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Element("document", {})
        self.stack = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = Element(tag, {k: v or "" for k, v in attrs})
        self.stack[-1].children.append(element)
        if tag not in _VOID:
            self.stack.append(element)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.stack[-1].children.append(Element(tag, {k: v or "" for k, v in attrs}))

    def handle_endtag(self, tag: str) -> None:
        for i in range(len(self.stack) - 1, 0, -1):
            if self.stack[i].tag == tag:
                del self.stack[i:]
                return

    def handle_data(self, data: str) -> None:
        self.stack[-1].children.append(data)


def page(html: str) -> Element:
    """The page's document, to read as a person would."""
    builder = _Builder()
    builder.feed(html)
    builder.close()
    return builder.root


def heading(html: str) -> str:
    found = re.search(r"<h1[^>]*>(.*?)</h1>", html, re.S)
    assert found, "no heading on the page"
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", found.group(1))).split())
