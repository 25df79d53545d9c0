"""factory_boy factories for the domain's tables."""

from datetime import timedelta

import factory
from django.utils import timezone

from waitpoints.core.ids import idempotency_key_hash
from waitpoints.models import Environment, Waitpoint, WaitpointTag


class EnvironmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Environment
        django_get_or_create = ("slug",)

    slug = factory.Sequence(lambda n: f"env{n}")
    name = factory.LazyAttribute(lambda o: o.slug.title())


class WaitpointFactory(factory.django.DjangoModelFactory):
    """A raw row, for reads and lists; behaviour tests create tokens through services."""

    class Meta:
        model = Waitpoint
        skip_postgeneration_save = True  # the tags hook writes its own rows

    environment = factory.SubFactory(EnvironmentFactory)
    timeout_at = factory.LazyFunction(lambda: timezone.now() + timedelta(hours=1))
    idempotency_key = None
    idempotency_key_hash = factory.LazyAttribute(
        lambda o: idempotency_key_hash(o.idempotency_key) if o.idempotency_key else None
    )

    @factory.post_generation
    def tags(self, create, extracted, **kwargs):
        for position, name in enumerate(extracted or []):
            WaitpointTag.objects.create(
                waitpoint=self, environment=self.environment, name=name, position=position
            )
