"""Reviewer actions: decide (through the undo window), undo, complete with JSON, force a
timeout, and the bulk versions. Each answers htmx with the swapped row, detail block or table
(messages out of band), and a plain form post with a redirect."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme

from dashboard import forms, undo
from dashboard import services as dashboard_services
from dashboard.access import reviewer_action
from dashboard.choices import bulk_choices, dashboard_contract, done_wording
from dashboard.decision_forms import DecisionForm
from dashboard.models import PendingDecision
from dashboard.templatetags.dashboard_extras import describe_outcome
from dashboard.views import (
    detail_context,
    inbox_context,
    render_page,
    row_context,
    token_or_404,
    with_pending,
)
from waitpoints.core.ids import is_plausible_id
from waitpoints.errors import InvalidInput, NotFound
from waitpoints.models import Waitpoint
from waitpoints.tokens.services.complete import Completion


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


def after_action(request: HttpRequest, token_id: str, **forms_: Any) -> HttpResponse:
    """htmx: the swapped row or detail block (with messages out of band); else a redirect."""
    detail_url = reverse("dashboard:token-detail", args=[token_id])
    if not request.htmx:
        return redirect(_safe_next(request, detail_url))
    token = token_or_404(token_id)
    if request.POST.get("render") == "row":
        # The row's links keep the inbox filters it was shown under (from `next`).
        context = row_context(request, QueryDict(urlsplit(request.POST.get("next", "")).query))
        context.update(
            {
                "token": with_pending(request, [token])[0],
                "show_environment": request.POST.get("show_environment") == "1",
                "row_oob_messages": True,
                "row_form": forms_.get("choice_form"),
                "undo_seconds": undo.undo_seconds(),
            }
        )
        return render_page(request, "dashboard/inbox.html", context, partial="row")
    context = detail_context(request, token, **forms_)
    context["oob_messages"] = True
    return render_page(request, "dashboard/detail.html", context, partial="detail")


@reviewer_action
def token_decide(request: HttpRequest, token_id: str) -> HttpResponse:
    """A choice among the token's options with its form's fields and a comment, checked by
    `DecisionForm` against `dashboard_contract`, then through the undo window."""
    token = token_or_404(token_id)
    form = DecisionForm(dashboard_contract(token), request.POST)
    if form.is_valid():
        labels = {option.value: option.label for option in token.contract.options}
        custom = token.contract.custom_options
        past, verb = done_wording(form.chosen_values(), labels, custom=custom)
        try:
            outcome = undo.decision_submit(
                token_id=token.id,
                choice=form.choice(),
                fields=form.fields_output(),
                comment=form.cleaned_data["comment"],
                reviewer=request.user.get_username(),
            )
        except NotFound:
            raise Http404("No such token") from None
        except InvalidInput as refused:  # no undo window: the token's contract said no
            form.add_contract_errors(refused.details)
        else:
            if isinstance(outcome, PendingDecision):
                messages.info(
                    request,
                    f"{verb} — {token.title or token.id}: recorded in "
                    f"{undo.undo_seconds():g} s unless you undo.",
                )
            else:
                _report(request, outcome, past)
            return after_action(request, token.id)
    if not request.htmx:
        messages.error(request, "; ".join(e for errors in form.errors.values() for e in errors))
    # htmx: the row or detail shows the errors beside the fields (2xx), the draft kept.
    return after_action(request, token.id, choice_form=form)


@reviewer_action
def token_undo(request: HttpRequest, token_id: str) -> HttpResponse:
    token_or_404(token_id)
    undone = undo.decisions_undo(token_ids=[token_id], reviewer=request.user.get_username())
    token = token_or_404(token_id)  # as it is after the undo (or after the decision it missed)
    name = token.title or token.id
    if undone:
        messages.success(request, f"Undone: nothing was recorded for {name}.")
    else:
        messages.warning(request, f"Too late to undo {name}: {describe_outcome(token)}.")
    return after_action(request, token_id)


@reviewer_action
def token_complete_json(request: HttpRequest, token_id: str) -> HttpResponse:
    form = forms.CompleteWithJsonForm(request.POST)
    if not form.is_valid():
        token = token_or_404(token_id)
        context = detail_context(request, token, json_form=form)
        return render_page(request, "dashboard/detail.html", context, partial="detail", status=422)
    try:
        completion = dashboard_services.token_complete_with_data(
            token_id=token_id, data=form.cleaned_data["data"], reviewer=request.user.get_username()
        )
    except NotFound:
        raise Http404("No such token") from None
    except InvalidInput as refused:  # the token's response contract
        form.add_error("data", refused.message)
        context = detail_context(request, token_or_404(token_id), json_form=form)
        return render_page(request, "dashboard/detail.html", context, partial="detail", status=422)
    _report(request, completion, "Completed")
    return after_action(request, token_id)


@reviewer_action
def token_timeout(request: HttpRequest, token_id: str) -> HttpResponse:
    try:
        completion = dashboard_services.token_time_out(
            token_id=token_id, reviewer=request.user.get_username()
        )
    except NotFound:
        raise Http404("No such token") from None
    _report(request, completion, "Timed out")
    return after_action(request, token_id)


def _plural(count: int) -> str:
    return f"{count} token{'s' if count != 1 else ''}"


def _bulk_answer(request: HttpRequest, query: QueryDict, **extra: Any) -> HttpResponse:
    if not request.htmx:
        return redirect(f"{reverse('dashboard:inbox')}?{query.urlencode()}")
    context = inbox_context(request, query)
    context.update(oob_messages=True, **extra)
    return render_page(request, "dashboard/inbox.html", context, partial="results")


@reviewer_action
def bulk_decide(request: HttpRequest) -> HttpResponse:
    # The inbox's filters come back in `query`, so the answer is the same filtered table.
    query = QueryDict(request.POST.get("query", ""))
    if not all(is_plausible_id(token_id) for token_id in request.POST.getlist("ids")):
        raise Http404("No such token")  # no id we issue looks like that
    form = forms.BulkDecisionForm(request.POST)
    if not form.is_valid():
        messages.error(request, "; ".join(e for errors in form.errors.values() for e in errors))
        return _bulk_answer(request, query, bulk_form=form)
    token_ids = form.cleaned_data["ids"]
    offered = {c.value: c for c in bulk_choices(list(Waitpoint.objects.filter(id__in=token_ids)))}
    choice = offered.get(form.cleaned_data["choice"])
    if choice is not None and choice.require_comment and not form.cleaned_data["comment"]:
        messages.error(request, f"A comment is required to choose {choice.label} in bulk.")
        return _bulk_answer(request, query, bulk_form=form)
    labels = {value: offer.label for value, offer in offered.items()}
    past, verb = done_wording([form.cleaned_data["choice"]], labels, custom=False)
    submitted = undo.decisions_submit(
        token_ids=token_ids,
        choice=form.cleaned_data["choice"],
        comment=form.cleaned_data["comment"],
        reviewer=request.user.get_username(),
    )
    if submitted.pending:
        messages.info(
            request,
            f"{verb} {_plural(len(submitted.pending))}: recorded in "
            f"{undo.undo_seconds():g} s unless you undo.",
        )
    outcome = submitted.outcome
    if outcome.decided:
        messages.success(request, f"{past} {_plural(len(outcome.decided))}.")
    for waitpoint in outcome.already_finished:
        messages.warning(request, f"Not changed: {waitpoint.id} — {describe_outcome(waitpoint)}.")
    for token_id, why in outcome.refused.items():
        messages.error(request, f"Not decided: {token_id} — {why}.")
    if outcome.missing:
        messages.error(request, f"Unknown tokens skipped: {', '.join(outcome.missing)}.")
    return _bulk_answer(
        request, query, bulk_pending_ids=[pending.token_id for pending in submitted.pending]
    )


@reviewer_action
def bulk_undo(request: HttpRequest) -> HttpResponse:
    query = QueryDict(request.POST.get("query", ""))
    token_ids = [i for i in request.POST.getlist("ids") if is_plausible_id(i)][: forms.MAX_BULK]
    undone = undo.decisions_undo(token_ids=token_ids, reviewer=request.user.get_username())
    if undone:
        messages.success(request, f"Undone: nothing was recorded for {_plural(len(undone))}.")
    if len(undone) < len(token_ids):
        late = len(token_ids) - len(undone)
        messages.warning(request, f"Too late to undo {_plural(late)}: already recorded.")
    return _bulk_answer(request, query)
