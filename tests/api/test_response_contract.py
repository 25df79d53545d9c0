"""`response` and `timeoutOutput` at create, and completions checked against them (README,
"Decisions")."""

import pytest

from tests.helpers import TOKENS, assert_unchanged, path_of, stored
from waitpoints.models import Waitpoint, WaitpointStatus

pytestmark = pytest.mark.django_db

OPTIONS = [
    {"value": "ship", "label": "Ship it", "style": "primary"},
    {"value": "hold", "label": "Hold", "requireComment": True},
    {"value": "cancel", "style": "danger"},
]
FORM = {
    "type": "object",
    "properties": {
        "reason": {"type": "string", "maxLength": 20, "pattern": "^[a-z ]+$"},
        "code": {"type": "string", "enum": ["A", "B"]},
        "due": {"type": "string", "format": "date"},
        "at": {"type": "string", "format": "date-time"},
        "mail": {"type": "string", "format": "email"},
        "link": {"type": "string", "format": "uri"},
        "amount": {"type": "number", "minimum": 0, "maximum": 100},
        "count": {"type": "integer", "minimum": 1, "maximum": 5, "default": 1},
        "urgent": {"type": "boolean", "title": "Urgent?", "description": "Page someone"},
        "tags": {"type": "array", "items": {"type": "string", "enum": ["x", "y"]}},
    },
    "required": ["amount"],
}


def complete(api, token, data):
    return api.post(f"{TOKENS}/{token['id']}/complete", {"data": data}, format="json")


def assert_422(response, field):
    assert response.status_code == 422, response.content
    body = response.json()
    assert body["code"] == "invalid_input" and field in body["details"], body
    return body["details"][field]


def test_a_token_shows_its_contract_and_keeps_it(api, create_token):
    token = create_token(response={"options": OPTIONS, "multiple": True, "schema": FORM})
    body = api.get(f"{TOKENS}/{token['id']}").json()
    assert body["response"] == {"options": OPTIONS, "multiple": True, "schema": FORM}
    assert body["timeoutOutput"] is None and body["resolution"] is None


def test_a_token_without_a_contract_is_as_before(api, create_token):
    token = create_token()
    assert api.get(f"{TOKENS}/{token['id']}").json()["response"] is None
    assert complete(api, token, "anything at all").status_code == 200
    assert stored(token).output == "anything at all"


@pytest.mark.parametrize(
    ("response", "field"),
    [
        ({"options": []}, "response.options"),
        ({"options": [{"value": str(i)} for i in range(11)]}, "response.options"),
        ({"options": [{"value": "a"}, {"value": "a"}]}, "response.options[1].value"),
        ({"options": [{"value": ""}]}, "response.options[0].value"),
        ({"options": [{"value": "a", "style": "loud"}]}, "response.options[0].style"),
        ({"options": [{"value": "a", "colour": "red"}]}, "response.options[0].colour"),
        ({"options": [{"value": "a", "requireComment": "yes"}]}, "response.options[0].requireComment"),
        ({"multiple": "yes"}, "response.multiple"),
        ({"layout": "grid"}, "response.layout"),
        ("approve", "response"),
        ({"schema": {"type": "array"}}, "response.schema.type"),
        ({"schema": {"type": "object", "properties": {"a": {"type": "object"}}}}, "response.schema.properties.a.type"),
        ({"schema": {"type": "object", "properties": {"a": {"type": "string", "minLength": 2}}}}, "response.schema.properties.a.minLength"),
        ({"schema": {"type": "object", "properties": {"a": {"$ref": "#/x"}}}}, "response.schema.properties.a.type"),
        ({"schema": {"type": "object", "properties": {"a": {"type": "string"}}, "allOf": []}}, "response.schema.allOf"),
        ({"schema": {"type": "object", "properties": {"a": {"type": "string", "format": "ipv4"}}}}, "response.schema.properties.a.format"),
        ({"schema": {"type": "object", "properties": {"a": {"type": "string", "pattern": "("}}}}, "response.schema.properties.a.pattern"),
        ({"schema": {"type": "object", "properties": {"a": {"type": "array", "items": {"type": "string"}}}}}, "response.schema.properties.a.items"),
        ({"schema": {"type": "object", "properties": {"a": {"type": "integer", "maximum": "ten"}}}}, "response.schema.properties.a.maximum"),
        ({"schema": {"type": "object", "properties": {"a": {"type": "integer", "default": "x"}}}}, "response.schema.properties.a.default"),
        ({"schema": {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["b"]}}, "response.schema.required"),
        ({"schema": {"$schema": "http://json-schema.org/draft-07/schema#", "type": "object", "properties": {"a": {"type": "string"}}}}, "response.schema.$schema"),
    ],
)  # fmt: skip
def test_bad_contracts_are_refused_naming_the_part(api, response, field):
    before = Waitpoint.objects.count()
    assert_422(api.post(TOKENS, {"response": response}, format="json"), field)
    assert Waitpoint.objects.count() == before


def test_a_choice_among_the_options_completes(api, create_token):
    token = create_token(response={"options": OPTIONS})
    assert (
        complete(api, token, {"choice": "ship", "note": "extra keys are kept"}).status_code == 200
    )
    waitpoint = stored(token)
    assert waitpoint.status == WaitpointStatus.COMPLETED
    assert waitpoint.output == {"choice": "ship", "note": "extra keys are kept"}
    assert api.get(f"{TOKENS}/{token['id']}").json()["resolution"] == {
        "via": "api",
        "by": waitpoint.completed_by,
    }


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"choice": "sail"}, "data.choice"),
        ({}, "data.choice"),
        ({"choice": ["ship"]}, "data.choice"),
        ({"choice": "hold"}, "data.comment"),
        ({"choice": "hold", "comment": "  "}, "data.comment"),
        ({"choice": "ship", "fields": {"a": 1}}, "data.fields"),
        ("ship", "data"),
    ],
)
def test_a_completion_outside_the_options_is_refused_and_changes_nothing(
    api, create_token, data, field
):
    token = create_token(response={"options": OPTIONS})
    assert_422(complete(api, token, data), field)
    assert_unchanged(token)


def test_multiple_takes_a_list_of_distinct_options(api, create_token):
    token = create_token(response={"options": OPTIONS, "multiple": True})
    assert_422(complete(api, token, {"choice": "ship"}), "data.choice")
    assert_422(complete(api, token, {"choice": []}), "data.choice")
    assert_422(complete(api, token, {"choice": ["ship", "ship"]}), "data.choice")
    assert_422(complete(api, token, {"choice": ["ship", "hold"]}), "data.comment")
    assert_unchanged(token)
    assert complete(api, token, {"choice": ["ship", "cancel"]}).status_code == 200
    assert stored(token).output == {"choice": ["ship", "cancel"]}


def test_a_form_of_each_field_kind_accepts_valid_values(api, create_token):
    token = create_token(response={"schema": FORM})
    fields = {
        "reason": "all good",
        "code": "B",
        "due": "2026-12-24",
        "at": "2026-12-24T18:00:00Z",
        "mail": "ann@example.com",
        "link": "https://example.com/x",
        "amount": 12.5,
        "count": 3,
        "urgent": True,
        "tags": ["x", "y"],
    }
    assert complete(api, token, {"fields": fields}).status_code == 200
    assert stored(token).output == {"fields": fields}


@pytest.mark.parametrize(
    ("fields", "name"),
    [
        ({}, "amount"),
        ({"amount": 101}, "amount"),
        ({"amount": -1}, "amount"),
        ({"amount": "5"}, "amount"),
        ({"amount": 1, "count": 2.5}, "count"),
        ({"amount": 1, "count": 6}, "count"),
        ({"amount": 1, "reason": "x" * 21}, "reason"),
        ({"amount": 1, "reason": "UPPER"}, "reason"),
        ({"amount": 1, "code": "C"}, "code"),
        ({"amount": 1, "due": "24/12/2026"}, "due"),
        ({"amount": 1, "at": "2026-12-24 18:00"}, "at"),
        ({"amount": 1, "mail": "not-an-address"}, "mail"),
        ({"amount": 1, "link": "no scheme"}, "link"),
        ({"amount": 1, "urgent": "yes"}, "urgent"),
        ({"amount": 1, "tags": ["z"]}, "tags"),
    ],
)
def test_a_form_value_out_of_its_rules_is_refused_naming_the_field(api, create_token, fields, name):
    token = create_token(response={"schema": FORM})
    message = assert_422(complete(api, token, {"fields": fields}), f"data.fields.{name}")
    assert message
    assert_unchanged(token)


def test_the_callback_url_is_validated_like_the_api(api, create_token):
    token = create_token(response={"options": OPTIONS})
    url = path_of(token["url"])
    assert_422(api.post(url, {"choice": "sail"}, format="json"), "data.choice")
    assert_unchanged(token)
    assert api.post(url, {"choice": "cancel"}, format="json").status_code == 200
    waitpoint = stored(token)
    assert waitpoint.output == {"choice": "cancel"} and waitpoint.completed_via == "callback"


def test_timeout_output_must_satisfy_the_contract(api):
    response = {"options": OPTIONS, "schema": FORM}
    bad = api.post(
        TOKENS, {"response": response, "timeoutOutput": {"choice": "ship"}}, format="json"
    )
    assert_422(bad, "timeoutOutput.fields.amount")
    bad = api.post(
        TOKENS,
        {"response": response, "timeoutOutput": {"choice": "x", "fields": {"amount": 1}}},
        format="json",
    )
    assert_422(bad, "timeoutOutput.choice")
    good = {"choice": "cancel", "fields": {"amount": 0}}
    created = api.post(TOKENS, {"response": response, "timeoutOutput": good}, format="json")
    assert created.status_code == 200
    assert api.get(f"{TOKENS}/{created.json()['id']}").json()["timeoutOutput"] == good


def test_timeout_output_without_a_contract_may_be_any_json_even_null(api, create_token):
    token = create_token(timeoutOutput=None)
    assert stored(token).timeout_output == {"value": None}
    assert stored(create_token()).timeout_output is None
