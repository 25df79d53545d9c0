import pytest
from django.contrib.auth.models import Group, User

from tests.helpers import TOKENS


@pytest.fixture
def people(db):
    """anna and ben (group "finance"), carl (no group), dora the requester."""
    finance = Group.objects.create(name="finance")
    users = {
        name: User.objects.create_user(name, email=f"{name}@example.com")
        for name in ("anna", "ben", "carl", "dora")
    }
    users["anna"].groups.add(finance)
    users["ben"].groups.add(finance)
    return users


@pytest.fixture
def vote(api):
    def post(token, reviewer, choice="approved", client=None, **extra):
        body = {"reviewer": reviewer, "choice": choice, **extra}
        return (client or api).post(f"{TOKENS}/{token['id']}/reviews", body, format="json")

    return post
