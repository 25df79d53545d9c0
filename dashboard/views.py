"""Reviewer dashboard pages (docs/architecture.md, "Dashboard"). Views stay thin:
forms parse, `dashboard.services` and `dashboard.undo` decide, selectors read, templates render.

Every page renders in full; an htmx request gets only the named partial it swaps. The reviewer
actions (decide, undo, bulk, ...) are in `dashboard.actions`; extending a deadline and the
emailed links' page in `dashboard.decision_views`.
"""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_GET

from dashboard import forms, undo
from dashboard import services as dashboard_services
from dashboard.access import can_complete, login_required
from dashboard.choices import bulk_choices, dashboard_contract, decision_choices
from dashboard.decision_forms import DecisionForm, ExtendDeadlineForm
from waitpoints.core.ids import is_plausible_id
from waitpoints.errors import InvalidInput, NotFound
from waitpoints.models import Environment, Run, RunBlock, Waitpoint
from waitpoints.tokens import assignment, selectors
from waitpoints.tokens.callbacks import callback_url

# Query parameters of the inbox that are not filters: the selection, the cursors, and what the
# live refresh sends (the ids on screen).
NOT_FILTERS = ("ids", "after", "before", "shown", "refresh")


def render_page(
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


def token_or_404(token_id: str) -> Waitpoint:
    try:
        return selectors.token_get(environment=None, token_id=token_id)
    except NotFound:
        raise Http404("No such token") from None


def with_pending(request: HttpRequest, tokens: list[Waitpoint]) -> list[Waitpoint]:
    """Each token with `.pending`: this reviewer's decision waiting out its undo window."""
    pending = undo.pending_by_token(
        token_ids=[token.id for token in tokens], reviewer=request.user.get_username()
    )
    for token in tokens:
        token.pending = pending.get(token.id)
    dashboard_services.annotate_for_reviewer(tokens, request.user.get_username())
    return tokens


def row_context(request: HttpRequest, inbox_params: QueryDict) -> dict[str, Any]:
    """What every inbox row needs besides its token (the page and a swapped row share it)."""
    return {
        "can_complete": can_complete(request),
        "filter_params": inbox_params,
        "page_params": inbox_params,
        "selected_ids": set(),
        "reviewer": request.user.get_username(),
    }


# --- Inbox --------------------------------------------------------------------------------------


def inbox_context(request: HttpRequest, params: QueryDict) -> dict[str, Any]:
    environments = list(Environment.objects.order_by("slug"))
    me = assignment.identity_of(request.user.get_username())
    form = forms.InboxFilterForm(
        params,
        environments=environments,
        me=me,
        mine_by_default="mine" not in params
        and me is not None
        and dashboard_services.has_assignments(me),
    )
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
    for name in NOT_FILTERS:
        filter_params.pop(name, None)
    page_params = params.copy()
    for name in ("ids", "shown", "refresh"):
        page_params.pop(name, None)
    context = row_context(request, page_params)
    context.update(
        {
            "form": form,
            "page": page,
            "tokens": with_pending(request, list(page.items)),
            "environments": environments,
            "show_environment": len(form.selected_environments()) > 1,
            "filter_params": filter_params,
            "selected_ids": set(params.getlist("ids")),
            "cursor_error": cursor_error,
            "undo_seconds": undo.undo_seconds(),
            "bulk_choices": bulk_choices(page.items),
        }
    )
    return context


def _shown_tokens(request: HttpRequest, params: QueryDict) -> list[Waitpoint]:
    """The rows on the reviewer's screen, whatever their state now (decided elsewhere rows are
    marked in place, not dropped)."""
    ids = [token_id for token_id in params.getlist("shown")[: forms.MAX_BULK] if token_id]
    tokens = (
        Waitpoint.objects.filter(id__in=[i for i in ids if is_plausible_id(i)])
        .select_related("environment")
        .prefetch_related("tags")
    )
    return with_pending(request, list(tokens))


@login_required
@require_GET
def inbox(request: HttpRequest) -> HttpResponse:
    context = inbox_context(request, request.GET)
    if request.htmx and request.GET.get("refresh"):
        # The live refresh: the ids of the current first page (so new ones can be announced)
        # and the shown rows as they are now; the page itself swaps nothing else.
        context["shown_tokens"] = _shown_tokens(request, request.GET)
        return render_page(request, "dashboard/inbox.html", context, partial="refresh")
    return render_page(request, "dashboard/inbox.html", context, partial="results")


# --- Detail -------------------------------------------------------------------------------------


def detail_context(request: HttpRequest, token: Waitpoint, **forms_: Any) -> dict[str, Any]:
    with_pending(request, [token])
    may_complete = can_complete(request)
    return {
        "token": token,
        # A credential that completes the token: only for people who may decide.
        "callback_url": callback_url(token) if may_complete and not token.refusal else None,
        "blocked_runs": [
            block.run
            for block in RunBlock.objects.filter(waitpoint=token)
            .select_related("run")
            .order_by("created_at")
        ],
        "audit_events": list(token.audit_events.all()),
        "can_complete": may_complete,
        "choices": decision_choices(token),
        "reviewer": request.user.get_username(),
        "choice_form": forms_.get("choice_form") or DecisionForm(dashboard_contract(token)),
        "extend_form": forms_.get("extend_form") or ExtendDeadlineForm(),
        "json_form": forms_.get("json_form") or forms.CompleteWithJsonForm(),
    }


@login_required
@require_GET
def token_detail(request: HttpRequest, token_id: str) -> HttpResponse:
    token = token_or_404(token_id)
    return render_page(
        request, "dashboard/detail.html", detail_context(request, token), partial="detail"
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


def home(request: HttpRequest) -> HttpResponse:
    return redirect("dashboard:inbox")
