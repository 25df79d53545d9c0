"""The HTTP client sends display hints and reads them back."""


def test_create_with_display_hints(client):
    hints = {"amount": "money:EUR", "body": "markdown"}
    created = client.create_token(context={"amount": 9, "body": "*hi*"}, display=hints)
    assert client.retrieve_token(created.id).display == hints
