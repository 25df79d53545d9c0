"""Issue 13, item 8: key revocation, signing secret rotation, the development SECRET_KEY,
production's browser policies and docs, and re-sending runs left QUEUED unclaimed."""

import stat
from datetime import timedelta

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.test import Client, override_settings
from django.utils import timezone

from config.settings import development_secret_key
from tests.helpers import TOKENS, path_of
from waitpoints import tasks
from waitpoints.models import ApiKey, Environment, Run, RunStatus
from waitpoints.runs.services.maintenance import runs_resend_unclaimed

pytestmark = pytest.mark.django_db


def test_revoke_api_key_by_prefix_answers_401_at_once(api, environment, capsys):
    assert api.get(TOKENS).status_code == 200
    key = ApiKey.objects.get(environment=environment)
    call_command("revoke_api_key", key.prefix)
    assert "Revoked" in capsys.readouterr().out
    response = api.get(TOKENS)
    assert response.status_code == 401 and response.json()["code"] == "api_key_revoked"
    with pytest.raises(CommandError):
        call_command("revoke_api_key", "wp_nope_123456")


def test_rotating_the_signing_secret_keeps_old_urls_working_for_the_grace_period(
    api, anonymous_api, create_token, environment
):
    old = create_token()
    other = create_token()
    call_command("rotate_signing_secret", "--environment", environment.slug, "--grace", "1h")
    environment.refresh_from_db()
    assert environment.previous_signing_secret
    new = create_token()
    assert path_of(new["url"]) != path_of(old["url"]).replace(old["id"], new["id"])
    # Handed out before the rotation: the callback URL and the public access token still work.
    assert anonymous_api.post(path_of(old["url"]), {}, format="json").status_code == 200
    public = anonymous_api.post(
        f"{TOKENS}/{other['id']}/complete",
        {"data": 1},
        format="json",
        HTTP_AUTHORIZATION=f"Bearer {other['publicAccessToken']}",
    )
    assert public.status_code == 200
    assert anonymous_api.post(path_of(new["url"]), {}, format="json").status_code == 200
    # After the grace period, the old secret is refused.
    late = create_token()
    late_url = path_of(late["url"])
    call_command("rotate_signing_secret", "--environment", environment.slug, "--grace", "0s")
    anonymous_api.raise_request_exception = False
    response = anonymous_api.post(late_url, {}, format="json")
    assert response.status_code == 401 and response.json()["code"] == "invalid_callback_hash"


def test_rotate_refuses_an_unknown_environment():
    with pytest.raises(CommandError):
        call_command("rotate_signing_secret", "--environment", "nope")


def test_admin_actions_revoke_keys_and_rotate_secrets(admin_client, environment, secret_key):
    secret_before = environment.signing_secret
    admin_client.post(
        "/admin/waitpoints/environment/",
        {"action": "rotate_signing_secret", "_selected_action": [environment.pk]},
    )
    environment.refresh_from_db()
    assert environment.signing_secret != secret_before
    assert environment.previous_signing_secret == secret_before
    key = ApiKey.objects.get(environment=environment)
    admin_client.post(
        "/admin/waitpoints/apikey/", {"action": "revoke_keys", "_selected_action": [key.pk]}
    )
    key.refresh_from_db()
    assert key.revoked_at is not None


# --- The development SECRET_KEY -----------------------------------------------------------------


def test_development_secret_key_is_random_kept_in_var_and_private(tmp_path):
    first = development_secret_key(tmp_path / "var" / "secret-key")
    again = development_secret_key(tmp_path / "var" / "secret-key")
    elsewhere = development_secret_key(tmp_path / "other" / "secret-key")
    assert first == again and first != elsewhere and len(first) >= 50
    mode = stat.S_IMODE((tmp_path / "var" / "secret-key").stat().st_mode)
    assert mode == 0o600


def test_the_running_settings_use_no_constant_key():
    assert settings.SECRET_KEY != "dev-only-insecure-key-never-use-in-production"
    assert len(settings.SECRET_KEY) >= 50


# --- Browser policies, API docs ----------------------------------------------------------------


def test_every_page_has_a_content_security_policy(reviewer_client):
    policy = reviewer_client.get("/dashboard/")["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert "unsafe-inline" not in policy.split("script-src")[1].split(";")[0]
    assert "Strict-Transport-Security" not in Client().get("/accounts/login/")  # opt-in


@override_settings(WAITPOINTS_API_DOCS="off")
def test_api_docs_can_be_turned_off():
    assert Client().get("/api/docs/").status_code == 404
    assert Client().get("/api/schema/").status_code == 404


@override_settings(WAITPOINTS_API_DOCS="login")
def test_api_docs_behind_a_staff_login(admin_client):
    assert Client().get("/api/docs/").status_code == 302
    assert Client().get("/api/schema/").status_code == 302
    assert admin_client.get("/api/docs/").status_code == 200
    assert admin_client.get("/api/schema/").status_code == 200


def test_production_defaults_hide_the_docs_and_the_browsable_api():
    from waitpoints.conf import from_environment

    # config/settings.py fills these defaults in for WAITPOINTS_ENV=production.
    values = from_environment({"WAITPOINTS_API_DOCS": "login", "WAITPOINTS_BROWSABLE_API": "0"})
    assert values["WAITPOINTS_API_DOCS"] == "login"
    assert values["WAITPOINTS_BROWSABLE_API"] is False


# --- Runs left QUEUED unclaimed -----------------------------------------------------------------


def test_a_queued_run_nobody_claims_is_resent_after_30s_with_a_doubling_wait(
    environment, django_capture_on_commit_callbacks
):
    triggered = tasks.trigger("test-echo", 1, environment=environment)
    run = Run.objects.get(id=triggered.id)
    queued_at = run.updated_at
    assert run.status == RunStatus.QUEUED

    def resend_at(seconds: float) -> int:
        with django_capture_on_commit_callbacks(execute=False):
            return runs_resend_unclaimed(now=queued_at + timedelta(seconds=seconds))

    assert resend_at(10) == 0  # a run just queued is left alone
    assert resend_at(31) == 1  # long before the 300 s lease
    assert resend_at(45) == 0  # not every tick: the wait doubles
    assert resend_at(61) == 0
    assert resend_at(93) == 1  # 31 s queued before the last send -> wait >= 31 s... then 62 s
    assert resend_at(130) == 0
    assert resend_at(190) == 1


def test_resend_skips_claimed_waiting_and_retrying_runs(environment):
    triggered = tasks.trigger("test-echo", 1, environment=environment)
    Run.objects.filter(id=triggered.id).update(status=RunStatus.EXECUTING)
    later = timezone.now() + timedelta(seconds=60)
    assert runs_resend_unclaimed(now=later) == 0
    Run.objects.filter(id=triggered.id).update(
        status=RunStatus.QUEUED, retry_at=timezone.now() + timedelta(seconds=50)
    )
    assert runs_resend_unclaimed(now=later) == 0


def test_environment_model_drops_the_previous_secret_after_its_expiry():
    environment = Environment(
        slug="x",
        signing_secret="new",
        previous_signing_secret="old",
        previous_signing_secret_expires_at=timezone.now() - timedelta(seconds=1),
    )
    assert environment.verifying_secrets() == ["new"]
