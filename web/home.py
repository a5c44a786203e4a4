"""The home page after sign-in: who is signed in, and the pages of their role (those that
exist: :data:`web.navigation.NAVIGATION`)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from web.auth import CurrentUser, role_words
from web.navigation import navigation_for
from web.pages import render

__all__ = ["router"]

router = APIRouter()


@router.get("/")
def home(request: Request, user: CurrentUser) -> Response:
    return render(
        request,
        "home.html",
        {
            "title": "Home",
            "role": role_words(user.role),
            "pages": navigation_for(user.role),
        },
    )
