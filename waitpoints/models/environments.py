"""Environments (dev, staging, prod, …) and their hashed API keys."""

from django.db import models
from django.utils import timezone

from waitpoints.core.ids import new_signing_secret


class Environment(models.Model):
    slug = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    # Signs callback URL hashes and public access tokens of this environment only.
    signing_secret = models.CharField(max_length=128, default=new_signing_secret, editable=False)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return self.slug


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
    def is_active(self) -> bool:
        return self.revoked_at is None
