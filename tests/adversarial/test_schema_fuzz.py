"""Schema fuzzing: schemathesis drives every operation of our own OpenAPI schema (/api/schema/).

Valid and invalid inputs (positive and negative generation) against PostgreSQL: never a 5xx,
every status code, content type and body as documented, and invalid input is rejected.
Bounded: a fixed number of examples per operation, so the suite stays fast.
"""

import os
import zlib

import pytest
import schemathesis
from django.core import signals
from django.db import close_old_connections
from hypothesis import HealthCheck, settings

from config.wsgi import application
from tests.runs import tasks_for_tests  # noqa: F401  (registers test-echo)
from waitpoints.runs.services.trigger import run_trigger
from waitpoints.tokens.callbacks import callback_hash
from waitpoints.tokens.services.create import token_create

MAX_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "40"))


# Loaded through the WSGI app from the schema endpoint itself (serving it needs no database).
schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", application)


@pytest.fixture(autouse=True)
def keep_the_test_connection(db):
    # As Django's test client does: the WSGI handler must not close the test's connection
    # (and with it the transaction every example runs in) when a request finishes.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def real_runs(environment):
    def make():
        return run_trigger(environment=environment, task_id="test-echo", payload={"n": 1})

    return make


@pytest.fixture
def real_tokens(environment):
    """Fresh tokens to aim at: most fuzzed ids are unknown (404), these reach the storage."""

    def make():
        return token_create(environment=environment, tags=["fuzz"]).waitpoint

    return make


def generated_negative(case, location: str) -> bool:
    component = case.meta.components.get(location) if case.meta else None
    return component is not None and component.mode == schemathesis.GenerationMode.NEGATIVE


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=not os.environ.get("FUZZ_EXAMPLES"),
)
def test_every_operation_answers_as_documented(case, secret_key, real_tokens, real_runs):
    parameters = case.path_parameters or {}
    aim_at_real_token = "token_id" in parameters and not generated_negative(case, "path")
    if aim_at_real_token and zlib.crc32(parameters["token_id"].encode()) % 4 != 0:
        token = real_tokens()
        parameters["token_id"] = token.id
        if "callback_hash" in parameters:
            parameters["callback_hash"] = callback_hash(token)

    def aim(name: str) -> bool:
        return (
            name in parameters
            and not generated_negative(case, "path")
            and zlib.crc32(parameters[name].encode()) % 4 != 0
        )

    if aim("task_id"):
        parameters["task_id"] = "test-echo"
    if aim("run_id"):
        parameters["run_id"] = real_runs().id
    # A case that drops the Authorization header on purpose must go out without it.
    headers = (
        {} if generated_negative(case, "header") else {"Authorization": f"Bearer {secret_key}"}
    )
    case.call_and_validate(
        headers=headers,
        # "Schema-valid" values can still be refused on their meaning (a date in the past, an
        # unparsable duration): the schema describes shapes, the 422 names the reason.
        excluded_checks=[schemathesis.checks.positive_data_acceptance],
    )
