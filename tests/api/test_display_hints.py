"""Display hints at create: validated (422 naming the entry, nothing stored), stored, returned on
the token's JSON, and accepted by the in-process SDK and the HTTP client alike."""

import pytest

from tests.helpers import TOKENS
from waitpoints import wait
from waitpoints.errors import InvalidInput
from waitpoints.models import Waitpoint

pytestmark = pytest.mark.django_db

HINTS = {"amount": "money:EUR", "post.body": "markdown", "items.*.url": "link", "x": "hidden"}


def test_hints_are_stored_and_returned(api, create_token):
    created = create_token(context={"amount": 12}, display=HINTS)
    assert Waitpoint.objects.get(id=created["id"]).display == HINTS
    assert api.get(f"{TOKENS}/{created['id']}").json()["display"] == HINTS
    listed = api.get(TOKENS).json()["data"]
    assert [token["display"] for token in listed] == [HINTS]


def test_no_hints_is_null_and_left_out_of_the_trigger_format(api, create_token):
    created = create_token()
    assert api.get(f"{TOKENS}/{created['id']}").json()["display"] is None
    trigger = api.get(f"{TOKENS}/{created['id']}", HTTP_X_TRIGGER_API_VERSION="2025-07-16")
    assert "display" not in trigger.json()


@pytest.mark.parametrize(
    ("display", "field", "says"),
    [
        ("money:EUR", "display", "must be an object"),
        (["amount"], "display", "must be an object"),
        ({"amount": "moneyy"}, "display.amount", "unknown format"),
        ({"amount": "money"}, "display.amount", "currency code"),
        ({"amount": "money:eur"}, "display.amount", "currency code"),
        ({"amount": "markdown:x"}, "display.amount", "takes no argument"),
        ({"amount": 3}, "display.amount", "must be a format string"),
        ({"a..b": "text"}, "display.a..b", "no empty key"),
        ({"": "text"}, "display.", "1-200 characters"),
        ({f"k{n}": "text" for n in range(101)}, "display", "at most 100"),
    ],
)
def test_bad_hints_are_422_naming_the_entry_and_store_nothing(api, display, field, says):
    response = api.post(TOKENS, {"title": "x", "display": display}, format="json")
    assert response.status_code == 422, response.content
    body = response.json()
    assert body["code"] == "invalid_input" and says in body["details"][field]
    assert not Waitpoint.objects.exists()


def test_bad_hints_are_reported_with_the_other_bad_fields(api):
    response = api.post(TOKENS, {"timeout": "soon", "display": {"a": "b"}}, format="json")
    assert set(response.json()["details"]) == {"timeout", "display.a"}


def test_sdk_takes_hints_and_validates_them(environment):
    created = wait.create_token(context={"amount": 5}, display=HINTS, environment="prod")
    assert wait.retrieve_token(created, environment="prod").display == HINTS
    with pytest.raises(InvalidInput) as raised:
        wait.create_token(display={"amount": "cash"}, environment="prod")
    assert set(raised.value.details) == {"display.amount"}
