"""Who may use a dashboard page, answered so that htmx never swaps a login page into the table.

An htmx request from an ended session gets 401 with `HX-Redirect` to the login page (back to
the page it came from afterwards); htmx follows it, and the inbox's own refresh shows "paused —
session ended" instead. A full page request gets Django's usual redirect.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.conf import settings
from django.contrib.auth.decorators import permission_required
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import resolve_url
from django.utils.http import urlencode
from django.views.decorators.http import require_POST

COMPLETE_PERMISSION = "waitpoints.complete_waitpoint"
reviewer_required = permission_required(COMPLETE_PERMISSION, raise_exception=True)


def can_complete(request: HttpRequest) -> bool:
    return request.user.has_perm(COMPLETE_PERMISSION)


def login_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    @wraps(view)
    def guarded(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if request.user.is_authenticated:
            return view(request, *args, **kwargs)
        if request.htmx:
            back = request.htmx.current_url_abs_path or request.get_full_path()
            response = HttpResponse("Your session has ended: log in again.", status=401)
            response["HX-Redirect"] = (
                f"{resolve_url(settings.LOGIN_URL)}?{urlencode({'next': back})}"
            )
            return response
        return redirect_to_login(request.get_full_path())

    return guarded


def reviewer_action(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """A POST by a logged-in user allowed to complete tokens (CSRF is checked by the middleware)."""
    return login_required(reviewer_required(require_POST(view)))
