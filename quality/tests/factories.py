"""Factories of quality. Quality records are made THROUGH the services (a specification's
approval is a signature; a result is evaluated at entry), the way the plant makes them."""

from decimal import Decimal
from typing import Any

import factory
from django.test import RequestFactory

from genealogy.models import Lot
from genealogy.tests.factories import MaterialFactory, received_lot
from mes.accounts.tests.factories import DEFAULT_PASSWORD, UserFactory
from mes.esign.services import AuthenticatedSigner, signer_authenticate
from quality import services
from quality.choices import SamplingBasis, TestKind
from quality.models import Characteristic, Specification

DEFAULT_TESTS = (
    {"name": "Assay", "unit": "%", "method": "HPLC", "low": "98.0", "high": "102.0"},
    {"name": "Water", "unit": "%", "method": "Karl Fischer", "high": "0.5"},
    {"name": "Identity", "method": "IR", "kind": TestKind.PASS_FAIL},
)


def sign_as(user: Any, password: str = DEFAULT_PASSWORD) -> AuthenticatedSigner:
    """What a view does: the user enters user ID and password (outside any transaction)."""
    request = RequestFactory().post("/quality/sign/", REMOTE_ADDR="10.1.2.3")
    request.user = user
    return signer_authenticate(
        request=request, actor=user, username=user.get_username(), password=password
    )


def qa_people() -> tuple[Any, Any]:
    """Two QA reviewers (an author and an approver: four eyes)."""
    author = UserFactory(username="spec.author", roles=["QA Reviewer"], full_name="Spec Author")
    approver = UserFactory(
        username="spec.approver", roles=["QA Reviewer"], full_name="Spec Approver"
    )
    return author, approver


def approved_spec(
    *,
    material: Any = None,
    tests: Any = DEFAULT_TESTS,
    sample_count: int = 1,
    sampling_basis: str = SamplingBasis.PER_LOT,
    title: str = "Release specification",
) -> Specification:
    author, approver = qa_people()
    spec = services.specification_create(
        actor=author,
        material=material or MaterialFactory(),
        title=title,
        tests=tests,
        sample_count=sample_count,
        sampling_basis=sampling_basis,
    )
    return services.specification_approve(
        actor=approver, specification=spec, signer=sign_as(approver)
    )


def spec_test_named(spec: Specification, name: str) -> Any:
    return spec.tests.get(name=name)


def enter_results(lot: Lot, spec: Specification, values: dict[str, Any], *, actor: Any) -> list:
    """One result per test (sample 1), through the service."""
    return [
        services.lab_result_enter(
            actor=actor, lot=lot, spec_test=spec_test_named(spec, name), value=value
        )
        for name, value in values.items()
    ]


PASSING = {"Assay": "99.8", "Water": "0.2", "Identity": "pass"}
FAILING_ASSAY = {"Assay": "96.5", "Water": "0.2", "Identity": "pass"}


def lot_with_results(
    *, spec: Specification, values: dict[str, Any], actor: Any, quantity: Any = "100", **kwargs: Any
) -> Lot:
    lot = received_lot(material=spec.material, quantity=Decimal(str(quantity)), **kwargs)
    enter_results(lot, spec, values, actor=actor)
    return lot


class CharacteristicFactory(factory.django.DjangoModelFactory):
    """Master data of SPC (a plain row: no workflow, no signature)."""

    class Meta:
        model = Characteristic
        django_get_or_create = ("key",)

    key = factory.Sequence(lambda n: f"char-{n:03d}")
    name = factory.LazyAttribute(lambda o: f"Characteristic {o.key}")
    unit = "mPa·s"
    subgroup_size = 1
    created_by = factory.SubFactory(UserFactory, username="spc.owner")
