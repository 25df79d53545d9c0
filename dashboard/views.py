"""Reviewer dashboard and emailed approval-link pages (docs/architecture.md). Views stay thin:
forms parse, `dashboard.services` decides, selectors read, templates render.

Every page renders in full; an htmx request gets only the named partial it swaps.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from dashboard import forms
from dashboard import services as dashboard_services
from dashboard.decision_forms import DecisionForm, ExtendDeadlineForm
from dashboard.templatetags.dashboard_extras import describe_outcome
from waitpoints.core.ids import is_plausible_id
from waitpoints.errors import InvalidInput, NotFound
from waitpoints.models import CompletionVia, Environment, Run, RunBlock, Waitpoint
from waitpoints.tokens import selectors
from waitpoints.tokens.callbacks import callback_url
from waitpoints.tokens.services.complete import Completion

COMPLETE_PERMISSION = "waitpoints.complete_waitpoint"
reviewer_required = permission_required(COMPLETE_PERMISSION, raise_exception=True)


def _render(
    request: HttpRequest,
    template: str,
    context: dict,
    *,
    partial: str | None = None,
    status: int = 200,
) -> HttpResponse:
    """The full page, or only `partial` for an htmx swap (never for a history restore)."""
    if partial and request.htmx and not request.htmx.history_restore_request:
        template = f"{template}#{partial}"
    response = render(request, template, context, status=status)
    # The same URL answers with a page or a fragment: caches must tell them apart.
    patch_vary_headers(response, ["HX-Request"])
    return response


def _token_or_404(token_id: str) -> Waitpoint:
    try:
        return selectors.token_get(environment=None, token_id=token_id)
    except NotFound:
        raise Http404("No such token") from None


def _can_complete(request: HttpRequest) -> bool:
    return request.user.has_perm(COMPLETE_PERMISSION)


# --- Inbox --------------------------------------------------------------------------------------


def _inbox_context(request: HttpRequest, params: QueryDict) -> dict[str, Any]:
    environments = list(Environment.objects.order_by("slug"))
    form = forms.InboxFilterForm(params, environments=environments)
    form.is_valid()  # invalid fields are shown and left out of the filters
    listing = {"environments": form.selected_environments(), "filters": form.token_filters()}
    cursor_error = None
    try:
        page = selectors.token_page(
            **listing,
            size=form.page_size,
            after=params.get("after") or None,
            before=params.get("before") or None,
        )
    except InvalidInput:
        cursor_error = "That page link is no longer valid; showing the newest tokens."
        page = selectors.token_page(**listing, size=form.page_size)
    filter_params = params.copy()
    for name in ("ids", "after", "before"):
        filter_params.pop(name, None)
    page_params = params.copy()
    page_params.pop("ids", None)
    return {
        "form": form,
        "page": page,
        "tokens": page.items,
        "environments": environments,
        "show_environment": len(form.selected_environments()) > 1,
        "filter_params": filter_params,
        "page_params": page_params,
        "selected_ids": set(params.getlist("ids")),
        "cursor_error": cursor_error,
        "can_complete": _can_complete(request),
        "bulk_options": dashboard_services.common_options(page.items),
    }


@login_required
@require_GET
def inbox(request: HttpRequest) -> HttpResponse:
    context = _inbox_context(request, request.GET)
    return _render(request, "dashboard/inbox.html", context, partial="results")


# --- Detail -------------------------------------------------------------------------------------


def _detail_context(request: HttpRequest, token: Waitpoint, **forms_: Any) -> dict[str, Any]:
    can_complete = _can_complete(request)
    return {
        "token": token,
        # A credential that completes the token: only for people who may decide.
        "callback_url": callback_url(token) if can_complete else None,
        "blocked_runs": [
            block.run
            for block in RunBlock.objects.filter(waitpoint=token)
            .select_related("run")
            .order_by("created_at")
        ],
        "audit_events": list(token.audit_events.all()),
        "can_complete": can_complete,
        "decision_form": forms_.get("decision_form") or forms.DecisionForm(),
        "choice_form": forms_.get("choice_form") or DecisionForm(token.contract),
        "extend_form": forms_.get("extend_form") or ExtendDeadlineForm(),
        "json_form": forms_.get("json_form") or forms.CompleteWithJsonForm(),
    }


@login_required
@require_GET
def token_detail(request: HttpRequest, token_id: str) -> HttpResponse:
    token = _token_or_404(token_id)
    return _render(
        request, "dashboard/detail.html", _detail_context(request, token), partial="detail"
    )


@login_required
@require_GET
def run_detail(request: HttpRequest, run_id: str) -> HttpResponse:
    run = None
    if is_plausible_id(run_id):
        run = Run.objects.select_related("environment").filter(id=run_id).first()
    if run is None:
        raise Http404("No such run")
    blocks = RunBlock.objects.filter(run=run).select_related("waitpoint").order_by("created_at")
    return render(request, "dashboard/run.html", {"run": run, "blocks": list(blocks)})


# --- Actions ------------------------------------------------------------------------------------


def _report(request: HttpRequest, completion: Completion, done: str) -> None:
    """One message per action: what happened, or who finished the token first."""
    if completion.won:
        messages.success(
            request, f"{done}: {completion.waitpoint.title or completion.waitpoint.id}."
        )
    else:
        messages.warning(
            request,
            f"Nothing changed: {completion.waitpoint.id} was already finished — "
            f"{describe_outcome(completion.waitpoint)}.",
        )


def _safe_next(request: HttpRequest, fallback: str) -> str:
    target = request.POST.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return fallback


def _after_action(request: HttpRequest, token_id: str, **forms_: Any) -> HttpResponse:
    """htmx: the swapped row or detail block (with messages out of band); else a redirect."""
    detail_url = reverse("dashboard:token-detail", args=[token_id])
    if not request.htmx:
        return redirect(_safe_next(request, detail_url))
    token = _token_or_404(token_id)
    if request.POST.get("render") == "row":
        # The row's links keep the inbox filters it was shown under (from `next`).
        inbox_params = QueryDict(urlsplit(request.POST.get("next", "")).query)
        return _render(
            request,
            "dashboard/inbox.html",
            {
                "token": token,
                "can_complete": _can_complete(request),
                "show_environment": request.POST.get("show_environment") == "1",
                "selected_ids": set(),
                "filter_params": inbox_params,
                "page_params": inbox_params,
                "row_oob_messages": True,
            },
            partial="row",
        )
    context = _detail_context(request, token, **forms_)
    context["oob_messages"] = True
    return _render(request, "dashboard/detail.html", context, partial="detail")


@login_required
@reviewer_required
@require_POST
def token_decide(request: HttpRequest, token_id: str) -> HttpResponse:
    form = forms.DecisionForm(request.POST)
    if not form.is_valid():
        messages.error(request, "; ".join(e for errors in form.errors.values() for e in errors))
        return _after_action(request, token_id)
    decision = form.cleaned_data["decision"]
    try:
        completion = dashboard_services.token_decide(
            token_id=token_id,
            decision=decision,
            comment=form.cleaned_data["comment"],
            reviewer=request.user.get_username(),
            via=CompletionVia.DASHBOARD,
        )
    except NotFound:
        raise Http404("No such token") from None
    except InvalidInput as refused:  # e.g. a token whose options are not approve/reject
        messages.error(request, refused.message)
        return _after_action(request, token_id)
    _report(request, completion, "Approved" if decision == "approve" else "Rejected")
    return _after_action(request, token_id)


@login_required
@reviewer_required
@require_POST
def token_complete_json(request: HttpRequest, token_id: str) -> HttpResponse:
    form = forms.CompleteWithJsonForm(request.POST)
    if form.is_valid():
        try:
            completion = dashboard_services.token_complete_with_data(
                token_id=token_id,
                data=form.cleaned_data["data"],
                reviewer=request.user.get_username(),
            )
        except NotFound:
            raise Http404("No such token") from None
        except InvalidInput as refused:  # the token's response contract
            form.add_error("data", refused.message)
        else:
            _report(request, completion, "Completed")
            return _after_action(request, token_id)
    token = _token_or_404(token_id)
    context = _detail_context(request, token, json_form=form)
    return _render(request, "dashboard/detail.html", context, partial="detail", status=422)


@login_required
@reviewer_required
@require_POST
def token_timeout(request: HttpRequest, token_id: str) -> HttpResponse:
    try:
        completion = dashboard_services.token_time_out(
            token_id=token_id, reviewer=request.user.get_username()
        )
    except NotFound:
        raise Http404("No such token") from None
    _report(request, completion, "Timed out")
    return _after_action(request, token_id)


@login_required
@reviewer_required
@require_POST
def bulk_decide(request: HttpRequest) -> HttpResponse:
    # The inbox's filters come back in `query`, so the answer is the same filtered table.
    query = QueryDict(request.POST.get("query", ""))
    if not all(is_plausible_id(token_id) for token_id in request.POST.getlist("ids")):
        raise Http404("No such token")  # no id we issue looks like that
    form = forms.BulkDecisionForm(request.POST)
    if form.is_valid():
        choice = form.cleaned_data["choice"]
        outcome = dashboard_services.tokens_decide(
            token_ids=form.cleaned_data["ids"],
            choice=choice,
            comment=form.cleaned_data["comment"],
            reviewer=request.user.get_username(),
        )
        if outcome.decided:
            verb = {"approved": "Approved", "rejected": "Rejected"}.get(
                choice, f"Chose {choice} for"
            )
            count = len(outcome.decided)
            messages.success(request, f"{verb} {count} token{'s' if count != 1 else ''}.")
        for token_id, reason in outcome.refused.items():
            messages.error(request, f"Not changed: {token_id} — {reason}.")
        for waitpoint in outcome.already_finished:
            messages.warning(
                request, f"Not changed: {waitpoint.id} — {describe_outcome(waitpoint)}."
            )
        if outcome.missing:
            messages.error(request, f"Unknown tokens skipped: {', '.join(outcome.missing)}.")
    else:
        messages.error(request, "; ".join(e for errors in form.errors.values() for e in errors))
    if not request.htmx:
        return redirect(f"{reverse('dashboard:inbox')}?{query.urlencode()}")
    context = _inbox_context(request, query)
    context["oob_messages"] = True
    return _render(request, "dashboard/inbox.html", context, partial="results")


def home(request: HttpRequest) -> HttpResponse:
    return redirect("dashboard:inbox")
