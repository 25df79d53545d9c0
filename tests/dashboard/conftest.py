"""Dashboard fixtures: a reviewer (in the "Reviewers" group), a read-only viewer, tokens."""

import pytest
from django.contrib.auth.models import Group, Permission, User
from django.test import Client

from waitpoints.tokens.services.create import token_create


def reviewers_group() -> Group:
    """The migration's group; transactional tests flush it, so recreate it the same way."""
    group, _ = Group.objects.get_or_create(name="Reviewers")
    group.permissions.add(
        Permission.objects.get(content_type__app_label="waitpoints", codename="complete_waitpoint")
    )
    return group


@pytest.fixture
def reviewer(db):
    user = User.objects.create_user("alice", password="pw-alice-123")
    user.groups.add(reviewers_group())
    return user


@pytest.fixture
def viewer(db):
    return User.objects.create_user("victor", password="pw-victor-123")


@pytest.fixture
def reviewer_client(reviewer):
    client = Client()
    client.force_login(reviewer)
    return client


@pytest.fixture
def viewer_client(viewer):
    client = Client()
    client.force_login(viewer)
    return client


@pytest.fixture
def make_token(environment):
    def make(**fields):
        fields.setdefault("timeout", "1h")
        env = fields.pop("environment", environment)
        return token_create(environment=env, **fields).waitpoint

    return make
