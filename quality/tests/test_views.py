"""The quality pages: review queue, lot page (results entry, refusal shown, signed release),
deviation pages, SPC chart with its SVG and violations."""

import re

import pytest
from django.urls import reverse

from genealogy.choices import LotStatus
from genealogy.tests.factories import received_lot
from mes.accounts.tests.factories import DEFAULT_PASSWORD
from mes.esign.models import Signature
from quality import services
from quality.models import Deviation, LabResult, LotDisposition
from quality.tests.factories import (
    FAILING_ASSAY,
    PASSING,
    CharacteristicFactory,
    lot_with_results,
    spec_test_named,
)

pytestmark = pytest.mark.django_db


def messages_of(response):
    return [str(m) for m in response.context["messages"]] if response.context else []


def test_review_queue_lists_quarantined_lots_and_open_deviations(client, spec, qa_user):
    lot = lot_with_results(spec=spec, values=FAILING_ASSAY, actor=qa_user, lot_number="Q-7")
    deviation = services.deviation_open(
        actor=qa_user, title="Assay OOS", description="d", lots=[lot]
    )
    client.force_login(qa_user)

    response = client.get(reverse("quality:review_queue"))

    html = response.content.decode()
    assert response.status_code == 200
    assert f'href="/quality/lots/{lot.pk}/">Q-7</a>' in html
    assert '<span class="badge badge-err">1 failing</span>' in html
    assert f">{deviation.number}</a>" in html
    assert "1 lot awaiting disposition · 1 open deviation · 0 overdue CAPA actions" in html


def test_operators_do_not_see_the_review_queue(client, operator):
    client.force_login(operator)

    assert client.get(reverse("quality:review_queue")).status_code == 403


def test_home_tile_for_qa(client, qa_user):
    client.force_login(qa_user)

    html = client.get(reverse("home")).content.decode()

    assert 'data-tile="quality.review_queue"' in html
    assert 'href="/quality/"' in html


def test_enter_results_on_the_lot_page_shows_the_failing_one(client, spec, qa_user):
    lot = received_lot(material=spec.material, lot_number="W-1")
    client.force_login(qa_user)
    page = client.get(reverse("quality:lot_detail", args=[lot.pk])).content.decode()
    names = re.findall(r'name="(r_\d+_1)"', page)
    assay = f"r_{spec_test_named(spec, 'Assay').pk}_1"
    water = f"r_{spec_test_named(spec, 'Water').pk}_1"
    identity = f"r_{spec_test_named(spec, 'Identity').pk}_1"
    assert names == [assay, water, identity]

    response = client.post(
        reverse("quality:lot_results_enter", args=[lot.pk]),
        {assay: "96.5", water: "0.2", identity: "pass"},
        follow=True,
    )

    html = response.content.decode()
    assert messages_of(response) == ["3 result(s) recorded; 1 out of specification."]
    assert html.count('data-testid="result-fail"') == 1
    assert "Lot W-1 has failing results (Assay sample 1 = 96.5 (limits 98–102 %))" in html
    assert LabResult.objects.filter(lot=lot).count() == 3


def test_release_refused_on_the_page_shows_the_reason_and_writes_nothing(client, spec, qa_user):
    lot = lot_with_results(spec=spec, values=FAILING_ASSAY, actor=qa_user, lot_number="W-2")
    client.force_login(qa_user)

    response = client.post(
        reverse("quality:lot_dispose", args=[lot.pk, "release"]),
        {"username": qa_user.username, "password": DEFAULT_PASSWORD, "reason": ""},
        follow=True,
    )

    assert messages_of(response) == [
        "Lot W-2 has failing results (Assay sample 1 = 96.5 (limits 98–102 %)): release needs an "
        "override signed by QA and linked to a deviation."
    ]
    lot.refresh_from_db()
    assert lot.status == LotStatus.QUARANTINE
    assert LotDisposition.objects.count() == 0
    assert Signature.objects.filter(meaning="released").count() == 0


def test_release_with_a_wrong_password_is_refused(client, spec, qa_user):
    lot = lot_with_results(spec=spec, values=PASSING, actor=qa_user, lot_number="W-3")
    client.force_login(qa_user)

    response = client.post(
        reverse("quality:lot_dispose", args=[lot.pk, "release"]),
        {"username": qa_user.username, "password": "wrong-password-1"},
        follow=True,
    )

    assert messages_of(response) == [
        "Wrong password; nothing was signed. Repeated failures lock your user ID."
    ]
    assert LotDisposition.objects.count() == 0


def test_signed_release_on_the_page(client, spec, qa_user):
    lot = lot_with_results(spec=spec, values=PASSING, actor=qa_user, lot_number="W-4")
    client.force_login(qa_user)

    response = client.post(
        reverse("quality:lot_dispose", args=[lot.pk, "release"]),
        {"username": qa_user.username, "password": DEFAULT_PASSWORD, "reason": "All pass"},
        follow=True,
    )

    html = response.content.decode()
    assert messages_of(response) == ["Lot W-4: released (signed)."]
    assert 'data-testid="lot-status">Released</span>' in html
    assert "Quinn QA</strong>" in html
    assert '<span class="sig-meaning">Released</span>' in html


def test_override_request_and_sign_on_the_page(client, spec, qa_user, qa_user2):
    lot = lot_with_results(spec=spec, values=FAILING_ASSAY, actor=qa_user, lot_number="W-5")
    client.force_login(qa_user)
    response = client.post(
        reverse("quality:deviation_new") + f"?lot={lot.pk}",
        {"title": "Assay OOS W-5", "description": "Assay 96.5 %", "lot": lot.pk},
        follow=True,
    )
    deviation = Deviation.objects.get(title="Assay OOS W-5")
    assert messages_of(response) == [f"{deviation.number} opened."]
    response = client.post(
        reverse("quality:lot_override_request", args=[lot.pk]),
        {"deviation": deviation.pk, "justification": "Reference standard degraded"},
        follow=True,
    )
    override = lot_override(lot)
    assert messages_of(response) == [
        f"Override #{override.pk} requested: another QA reviewer must sign it."
    ]
    assert "Another QA reviewer must sign this override." in response.content.decode()

    client.force_login(qa_user2)
    response = client.post(
        reverse("quality:override_sign", args=[override.pk]),
        {"username": qa_user2.username, "password": DEFAULT_PASSWORD},
        follow=True,
    )

    assert messages_of(response) == [f"Override #{override.pk} signed."]
    assert 'data-testid="release-ready"' in response.content.decode()


def lot_override(lot):
    from quality.models import ReleaseOverride

    return ReleaseOverride.objects.get(lot=lot)


def test_deviation_close_on_the_page_refused_with_open_capa(client, qa_user, supervisor):
    deviation = services.deviation_open(actor=qa_user, title="Leak", description="d")
    services.deviation_classify(actor=qa_user, deviation=deviation, classification="major")
    services.deviation_investigate(
        actor=qa_user, deviation=deviation, investigation="i", root_cause="r"
    )
    client.force_login(qa_user)
    added = client.post(
        reverse("quality:deviation_add_capa", args=[deviation.pk]),
        {
            "kind": "corrective",
            "description": "Fix",
            "owner": supervisor.pk,
            "due_at": "2099-01-01",
        },
        follow=True,
    )
    action = deviation.capa_actions.get()
    assert messages_of(added) == [f"{action.number} added, owner Sam Supervisor."]

    response = client.post(
        reverse("quality:deviation_close", args=[deviation.pk]),
        {"username": qa_user.username, "password": DEFAULT_PASSWORD, "reason": "Done"},
        follow=True,
    )

    [message] = messages_of(response)
    assert message.startswith(f"{deviation.number} is major: its CAPA actions must be completed")
    deviation.refresh_from_db()
    assert deviation.status == "investigation"


def test_deviation_pages_render(client, qa_user, operator):
    deviation = services.deviation_open(actor=operator, title="Spill", description="d")
    client.force_login(operator)

    assert client.get(reverse("quality:deviation_list")).status_code == 200
    detail = client.get(reverse("quality:deviation_detail", args=[deviation.pk]))
    assert detail.status_code == 200
    assert 'data-testid="classify-form"' not in detail.content.decode()  # operators report only
    client.force_login(qa_user)
    assert (
        'data-testid="classify-form"'
        in client.get(reverse("quality:deviation_detail", args=[deviation.pk])).content.decode()
    )


def test_spc_chart_page_draws_the_svg_and_offers_a_deviation(client, qa_user, operator):
    CharacteristicFactory(key="temp", name="Jacket temp", baseline_size=8)
    for value in [10.0, 10.2, 9.9, 10.1, 10.0, 9.8, 10.1, 10.0, 13.0]:
        services.spc_record_value(actor=operator, characteristic_key="temp", value=value)
    client.force_login(qa_user)

    response = client.get(reverse("quality:spc_chart", args=["temp"]))

    html = response.content.decode()
    assert response.status_code == 200
    assert html.count("<circle ") == 9 + 8  # values, and the moving ranges from point 2
    assert html.count('data-flagged="1"') == 1
    assert 'data-point="9" data-flagged="1"' in html
    assert "1: One point beyond 3σ (outside the control limits)" in html

    response = client.post(
        reverse("quality:spc_open_deviation", args=["temp"]),
        {"point": 8, "rules": "1"},
        follow=True,
    )

    deviation = Deviation.objects.get(source_kind="spc")
    assert messages_of(response) == [f"{deviation.number} opened."]
    assert deviation.source_url == "/quality/spc/temp/"


def test_specification_pages(client, spec, qa_user):
    client.force_login(qa_user)

    assert client.get(reverse("quality:specification_list")).status_code == 200
    html = client.get(reverse("quality:specification_detail", args=[spec.pk])).content.decode()
    assert "<td>Assay</td><td>HPLC</td><td>98–102 %</td>" in html


@pytest.mark.parametrize(
    "model",
    [
        "specification",
        "labresult",
        "lotdisposition",
        "deviation",
        "nonconformance",
        "characteristic",
    ],
)
def test_admin_lists_are_read_only(client, spec, qa_user, model):
    from mes.accounts.tests.factories import UserFactory

    lot_with_results(spec=spec, values=PASSING, actor=qa_user, lot_number="ADM-1")
    services.deviation_open(actor=qa_user, title="t", description="d")
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))

    listing = client.get(f"/admin/quality/{model}/")
    adding = client.get(f"/admin/quality/{model}/add/")

    assert listing.status_code == 200
    assert adding.status_code == 403


def test_query_budgets_do_not_grow_with_the_lots(
    client, spec, qa_user, django_assert_max_num_queries
):
    lots = [
        lot_with_results(spec=spec, values=FAILING_ASSAY, actor=qa_user, lot_number=f"QB-{i}")
        for i in range(20)
    ]
    client.force_login(qa_user)
    client.get(reverse("quality:lot_detail", args=[lots[0].pk]))  # compile the templates

    with django_assert_max_num_queries(15):
        page = client.get(reverse("quality:lot_detail", args=[lots[0].pk]))
    with django_assert_max_num_queries(13):
        queue = client.get(reverse("quality:review_queue"))

    assert page.status_code == 200
    assert queue.content.decode().count('<span class="badge badge-err">1 failing</span>') == 20
