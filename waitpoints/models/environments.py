"""Environments (dev, staging, prod, …) and their hashed API keys."""

from django.db import models
from django.utils import timezone

from waitpoints.core.ids import new_signing_secret


class Environment(models.Model):
    slug = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    # Signs callback URL hashes and public access tokens of this environment only.
    signing_secret = models.CharField(max_length=128, default=new_signing_secret, editable=False)
    # After a rotation the previous secret still verifies (never signs) until it expires, so
    # callback URLs and public access tokens handed out before keep working for a grace period.
    previous_signing_secret = models.CharField(max_length=128, blank=True, editable=False)
    previous_signing_secret_expires_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return self.slug

    def verifying_secrets(self, now=None) -> list[str]:
        """The secrets a callback hash or public access token may be signed with: the current
        one, then the previous one during its grace period."""
        secrets = [self.signing_secret]
        expires_at = self.previous_signing_secret_expires_at
        if self.previous_signing_secret and expires_at and expires_at > (now or timezone.now()):
            secrets.append(self.previous_signing_secret)
        return secrets


class ApiKey(models.Model):
    environment = models.ForeignKey(Environment, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=200, blank=True)
    prefix = models.CharField(max_length=40, help_text="Shown in the UI to recognise the key.")
    secret_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.environment.slug})"

    @property
    def actor_name(self) -> str:
        """Who acted, in audit trails: the key's name, never its prefix (part of the secret)."""
        return f"API key '{self.name}'" if self.name else f"API key #{self.pk}"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None
