"""The PostgreSQL fast paths (one statement, plain queries) give what the portable ORM paths give."""

import pytest
from django.db import connection

from waitpoints.environments.selectors import api_key_for_secret
from waitpoints.environments.services import api_key_create, api_key_revoke, api_key_touch
from waitpoints.models import ApiKey, AuditEvent, Environment, Waitpoint, WaitpointTag
from waitpoints.tokens.services.complete import token_complete
from waitpoints.tokens.services.create import token_create

pytestmark = [
    pytest.mark.django_db,
    # Each test runs the fast path and (patching connection.vendor) the portable path side by
    # side on one PostgreSQL database. On SQLite the portable path is all there is, and the rest
    # of the suite runs it for real.
    pytest.mark.postgres_only("compares the PostgreSQL statements with the portable ORM path"),
]

COMPARED = [
    "environment_id",
    "kind",
    "status",
    "output",
    "output_is_error",
    "completed_at",
    "completed_via",
    "completed_by",
    "idempotency_key",
    "idempotency_key_hash",
    "idempotency_key_active",
    "title",
    "context",
    "display",
]


def row_and_tags(token_id):
    row = Waitpoint.objects.values(*COMPARED).get(id=token_id)
    tags = list(
        WaitpointTag.objects.filter(waitpoint_id=token_id)
        .order_by("position")
        .values_list("name", "position", "environment_id")
    )
    return row, tags


@pytest.mark.parametrize("tags", [[], ["b", "a", "c"]])
def test_orm_path_and_single_statement_store_identical_rows(environment, monkeypatch, tags):
    fields = {"tags": tags, "title": "Check", "context": {"n": [1, 2]}, "display": {"n": "json"}}
    fields["timeout"] = "1h"
    fast = token_create(environment=environment, idempotency_key="k1", **fields)
    monkeypatch.setattr(connection, "vendor", "sqlite")  # what the dev default takes
    portable = token_create(environment=environment, idempotency_key="k2", **fields)
    monkeypatch.undo()

    fast_row, fast_tags = row_and_tags(fast.waitpoint.id)
    portable_row, portable_tags = row_and_tags(portable.waitpoint.id)
    assert fast_row | {"idempotency_key": None, "idempotency_key_hash": None} == portable_row | {
        "idempotency_key": None,
        "idempotency_key_hash": None,
    }
    assert fast_tags == portable_tags == [(name, i, environment.id) for i, name in enumerate(tags)]
    assert fast.waitpoint.tag_names == portable.waitpoint.tag_names == tags


COMPLETED_FIELDS = ["status", "output", "output_is_error", "completed_via", "completed_by"]


@pytest.mark.parametrize("data", [None, {"approved": True, "note": "ok"}, [1, "two"], "text"])
def test_completion_statement_and_locked_path_store_identical_rows(environment, monkeypatch, data):
    fast = token_create(environment=environment).waitpoint
    portable = token_create(environment=environment).waitpoint

    fast_completion = token_complete(
        environment=environment, token_id=fast.id, data=data, via="api", actor="wp_prod_abc"
    )
    monkeypatch.setattr(connection, "vendor", "sqlite")
    portable_completion = token_complete(
        environment=environment, token_id=portable.id, data=data, via="api", actor="wp_prod_abc"
    )
    monkeypatch.undo()

    assert fast_completion.won and portable_completion.won
    assert fast_completion.waitpoint.output == data  # loaded on demand
    rows = Waitpoint.objects.filter(id__in=[fast.id, portable.id]).values(*COMPLETED_FIELDS)
    assert rows[0] == rows[1]
    audits = AuditEvent.objects.filter(waitpoint_id__in=[fast.id, portable.id], action="completed")
    assert sorted(audits.values_list("via", "actor", "data")) == [("api", "wp_prod_abc", data)] * 2


def loaded(instance):
    return {f.attname: getattr(instance, f.attname) for f in type(instance)._meta.concrete_fields}


def test_api_key_lookup_plain_query_loads_what_the_orm_loads(environment, monkeypatch):
    issued = api_key_create(environment=environment, name="ci")
    api_key_touch(api_key=issued.api_key)  # a stored datetime in every nullable column
    api_key_revoke(api_key=issued.api_key)

    fast = api_key_for_secret(issued.secret)
    monkeypatch.setattr(connection, "vendor", "sqlite")
    portable = api_key_for_secret(issued.secret)
    assert api_key_for_secret(issued.secret + "x") is None
    monkeypatch.undo()

    assert api_key_for_secret(issued.secret + "x") is None
    assert loaded(fast) == loaded(portable) == loaded(ApiKey.objects.get(pk=issued.api_key.pk))
    assert loaded(fast.environment) == loaded(portable.environment) == loaded(environment)
    assert not fast._state.adding and fast._state.db == "default"
    # The plain query hands rows to the models unconverted: no field may need a converter.
    for model in (ApiKey, Environment):
        for field in model._meta.concrete_fields:
            column = field.get_col(model._meta.db_table)
            assert not field.get_db_converters(connection), field
            assert not connection.ops.get_db_converters(column), field
