"""Factories for e-signature tests. Signed records are equipment Sites (a stable GMP model);
they are referenced by label so the kernel does not import a plant app."""

import factory
from django.contrib.contenttypes.models import ContentType

from mes.accounts.tests.factories import UserFactory
from mes.esign.hashing import HASH_ALG
from mes.esign.models import Meaning, Signature


class SiteFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "equipment.Site"

    code = factory.Sequence(lambda n: f"S{n:03d}")
    name = factory.LazyAttribute(lambda o: f"Site {o.code}")


class SignatureFactory(factory.django.DjangoModelFactory):
    """A raw signature row (bypasses the service): for tests of tampering and validity."""

    class Meta:
        model = Signature

    class Params:
        record = None

    content_type = factory.LazyAttribute(
        lambda o: ContentType.objects.get_for_model(type(o.record))
    )
    object_id = factory.LazyAttribute(lambda o: str(o.record.pk))
    signer = factory.SubFactory(UserFactory)
    printed_name = factory.LazyAttribute(lambda o: o.signer.printed_name)
    username = factory.LazyAttribute(lambda o: o.signer.username)
    meaning = Meaning.APPROVED
    record_hash = "0" * 64
    hash_alg = HASH_ALG
