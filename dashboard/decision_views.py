"""The detail page's "Extend deadline", and the emailed links' confirm page, which decides at
once: no undo window, it is not a dashboard decision (docs/architecture.md, "Decisions").
Thin, as `views`; deciding on the dashboard is `actions.token_decide`."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.cache import add_never_cache_headers
from django.views.decorators.http import require_http_methods

from dashboard import services as dashboard_services
from dashboard.access import reviewer_action
from dashboard.actions import after_action
from dashboard.choices import dashboard_contract
from dashboard.decision_forms import DecisionForm, ExtendDeadlineForm
from dashboard.views import detail_context, render_page, token_or_404
from waitpoints.errors import AlreadyFinished, InvalidInput, NotFound
from waitpoints.models import CompletionVia, Waitpoint
from waitpoints.notifications import emails
from waitpoints.tokens import selectors
from waitpoints.tokens.services.complete import Completion


def _with_errors(request: HttpRequest, token: Waitpoint, **forms_: Any) -> HttpResponse:
    """The detail again with a bound form's errors: for htmx the 2xx block it swaps."""
    if request.htmx:
        return after_action(request, token.id, **forms_)
    return render_page(request, "dashboard/detail.html", detail_context(request, token, **forms_))


def _decide(
    form: DecisionForm, token: Waitpoint, *, reviewer: str, via: CompletionVia
) -> Completion | None:
    """The valid form's decision; None when the token's contract refused it (the reasons are
    then on the form's fields)."""
    try:
        return dashboard_services.token_decide(
            token_id=token.id,
            choice=form.choice(),
            fields=form.fields_output(),
            comment=form.cleaned_data["comment"],
            reviewer=reviewer,
            via=via,
        )
    except InvalidInput as refused:
        form.add_contract_errors(refused.details)
        return None


@reviewer_action
def token_extend(request: HttpRequest, token_id: str) -> HttpResponse:
    token = token_or_404(token_id)
    form = ExtendDeadlineForm(request.POST)
    if form.is_valid():
        try:
            extended = dashboard_services.token_extend_deadline(
                token_id=token.id,
                timeout=form.timeout(token.timeout_at),
                reviewer=request.user.get_username(),
            )
        except AlreadyFinished:
            messages.warning(request, f"Nothing changed: {token.id} is already finished.")
            return after_action(request, token.id)
        except InvalidInput as refused:
            form.add_error("custom", "; ".join(refused.details.values()))
        else:
            messages.success(
                request, f"Deadline moved to {extended.timeout_at:%Y-%m-%d %H:%M:%S} UTC."
            )
            return after_action(request, token.id)
    return _with_errors(request, token, extend_form=form)


# --- Emailed approval links ---------------------------------------------------------------------


def _link_page(request: HttpRequest, context: dict[str, Any], status: int = 200) -> HttpResponse:
    response = render(request, "dashboard/approval.html", context, status=status)
    # The signed URL is a credential: keep it out of caches and cross-site Referer headers
    # ("no-referrer" would also blank the Origin of the confirm POST, and CSRF refuses that).
    add_never_cache_headers(response)
    response["Referrer-Policy"] = "same-origin"
    return response


@require_http_methods(["GET", "HEAD", "POST"])
def approval_link(request: HttpRequest, signed: str) -> HttpResponse:
    """GET/HEAD only show the token, its form and one confirm button; the POST decides."""
    try:
        link = emails.read_approval_link(signed)
    except emails.LinkInvalid as invalid:
        return _link_page(request, {"state": "invalid"}, status=invalid.code.status)
    except emails.LinkExpired as expired:
        token = _token_or_none(expired.link.token_id)
        context = {"state": "expired", "token": token}
        return _link_page(request, context, status=expired.code.status)
    token = _token_or_none(link.token_id)
    # The dashboard's policy too (a reason to reject, when required).
    contract = dashboard_contract(token) if token is not None else None
    option = contract.option(link.choice) if contract is not None else None
    if token is None or option is None:
        return _link_page(request, {"state": "invalid"}, status=404)
    progress = dashboard_services.approval_progress(token)
    context = {"token": token, "link": link, "option": option, "progress": progress}
    if token.is_finished:
        return _link_page(request, {**context, "state": "decided"})
    refusal = dashboard_services.decision_refusal(token, link.recipient)
    if refusal:  # the requester, a forwarded link, or a vote already cast (README, "Who decides")
        return _link_page(request, {**context, "state": "refused", "refusal": refusal})
    data = request.POST if request.method == "POST" else None
    form = DecisionForm(contract, data, fixed_choice=link.choice)
    if request.method == "POST" and form.is_valid():
        completion = _decide(form, token, reviewer=link.recipient, via=CompletionVia.EMAIL)
        if completion is not None:
            token = completion.waitpoint
            state = "done" if completion.won else "decided"
            if completion.won and not token.is_finished:
                state, context["progress"] = "voted", dashboard_services.approval_progress(token)
            return _link_page(request, {**context, "state": state, "token": token})
    return _link_page(request, {**context, "state": "confirm", "form": form})


def _token_or_none(token_id: str) -> Waitpoint | None:
    try:
        return selectors.token_get(environment=None, token_id=token_id)
    except NotFound:
        return None
