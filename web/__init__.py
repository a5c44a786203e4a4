"""The web app of the CME case service: server-rendered GOV.UK Design System pages for schools,
CME officers, team leaders, MASH, managers and administrators (FastAPI + Jinja2).

:func:`create_app` makes it; `cme web` serves it, `cme dev` runs it beside the rest. What a page
uses:

* dependencies: :func:`current_user` / :data:`CurrentUser` (the signed-in
  :class:`SignedInUser`, else the sign-in page), :func:`require_role` (else the 403 page),
  :func:`register_session` (the register), :func:`temporal_client` (else the 503 page);
  :func:`form_data` (the POST form, already CSRF-checked);
* :func:`actor_of` ``(user)``: the case's :class:`~domain.case.model.Actor`, the only way the web
  app makes one;
* :func:`render` ``(request, template, context)`` and, for forms, :class:`FormErrors` (the error
  summary and each field's message) with the macros of ``templates/macros/forms.html``
  (``csrf_field``, ``error_summary``); :func:`flash` for a message on the next page;
* exceptions that leave a page: :class:`Forbidden` (403), :class:`NotSignedIn`,
  :class:`Redirect` (303), :class:`~web.context.ServiceUnavailable` (503);
* :data:`NAVIGATION`: add a :class:`NavItem` for each page a role can open.

Beside the pages: the JSON API (:mod:`web.api`, mounted at ``/api/v1``, bearer tokens of API
clients, no session) and signing in with the council's account (:mod:`web.oidc_sign_in`, on
:mod:`web.oidc`'s OpenID Connect flow).
"""

from web.app import close_app, create_app
from web.auth import CurrentUser, actor_of, current_user, form_data, require_role
from web.context import ServiceUnavailable, register_session, temporal_client
from web.csrf import csrf_token
from web.forms import FormErrors
from web.navigation import NAVIGATION, NavItem
from web.pages import Forbidden, NotSignedIn, Redirect, flash, render
from web.sessions import SignedInUser

__all__ = [
    "NAVIGATION",
    "CurrentUser",
    "Forbidden",
    "FormErrors",
    "NavItem",
    "NotSignedIn",
    "Redirect",
    "ServiceUnavailable",
    "SignedInUser",
    "actor_of",
    "close_app",
    "create_app",
    "csrf_token",
    "current_user",
    "flash",
    "form_data",
    "register_session",
    "render",
    "require_role",
    "temporal_client",
]
